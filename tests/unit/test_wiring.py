"""Composition roots: built on the first invocation from the function's settings, forgotten by one reset, and
decorated from outside only (the local runtime's Twilio test numbers, fault injection)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from herald.config import ConfigurationError, DispatchSettings
from herald.domain.phone import PhoneNotUsable, to_e164
from herald.handlers import dispatch, wiring
from herald_tools.local.ports import install_local_ports

TWILIO_TEST_NUMBER = "+15005550006"


@pytest.fixture
def dispatch_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Building a client needs a region and credentials, never a request: no AWS is called here.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("HERALD_EMAIL_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/email")
    monkeypatch.setenv("HERALD_SMS_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/sms")
    wiring.reset()
    yield
    wiring.reset()


def test_productions_phone_rule_refuses_a_twilio_test_number_and_the_local_wiring_accepts_it() -> None:
    # Given the phone rule a root offers to decorators, without any installed (production)
    # When it reads Twilio's test number; Then it is refused
    with pytest.raises(PhoneNotUsable):
        wiring.port(wiring.PORT_PHONE_RULE, to_e164)(TWILIO_TEST_NUMBER, None)
    # Given the local runtime's ports installed
    uninstall = install_local_ports()
    try:
        local = wiring.port(wiring.PORT_PHONE_RULE, to_e164)
        # Then the test number is accepted, a real number is read as before, and a bad one is still refused
        assert local(TWILIO_TEST_NUMBER, None) == TWILIO_TEST_NUMBER
        assert local("(415) 555-2671", "US") == "+14155552671"
        with pytest.raises(PhoneNotUsable):
            local("555-555-SHIP", "US")
    finally:
        uninstall()
    # And once uninstalled, the rule is production's again
    with pytest.raises(PhoneNotUsable):
        wiring.port(wiring.PORT_PHONE_RULE, to_e164)(TWILIO_TEST_NUMBER, None)


def test_the_dispatch_root_is_built_on_first_use_offers_its_phone_rule_and_is_rebuilt_after_a_reset(
    dispatch_env: None,
) -> None:
    # Given a decorator that records the ports it is offered
    offered: list[tuple[str, Any]] = []

    def record(name: str, port: Any) -> Any:
        offered.append((name, port))
        return port

    uninstall = wiring.decorate_ports(record)
    try:
        # When the dispatch function is invoked twice, then in a new sandbox
        first, again = dispatch.root(), dispatch.root()
        wiring.reset()
        fresh = dispatch.root()
    finally:
        uninstall()
    # Then its graph was built once per sandbox, each time offering production's phone rule
    assert first is again
    assert fresh is not first
    assert offered == [(wiring.PORT_PHONE_RULE, to_e164)] * 2


def test_a_missing_queue_url_fails_the_first_invocation_naming_the_variable(
    dispatch_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a dispatch function deployed without its SMS queue URL
    monkeypatch.delenv("HERALD_SMS_QUEUE_URL")
    # When its root is built (the first invocation); Then it fails with the variable's name
    with pytest.raises(ConfigurationError, match=r"dispatch function.*HERALD_SMS_QUEUE_URL is required"):
        dispatch.root()


def test_an_invalid_value_is_refused_with_its_variable_named() -> None:
    # Given a deadline beyond what an SQS delay allows
    environ = {"HERALD_EMAIL_QUEUE_URL": "e", "HERALD_SMS_QUEUE_URL": "s", "HERALD_DELIVERY_DEADLINE_SECONDS": "901"}
    # When the settings are read; Then the variable is named
    with pytest.raises(ConfigurationError, match="HERALD_DELIVERY_DEADLINE_SECONDS is invalid"):
        DispatchSettings.from_environment(environ)
