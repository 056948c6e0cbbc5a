"""`herald demo` sends through the stand-ins by default and through the real services when credentials are set."""

from __future__ import annotations

from pathlib import Path

import pytest

from herald_tools.local.demo import LOCAL_SENDGRID_KEY, providers
from herald_tools.local.ports import RECEIVER_CA_VARIABLE


def test_without_credentials_the_stand_ins_receive_everything(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given no provider credentials in the environment
    for name in ("SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FROM"):
        monkeypatch.delenv(name, raising=False)
    # When the demo sets up its providers
    with providers(tmp_path) as setup:
        # Then both SDKs are pointed at local stand-ins holding the stand-in credentials
        assert setup.real == []
        assert setup.env["HERALD_SENDGRID_API_HOST"].startswith("http://127.0.0.1:")
        assert setup.env["HERALD_TWILIO_API_BASE_URL"].startswith("http://127.0.0.1:")
        assert setup.sendgrid_secret == {"api_key": LOCAL_SENDGRID_KEY}
        # And the storefront's webhook receiver listens over HTTPS, its CA handed to the functions
        assert setup.storefront_receiver.webhook_url.startswith("https://127.0.0.1:")
        assert setup.env[RECEIVER_CA_VARIABLE] == str(setup.storefront_receiver.ca_path)


def test_with_credentials_the_real_services_are_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Given real-looking credentials for both providers
    monkeypatch.setenv("SENDGRID_API_KEY", "SG.real")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC123")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tok")
    monkeypatch.setenv("TWILIO_FROM", "+14155550100")
    # When the demo sets up its providers
    with providers(tmp_path) as setup:
        # Then no provider endpoint is overridden, no provider stand-in runs, and the secrets carry the given
        # credentials; only what is never a provider stays local (the storefront's receiver, the carriers' photos)
        assert setup.real == ["SendGrid", "Twilio"]
        assert not {"HERALD_SENDGRID_API_HOST", "HERALD_TWILIO_API_BASE_URL"} & set(setup.env)
        assert setup.env[RECEIVER_CA_VARIABLE] == str(setup.storefront_receiver.ca_path)
        assert setup.sendgrid is None
        assert setup.twilio is None
        assert setup.sendgrid_secret == {"api_key": "SG.real"}
        assert setup.twilio_secret == {"account_sid": "AC123", "auth_token": "tok", "from_number": "+14155550100"}
