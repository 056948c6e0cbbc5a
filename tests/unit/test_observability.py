"""Logs mask personal data; tracing costs nothing unless it is switched on."""

from __future__ import annotations

import io
import json
import logging
import sys
from typing import Any

import pytest

from herald.observability import MaskingFormatter, traced


def test_log_lines_mask_emails_and_phones_everywhere() -> None:
    # Given a Powertools logger with Herald's formatter writing to a buffer
    from aws_lambda_powertools import Logger

    stream = io.StringIO()
    logger = Logger(
        service="mask-test", logger_formatter=MaskingFormatter(), logger_handler=logging.StreamHandler(stream)
    )

    # When a message, an extra key and an exception all quote a recipient
    try:
        raise ValueError("Twilio refused +14155552671")
    except ValueError:
        logger.exception("failed for jane.doe@example.com", extra={"to": "+14155552671"})

    # Then the line is still JSON, and neither address is readable anywhere in it
    line = stream.getvalue()
    json.loads(line)
    assert "jane.doe@example.com" not in line
    assert "4155552671" not in line
    assert "j***@example.com" in line


def test_tracer_is_not_imported_when_tracing_is_off(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given tracing switched off and the X-Ray SDK not loaded
    monkeypatch.setenv("HERALD_TRACING", "false")
    monkeypatch.delitem(sys.modules, "aws_xray_sdk", raising=False)
    calls: list[Any] = []
    handler = traced(lambda event, context: calls.append(event) or {"ok": True})

    # When the handler runs
    result = handler({"n": 1}, None)

    # Then it ran as it is, and nothing imported the X-Ray SDK
    assert result == {"ok": True}
    assert calls == [{"n": 1}]
    assert "aws_xray_sdk" not in sys.modules
