"""Stage directives in a demo events file: what happens around the events (a provider outage, a customer's reply).

A line `{"herald_demo": {...}}` is not an event: the demo acts it out, in order, between publishing events.

- `{"herald_demo": {"outage": "sendgrid"}}` / `{"herald_demo": {"recover": "sendgrid"}}` (or "twilio"):
  the stand-in answers every API call with a 500 until it recovers. Herald's circuit breaker should move the
  channel to its secondary provider (SES, SNS) and back after a successful probe.
- `{"herald_demo": {"customer_texts": {"from": "+14155550142", "body": "STOP"}}}`: the customer sends an SMS
  to the deployment's Twilio number; the stand-in posts it, signed, to the inbound webhook.
- `{"herald_demo": {"wait_seconds": 4}}`: let time pass (retries, probes) before the next line.
- `"note"`: a sentence the demo prints as it acts the directive out.

With real providers (credentials in the environment) outages and customer texts cannot be staged: they are
skipped with a note.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

DIRECTIVE_KEY = "herald_demo"
MAX_WAIT_SECONDS = 60.0


class DirectiveError(ValueError):
    """A directive the demo does not understand: the events file is wrong."""


@dataclass
class Stage:
    """What directives act on."""

    sendgrid: Any  # SendGridStandIn or None (real SendGrid)
    twilio: Any  # TwilioStandIn or None (real Twilio)
    webhooks_url: str | None
    our_number: str
    notes: list[str] = field(default_factory=list)  # what was acted out, in order, for the summary


def directive_of(raw: Any) -> dict[str, Any] | None:
    """The directive a line of the events file holds, or None for an event."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    if isinstance(raw, dict) and set(raw) == {DIRECTIVE_KEY}:
        value = raw[DIRECTIVE_KEY]
        if not isinstance(value, dict):
            raise DirectiveError(f"{DIRECTIVE_KEY} must hold an object, not {value!r}")
        return value
    return None


def act(directive: dict[str, Any], stage: Stage) -> str:
    """Carry the directive out; return what was done, for the demo's log."""
    if "outage" in directive or "recover" in directive:
        down = "outage" in directive
        name = str(directive.get("outage") or directive.get("recover"))
        standin = {"sendgrid": stage.sendgrid, "twilio": stage.twilio}.get(name, _UNKNOWN)
        if standin is _UNKNOWN:
            raise DirectiveError(f"no provider {name!r}: sendgrid or twilio")
        if standin is None:
            return f"skipped: {name} is the real service here, its outage cannot be staged"
        standin.faults.server_error_rate = 1.0 if down else 0.0
        return f"{name} {'is down: every call answers 500' if down else 'is back'}"
    if "customer_texts" in directive:
        text = directive["customer_texts"]
        if not isinstance(text, dict) or not text.get("from") or "body" not in text:
            raise DirectiveError("customer_texts needs {'from': '+1...', 'body': '...'}")
        if stage.twilio is None or stage.webhooks_url is None:
            return "skipped: customer texts are staged on the Twilio stand-in only"
        stage.twilio.customer_texts(
            f"{stage.webhooks_url}/webhooks/twilio/inbound",
            from_number=str(text["from"]),
            to_number=str(text.get("to") or stage.our_number),
            body=str(text["body"]),
        )
        stage.twilio.callbacks.wait_idle(10.0)
        return f"a customer texted {text['body']!r}"
    if "wait_seconds" in directive:
        seconds = float(directive["wait_seconds"])
        if not 0 <= seconds <= MAX_WAIT_SECONDS:
            raise DirectiveError(f"wait_seconds must be 0..{MAX_WAIT_SECONDS:.0f}")
        time.sleep(seconds)  # the demo's own pacing: time passing for the story, not a function waiting
        return f"waited {seconds:g} s"
    raise DirectiveError(f"unknown directive {directive!r}")


_UNKNOWN = object()
