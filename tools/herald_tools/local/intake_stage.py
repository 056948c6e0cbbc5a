"""The demo's platform directives: a storefront's platforms report to Herald's intake, and the demo waits for
what dispatch made of each report.

- `{"webhook": {"platform": "easypost", "storefront": "globex-garden", "file": "easypost-....json"}}` posts the
  file's bytes to the local API's intake route, signed with the storefront's secret for that platform as the
  platform signs (`herald_tools.local.platforms`); Shopify's also names its `"topic"` (`X-Shopify-Topic`).
- `{"eventbridge": {"storefront": "globex-garden", "topic": "orders/create", "file": "shopify-....json"}}` puts
  the Shopify webhook, wrapped in the envelope EventBridge delivers from Shopify's partner event source, on the
  shopify-events queue, as the template's rule does.

`"set"` changes the file's values before it is sent, each named by a JSON Pointer (RFC 6901) to a value the file
has, e.g. `{"/result/est_delivery_date": "{today+3}T00:00:00Z"}`: `{today}`, `{today+N}`, `{today-N}` are UTC dates
of the run. A platform tells estimates in days to come, and Herald acts on a promised day that has passed (a
running-late check at once): a sample's own dates, years old, would tell another story than the one staged.

Either waits, reading the queues and the table, until dispatch has taken every event the report became (the
intake publishes on the event queues before it answers or deletes its message, and dispatch records each event
before deleting it), then records the step for the report (`report["intake"]`): the route, the answer, and each
event with its type, outcome and order. Files are read relative to the events file's folder.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from herald_tools.local.conditions import DEFAULT_TIMEOUT_SECONDS, ConditionNotMet, Deployment, wait_for
from herald_tools.local.platforms import (
    SIGNED_PLATFORMS,
    SignedPlatform,
    eventbridge_envelope,
    https_delivery,
    post,
)
from herald_tools.local.storefronts import LocalIntake

EVENT_QUEUES = ("OrderEventsQueue", "ShipmentEventsQueue")
SHOPIFY_EVENTS_QUEUE = "ShopifyEventsQueue"
MAX_PAYLOAD_BYTES = 256 * 1024  # a demo file is one webhook body; the intake's own bound is lower still


class IntakeDirectiveError(ValueError):
    """A platform directive the demo cannot act out: the events file is wrong (the message says how)."""


@dataclass
class IntakeStage:
    """What the platform directives act on, and the steps they record for the report."""

    base_dir: Path  # the events file's folder: directive files are named relative to it
    api_url: str | None  # the local HTTP API (None: no webhook can be posted)
    storefronts: Mapping[str, LocalIntake]  # by slug
    deployment: Deployment
    queue_depths: Callable[[], dict[str, int]]
    send_to_shopify_events: Callable[[str], str]  # an EventBridge event's JSON -> the SQS message id
    region: str
    account: str
    steps: list[dict[str, Any]] = field(default_factory=list)


def act_webhook(directive: Mapping[str, Any], stage: IntakeStage) -> str:
    spec = _spec(directive, "webhook")
    platform = str(spec.get("platform") or "")
    if platform not in SIGNED_PLATFORMS:
        raise IntakeDirectiveError(f"webhook platform {platform!r}: one of {', '.join(SIGNED_PLATFORMS)}")
    name = cast(SignedPlatform, platform)
    intake, (path, body), changed = _storefront(spec, stage), _payload(spec, stage), resolve_set(spec)
    if changed:
        body = json.dumps(with_values(_json(body, path), changed, path)).encode("utf-8")
    topic = _topic(spec) if name == "shopify" else None
    if stage.api_url is None:
        raise IntakeDirectiveError("webhooks need the local HTTP API, and this runtime has none")
    delivery = https_delivery(
        name,
        body,
        secret=intake.secrets[name],
        slug=intake.slug,
        shop_domain=intake.shop_domain,
        topic=topic,
        name=path.name,
    )
    status, answer = post(stage.api_url, delivery)
    if status != 200 or not isinstance(answer, dict):
        raise ConditionNotMet(f"the intake answered {status} to the {platform} webhook {path.name}: {answer}")
    published = [str(event_id) for event_id in answer.get("published", [])]
    deployment = stage.deployment
    wait_for(
        f"dispatch to take the events the {platform} webhook {path.name} became ({', '.join(published) or 'none'})",
        lambda: (_event_depths(stage), _unrecorded(deployment, intake.source, published)),
        lambda seen: not any(seen[0].values()) and not seen[1],
        timeout=float(spec.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
    )
    records = deployment.records(intake.source)
    step = _step(directive, "https", platform, topic, intake, path, changed)
    step |= {
        "path": delivery.path,
        "http_status": status,
        "answer": answer,
        "events": [_event(event_id, records[event_id]) for event_id in published],
    }
    stage.steps.append(step)
    return f"{platform} webhook {path.name} posted to {delivery.path}: {status}, {_became(step)}"


def act_eventbridge(directive: Mapping[str, Any], stage: IntakeStage) -> str:
    spec = _spec(directive, "eventbridge")
    intake, (path, body), changed = _storefront(spec, stage), _payload(spec, stage), resolve_set(spec)
    topic = _topic(spec)
    payload = with_values(_json(body, path), changed, path)
    envelope = eventbridge_envelope(
        topic, payload, shop_domain=intake.shop_domain, name=path.name, region=stage.region, account=stage.account
    )
    deployment = stage.deployment
    before = set(deployment.records(intake.source))
    message_id = stage.send_to_shopify_events(json.dumps(envelope))
    # The shopify-events function publishes before its message is deleted, dispatch records before it deletes:
    # read in that order, empty queues mean every event the report became is recorded.
    wait_for(
        f"the shopify-events function and dispatch to take Shopify's {topic} ({path.name}) from EventBridge",
        lambda: {**_depths(stage, (SHOPIFY_EVENTS_QUEUE,)), **_event_depths(stage)},
        lambda depths: not any(depths.values()),
        timeout=float(spec.get("timeout", DEFAULT_TIMEOUT_SECONDS)),
    )
    records = deployment.records(intake.source)
    new = [event_id for event_id in records if event_id not in before]
    step = _step(directive, "eventbridge", "shopify", topic, intake, path, changed)
    step |= {
        "sqs_message_id": message_id,
        "rejected": deployment.rejection(message_id),
        "events": [_event(event_id, records[event_id]) for event_id in sorted(new)],
    }
    stage.steps.append(step)
    return f"Shopify {topic} ({path.name}) delivered through EventBridge: {_became(step)}"


def _spec(directive: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    spec = directive[key]
    if not isinstance(spec, Mapping):
        raise IntakeDirectiveError(f"{key} must hold an object, not {spec!r}")
    return spec


def _storefront(spec: Mapping[str, Any], stage: IntakeStage) -> LocalIntake:
    slug = str(spec.get("storefront") or "")
    if slug not in stage.storefronts:
        known = ", ".join(sorted(stage.storefronts)) or "none"
        raise IntakeDirectiveError(f"no storefront {slug!r} takes platform webhooks here (storefronts: {known})")
    return stage.storefronts[slug]


def _payload(spec: Mapping[str, Any], stage: IntakeStage) -> tuple[Path, bytes]:
    name = str(spec.get("file") or "")
    path = (stage.base_dir / name).resolve()
    if not name or not path.is_relative_to(stage.base_dir.resolve()):
        raise IntakeDirectiveError(f"file {name!r}: a payload file in {stage.base_dir}")
    if not path.is_file():
        raise IntakeDirectiveError(f"file {name!r}: no such file in {stage.base_dir}")
    if path.stat().st_size > MAX_PAYLOAD_BYTES:
        raise IntakeDirectiveError(f"file {name!r} is over {MAX_PAYLOAD_BYTES} bytes: not one webhook body")
    return path, path.read_bytes()


_TODAY = re.compile(r"\{today(?:([+-])(\d{1,4}))?\}")


def resolve_set(spec: Mapping[str, Any], today: date | None = None) -> dict[str, str]:
    """The directive's `set`, with its `{today±N}` resolved to dates of the run: pointer -> value."""
    wanted = spec.get("set") or {}
    if not isinstance(wanted, Mapping) or not all(isinstance(v, str) for v in wanted.values()):
        raise IntakeDirectiveError(f"set maps JSON Pointers to text values, not {wanted!r}")
    day = today or datetime.now(UTC).date()

    def resolve(match: re.Match[str]) -> str:
        sign, days = match.group(1), int(match.group(2) or 0)
        return (day + timedelta(days=-days if sign == "-" else days)).isoformat()

    return {str(pointer): _TODAY.sub(resolve, value) for pointer, value in wanted.items()}


def _json(body: bytes, path: Path) -> Any:
    try:
        return json.loads(body)
    except ValueError as error:
        raise IntakeDirectiveError(f"{path.name} is not JSON ({error})") from None


def with_values(payload: Any, changed: Mapping[str, str], path: Path) -> Any:
    """`payload` with each pointer's value replaced; a pointer to a value the file does not have is refused."""
    for pointer, value in changed.items():
        parts = [part.replace("~1", "/").replace("~0", "~") for part in pointer.split("/")[1:]]
        if not pointer.startswith("/") or not parts:
            raise IntakeDirectiveError(f"set {pointer!r}: a JSON Pointer such as /result/est_delivery_date")
        parent = payload
        for part in parts[:-1]:
            parent = _child(parent, part, pointer, path)
        _child(parent, parts[-1], pointer, path)  # it must exist: `set` changes what the platform sent
        if isinstance(parent, list):
            parent[int(parts[-1])] = value
        else:
            parent[parts[-1]] = value
    return payload


def _child(node: Any, part: str, pointer: str, path: Path) -> Any:
    if isinstance(node, dict) and part in node:
        return node[part]
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    raise IntakeDirectiveError(f"set {pointer!r}: {path.name} has no such value")


def _topic(spec: Mapping[str, Any]) -> str:
    topic = spec.get("topic")
    if not isinstance(topic, str) or "/" not in topic:
        raise IntakeDirectiveError(f"a Shopify webhook names its topic (orders/create, ...), not {topic!r}")
    return topic


def _depths(stage: IntakeStage, queues: tuple[str, ...]) -> dict[str, int]:
    depths = stage.queue_depths()
    return {queue: depths.get(queue, 0) for queue in queues}


def _event_depths(stage: IntakeStage) -> dict[str, int]:
    return _depths(stage, EVENT_QUEUES)


def _unrecorded(deployment: Deployment, source: str, event_ids: list[str]) -> list[str]:
    records = deployment.records(source)
    return [e for e in event_ids if e not in records or records[e].get("status") == "dispatching"]


def _step(
    directive: Mapping[str, Any],
    route: str,
    platform: str,
    topic: str | None,
    intake: LocalIntake,
    path: Path,
    changed: Mapping[str, str],
) -> dict[str, Any]:
    return {
        "set": dict(changed),  # what the demo changed in the file before sending it
        "story": directive.get("story"),
        "note": directive.get("note"),
        "route": route,
        "platform": platform,
        "topic": topic,
        "storefront": intake.slug,
        "source": intake.source,
        "file": path.name,
    }


def _event(event_id: str, record: Mapping[str, str]) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": record.get("event_type"),
        "outcome": record.get("status"),
        "reason": record.get("reason"),
        "order_id": record.get("order_id"),
        "order_number": record.get("order_number"),
    }


def _became(step: Mapping[str, Any]) -> str:
    events = step["events"]
    if not events:
        answer = step.get("answer") or {}
        why = step.get("rejected") or "; ".join(answer.get("parked", []) + answer.get("ignored", []))
        return f"no event ({why or 'nothing new'})"
    return ", ".join(f"{e['type']} ({e['outcome']})" for e in events)
