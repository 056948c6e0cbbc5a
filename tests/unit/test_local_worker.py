"""The local sandbox's pure parts: handler loading, the Lambda context and timeout, the worker's environment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from herald_tools.local import worker
from herald_tools.local.runtime import LocalRuntime
from herald_tools.local.stack import EventSource, LocalFunction
from herald_tools.local.worker import InvocationTimedOut, load_handler, make_invoke


def function(**overrides: Any) -> LocalFunction:
    settings: dict[str, Any] = {
        "logical_id": "SendSms",
        "name": "herald-SendSms-ABC",
        "handler": "json.dumps",
        "timeout": 10,
        "memory_mb": 256,
        "environment": {"HERALD_TABLE_NAME": "t", "AWS_REGION": "eu-west-1"},
        "event_sources": (EventSource("arn:aws:sqs:us-east-1:1:q", "http://q", 10, None, 0, True, True),),
        "code_dir": "/code/functions",
    }
    settings.update(overrides)
    return LocalFunction(**settings)


def test_a_handler_setting_names_a_module_attribute():
    import json

    assert load_handler("json.dumps") is json.dumps
    with pytest.raises(ValueError, match=r"module\.function"):
        load_handler("handler")
    with pytest.raises(TypeError, match="not callable"):
        load_handler("json.decoder.NaN")
    with pytest.raises(ModuleNotFoundError):
        load_handler("no_such_module_here.handle")


def test_each_invocation_gets_a_lambda_context_with_its_own_request_id_and_deadline():
    # Given a function with a 10 s timeout whose handler keeps its context
    contexts: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        contexts.append(context)
        return {"seen": len(event["Records"])}

    invoke = make_invoke(function(), handler, "us-east-1")
    # When it is invoked twice
    assert invoke({"Records": [{}, {}]}) == {"seen": 2}
    invoke({"Records": []})
    # Then the context describes the function, and each invocation has its own request id
    first, second = contexts
    assert first.function_name == "herald-SendSms-ABC"
    assert first.function_version == "$LATEST"
    assert first.memory_limit_in_mb == 256
    assert first.invoked_function_arn == "arn:aws:lambda:us-east-1:123456789012:function:herald-SendSms-ABC"
    assert first.log_group_name == "/aws/lambda/herald-SendSms-ABC"
    assert first.aws_request_id != second.aws_request_id
    assert 9_000 < second.get_remaining_time_in_millis() <= 10_000


def test_a_handler_that_overruns_its_timeout_fails_the_invocation(monkeypatch):
    # Given a clock, and a handler that takes 3 s of it on a 2 s function
    now = [100.0]
    monkeypatch.setattr(worker.time, "monotonic", lambda: now[0])
    remaining: list[int] = []

    def slow(event: dict[str, Any], context: Any) -> None:
        now[0] += 1.5
        remaining.append(context.get_remaining_time_in_millis())
        now[0] += 1.5
        remaining.append(context.get_remaining_time_in_millis())

    invoke = make_invoke(function(timeout=2), slow, "us-east-1")
    # When it is invoked
    # Then the invocation fails as Lambda's would, and the context counted down to zero
    with pytest.raises(InvocationTimedOut, match=r"timed out after 2\.00 seconds"):
        invoke({"Records": []})
    assert remaining == [500, 0]


def test_the_sandbox_environment_layers_function_emulator_and_overrides_and_hides_the_parents_aws(
    monkeypatch, tmp_path
):
    # Given a parent with its own AWS profile and a HERALD setting
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("HERALD_TABLE_NAME", "from-the-parent-shell")
    runtime = LocalRuntime(
        Path("template.yaml"),
        extra_env={"HERALD_SENDGRID_API_HOST": "http://127.0.0.1:9"},
        log_dir=tmp_path,
        pythonpath=[tmp_path / "extra"],
    )
    emulator_env = {"AWS_ENDPOINT_URL": "http://127.0.0.1:5555", "AWS_REGION": "us-east-1"}
    monkeypatch.setattr(runtime.aws, "environment", lambda: emulator_env)
    # When a function's sandbox environment is built
    env = runtime.worker_environment(function())
    # Then it has the function's variables, the emulator's (over the function's AWS_REGION) and the overrides
    assert env["HERALD_TABLE_NAME"] == "t"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:5555"
    assert env["AWS_REGION"] == "us-east-1"
    assert env["HERALD_SENDGRID_API_HOST"] == "http://127.0.0.1:9"
    # And Lambda's own variables
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "herald-SendSms-ABC"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["_HANDLER"] == "json.dumps"
    assert env["LAMBDA_TASK_ROOT"] == "/code/functions"
    # And nothing of the parent's AWS configuration
    assert "AWS_PROFILE" not in env
    # And the extra paths, then the task root, are importable
    paths = env["PYTHONPATH"].split(":")
    assert paths[:2] == [str(tmp_path / "extra"), "/code/functions"]
