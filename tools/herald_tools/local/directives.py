"""Stage directives in a demo events file: what happens around the events (a provider outage, a customer's reply).

A line `{"herald_demo": {...}}` is not an event: the demo acts it out, in order, between publishing events.

- `{"herald_demo": {"outage": "sendgrid"}}` / `{"herald_demo": {"recover": "sendgrid"}}` (or "twilio"):
  the stand-in answers every API call with a 500 until it recovers. Herald's circuit breaker should move the
  channel to its secondary provider (SES, SNS) and back after a successful probe.
- `{"herald_demo": {"until": "circuit_open", "channel": "email"}}`: wait, reading the table, until the channel's
  circuit is open and none of its notifications is still on its way (what failed went through the secondary).
  `"probe_due"`: the circuit is open, its probe interval has passed and nobody holds the probe, so the channel's
  next send is the probe. `"circuit_closed"`: a probe succeeded. `"timeout"` (seconds) bounds the wait; a
  condition not met by then stops the demo, naming it (conditions.ConditionNotMet).
- `{"herald_demo": {"customer_texts": {"from": "+14155550142", "body": "STOP"}}}`: the customer sends an SMS
  to the deployment's Twilio number; the stand-in posts it, signed, to the inbound webhook, and the demo waits
  until the opt-out it makes is recorded in the table.
- `{"herald_demo": {"wait_seconds": 4}}`: pacing only, for a file that wants time to pass; a story step that
  needs something to have happened waits for it with `until` instead.
- `{"herald_demo": {"eventbridge": {"storefront": "globex-garden", "topic": "orders/create",
  "file": "shopify-orders-create.json"}}}`: Shopify delivers the webhook body in `file` through Amazon EventBridge:
  the demo puts the envelope the partner event source's rule delivers on the shopify-events queue, and waits until
  the shopify-events function and dispatch have taken every event it became.
- `{"herald_demo": {"webhook": {"platform": "easypost", "storefront": "globex-garden",
  "file": "easypost-tracker-in-transit.json"}}}`: the platform (`shopify` with its `"topic"`, `easypost`,
  `aftership`, `onfleet`) posts the file's bytes to the storefront's intake route on the local API, signed with the
  storefront's secret as the platform signs; the demo waits until dispatch has taken every event the intake
  answered it published. Both record the step for the report and the summary (local/intake_stage.py); `file` is
  relative to the events file's folder, `"timeout"` (seconds) bounds the wait, and `"set"`
  (`{"/json/pointer": "{today+3}"}`) changes a value of the file to a date of the run before it is sent.
- `"note"`: a sentence the demo prints as it acts the directive out. `"story"`: the story a platform step belongs
  to, which the summary tells under that name.

With real providers (credentials in the environment) outages and customer texts cannot be staged: they are
skipped with a note.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from herald.domain.suppression import Keyword, parse_keyword
from herald_tools.local.conditions import DEFAULT_TIMEOUT_SECONDS, Deployment, wait_for
from herald_tools.local.intake_stage import IntakeStage, act_eventbridge, act_webhook

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
    deployment: Deployment | None = None  # what `until` and customer_texts read; None: nothing to wait on
    notes: list[str] = field(default_factory=list)  # what was acted out, in order, for the summary
    intake: IntakeStage | None = None  # what the platform directives act on; None: they are skipped


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
        keyword = parse_keyword(str(text["body"]))
        if stage.deployment is not None and keyword in (Keyword.STOP, Keyword.START):
            # The later events' SMS are suppressed (or not) only once the keyword's effect is in the table.
            deployment, sender, opted_out = stage.deployment, str(text["from"]), keyword is Keyword.STOP
            wait_for(
                f"the opt-out of {sender} {'recorded' if opted_out else 'lifted'} (pk SUPPRESS#..., sk sms#{sender})",
                lambda: deployment.suppressed("sms", sender),
                lambda suppressed: suppressed is opted_out,
            )
        return f"a customer texted {text['body']!r}"
    if "until" in directive:
        return _until(directive, stage)
    if "webhook" in directive or "eventbridge" in directive:
        if stage.intake is None:
            return "skipped: no storefront takes platform webhooks in this runtime"
        act_out = act_webhook if "webhook" in directive else act_eventbridge
        return act_out(directive, stage.intake)
    if "wait_seconds" in directive:
        seconds = float(directive["wait_seconds"])
        if not 0 <= seconds <= MAX_WAIT_SECONDS:
            raise DirectiveError(f"wait_seconds must be 0..{MAX_WAIT_SECONDS:.0f}")
        time.sleep(seconds)  # the demo's own pacing: time passing for the story, not a function waiting
        return f"waited {seconds:g} s"
    raise DirectiveError(f"unknown directive {directive!r}")


_UNKNOWN = object()
_STANDIN_OF_CHANNEL = {"email": "sendgrid", "sms": "twilio"}
# What each `until` condition asks of the channel's circuit, as the wait's message names it.
_CONDITIONS = {
    "circuit_open": "the {channel} circuit open, and every {channel} notification sent or settled",
    "probe_due": "the {channel} circuit open with its probe due ({seconds}s after it opened) and unclaimed",
    "circuit_closed": "the {channel} circuit closed again (a probe succeeded)",
}


def _until(directive: dict[str, Any], stage: Stage) -> str:
    """Wait until the named condition holds in the deployment's table."""
    condition, channel = str(directive["until"]), str(directive.get("channel") or "")
    if condition not in _CONDITIONS:
        raise DirectiveError(f"no condition {condition!r}: {', '.join(_CONDITIONS)}")
    if channel not in _STANDIN_OF_CHANNEL:
        raise DirectiveError(f"until {condition} needs a channel: {', '.join(_STANDIN_OF_CHANNEL)}")
    timeout = float(directive.get("timeout", DEFAULT_TIMEOUT_SECONDS))
    if stage.deployment is None or getattr(stage, _STANDIN_OF_CHANNEL[channel]) is None:
        # With the real provider no outage was staged: its circuit has nothing to wait for.
        return f"skipped: {_STANDIN_OF_CHANNEL[channel]} is the real service here, its circuit is not staged"
    deployment = stage.deployment
    what = _CONDITIONS[condition].format(channel=channel, seconds=deployment.probe_seconds)
    if condition == "circuit_open":
        wait_for(
            what,
            lambda: (deployment.circuit(channel).status, deployment.unsettled(channel)),
            lambda seen: seen[0] == "open" and not seen[1],
            timeout=timeout,
        )
    elif condition == "probe_due":
        wait_for(what, lambda: deployment.circuit(channel), deployment.probe_due, timeout=timeout)
    else:
        wait_for(what, lambda: deployment.circuit(channel).status, lambda status: status == "closed", timeout=timeout)
    return f"seen: {what}"
