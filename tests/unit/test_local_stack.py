"""Reading and translating SAM templates for the local runtime, offline (no emulator)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from herald_tools.local.stack import (
    CODE_BUCKET,
    DeployError,
    EventSource,
    LocalFunction,
    LocalStack,
    code_key,
    event_source_from_mapping,
    load_template,
    local_code_dirs,
    translate_template,
    translated_mapping_properties,
    zip_folder,
)

TEST_TEMPLATE = Path(__file__).resolve().parents[1] / "integration" / "data" / "template.yaml"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:work"


def test_short_form_intrinsics_and_dates_load_as_cloudformation_json(tmp_path):
    # Given a template with short-form tags and an unquoted date
    path = tmp_path / "t.yaml"
    path.write_text(
        "AWSTemplateFormatVersion: 2010-09-09\n"
        "Resources:\n"
        "  Q:\n"
        "    Type: AWS::SQS::Queue\n"
        "    Properties:\n"
        "      A: !Ref Stage\n"
        "      B: !GetAtt Dlq.Arn\n"
        "      C: !Sub '${AWS::StackName}-x'\n"
        "      D: !If [IsProd, 1, 2]\n"
        "      E: !GetAtt [Dlq, QueueName]\n"
        "      F: !Join ['', [a, !Ref B]]\n"
    )
    # When it is loaded
    template = load_template(path)
    # Then the tags are CloudFormation's long forms and the date stays a string
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"
    assert template["Resources"]["Q"]["Properties"] == {
        "A": {"Ref": "Stage"},
        "B": {"Fn::GetAtt": ["Dlq", "Arn"]},
        "C": {"Fn::Sub": "${AWS::StackName}-x"},
        "D": {"Fn::If": ["IsProd", 1, 2]},
        "E": {"Fn::GetAtt": ["Dlq", "QueueName"]},
        "F": {"Fn::Join": ["", ["a", {"Ref": "B"}]]},
    }


def test_a_file_without_resources_is_rejected(tmp_path):
    # Given a YAML file that is not a template
    path = tmp_path / "t.yaml"
    path.write_text("hello: world\n")
    # Then loading it says so
    with pytest.raises(DeployError, match="no Resources"):
        load_template(path)


def test_local_code_uris_come_from_the_function_or_globals_and_s3_ones_are_left_alone(tmp_path):
    # Given functions with their own, the global, an S3 and an inline code location
    template = {
        "Globals": {"Function": {"CodeUri": "src/"}},
        "Resources": {
            "Own": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "other"}},
            "Global": {"Type": "AWS::Serverless::Function", "Properties": {}},
            "S3": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": "s3://b/k.zip"}},
            "Inline": {"Type": "AWS::Serverless::Function", "Properties": {"InlineCode": "x"}},
            "Queue": {"Type": "AWS::SQS::Queue"},
        },
    }
    # When the local folders are listed
    dirs = local_code_dirs(template, tmp_path)
    # Then only the local ones appear, resolved against the template's folder
    assert dirs == {"Own": (tmp_path / "other").resolve(), "Global": (tmp_path / "src").resolve()}


def test_without_any_code_uri_the_template_folder_is_the_code(tmp_path):
    template = {"Resources": {"F": {"Type": "AWS::Serverless::Function", "Properties": {}}}}
    assert local_code_dirs(template, tmp_path) == {"F": tmp_path.resolve()}


def test_the_test_template_translates_offline_with_its_mappings_and_s3_code():
    # Given the integration tests' SAM template
    # When it is translated (no AWS configuration, no network)
    translated = translate_template(TEST_TEMPLATE, {"Stage": "unit"})
    resources = translated["Resources"]
    # Then the functions' code points at the uploaded zip of their CodeUri folder
    handlers = TEST_TEMPLATE.parent / "handlers"
    expected_code = {"S3Bucket": CODE_BUCKET, "S3Key": code_key(handlers)}
    assert resources["RecorderFunction"]["Properties"]["Code"] == expected_code
    assert resources["PlainFunction"]["Properties"]["Code"] == expected_code
    # And the SQS events became event source mappings carrying every setting
    work = translated_mapping_properties(translated, "RecorderFunction", "WorkQueue")
    assert work["BatchSize"] == 5
    assert work["MaximumBatchingWindowInSeconds"] == 1
    assert work["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert work["ScalingConfig"] == {"MaximumConcurrency": 2}
    assert translated_mapping_properties(translated, "PlainFunction", "PlainQueue")["BatchSize"] == 2
    assert translated_mapping_properties(translated, "PlainFunction", "WorkQueue") == {}


def test_an_invalid_sam_template_fails_translation_with_samtranslators_reasons(tmp_path):
    # Given a serverless function with an SQS event that names no queue
    path = tmp_path / "t.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\n"
        "Resources:\n"
        "  F:\n"
        "    Type: AWS::Serverless::Function\n"
        "    Properties: {Runtime: python3.11, Handler: a.b, CodeUri: ., Events: {E: {Type: SQS, Properties: {}}}}\n"
    )
    # Then translating it fails, saying which resource and why
    with pytest.raises(
        DeployError, match=r"cannot translate .*Resource with id \[FE\] is invalid. Missing required property 'Queue'"
    ):
        translate_template(path)


def test_what_the_emulator_drops_from_a_mapping_comes_from_the_translated_template():
    # Given a mapping as an emulator might list it, without ScalingConfig or FunctionResponseTypes
    translated = {
        "Resources": {
            "FnWork": {
                "Type": "AWS::Lambda::EventSourceMapping",
                "Properties": {
                    "FunctionName": {"Ref": "Fn"},
                    "EventSourceArn": {"Fn::GetAtt": ["WorkQueue", "Arn"]},
                    "BatchSize": 7,
                    "ScalingConfig": {"MaximumConcurrency": 3},
                    "FunctionResponseTypes": ["ReportBatchItemFailures"],
                },
            }
        }
    }
    listed = {"EventSourceArn": QUEUE_ARN, "BatchSize": 4, "State": "Enabled"}
    # When it becomes an event source
    source = event_source_from_mapping(listed, "Fn", translated, {QUEUE_ARN: ("WorkQueue", "http://q")})
    # Then the emulator's values win where it has them, and the template fills the rest
    assert source == EventSource(
        queue_arn=QUEUE_ARN,
        queue_url="http://q",
        batch_size=4,
        max_concurrency=3,
        batching_window_seconds=0,
        report_batch_item_failures=True,
        enabled=True,
    )


def test_non_sqs_sources_and_queues_outside_the_stack_are_not_polled():
    kinesis = {"EventSourceArn": "arn:aws:kinesis:us-east-1:123456789012:stream/s", "State": "Enabled"}
    assert event_source_from_mapping(kinesis, "Fn", {}, {}) is None
    assert event_source_from_mapping({"EventSourceArn": QUEUE_ARN, "State": "Enabled"}, "Fn", {}, {}) is None


def test_a_disabled_mapping_is_a_disabled_source():
    listed = {"EventSourceArn": QUEUE_ARN, "State": "Disabled"}
    source = event_source_from_mapping(listed, "Fn", {}, {QUEUE_ARN: ("Q", "http://q")})
    assert source is not None
    assert source.enabled is False
    assert source.batch_size == 10


def test_a_code_zip_holds_the_folder_without_caches(tmp_path):
    # Given a code folder with a module, a package, and caches
    (tmp_path / "pkg" / "__pycache__").mkdir(parents=True)
    (tmp_path / "app.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "stale.pyc").write_bytes(b"\0")
    # When it is zipped
    names = zipfile.ZipFile(io.BytesIO(zip_folder(tmp_path))).namelist()
    # Then paths are relative to the folder and no cache is included
    assert sorted(names) == ["app.py", "pkg/__init__.py"]


def test_zipping_a_missing_code_folder_fails_clearly(tmp_path):
    with pytest.raises(DeployError, match="does not exist"):
        zip_folder(tmp_path / "missing")


def test_code_keys_are_stable_per_folder_and_distinct_across_folders(tmp_path):
    assert code_key(tmp_path / "a") == code_key(tmp_path / "a")
    assert code_key(tmp_path / "a") != code_key(tmp_path / "b" / "a")


def test_a_local_function_survives_its_json_form():
    # Given a function with an event source
    function = LocalFunction(
        logical_id="Fn",
        name="stack-Fn-1",
        handler="mod.handle",
        timeout=30,
        memory_mb=512,
        environment={"A": "1"},
        event_sources=(EventSource(QUEUE_ARN, "http://q", 10, 2, 1, True, True),),
        code_dir="/code",
    )
    # Then to_json/from_json is an identity (the worker receives it this way)
    assert LocalFunction.from_json(function.to_json()) == function


def test_a_stack_names_its_queues_and_functions_or_says_what_it_has():
    stack = LocalStack(name="s", outputs={}, functions=(), queues={"Q": "http://q"})
    assert stack.queue_url("Q") == "http://q"
    with pytest.raises(KeyError, match="queues: Q"):
        stack.queue_url("Nope")
    with pytest.raises(KeyError, match="no function 'Fn'"):
        stack.function("Fn")
