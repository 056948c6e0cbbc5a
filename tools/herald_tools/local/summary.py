"""`herald demo`'s summary: what became of every event, told so that an operator reads it at 80 columns.

One row per event type: how many events came in (and, below, what was turned away), then one cell per
channel listing only the counts that happened, one a line ("3 sent", "3 delivered", "1 failover"). The
table stays five columns narrow whatever happened: the wide table of fifteen count columns it replaces
truncated its headers and event types (`orde…`, `publ…`) even in a 132-column terminal.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from herald_tools.local.demo import SECONDARY_PROVIDERS, DemoRun
from herald_tools.local.stack import SKIPPED_LOCALLY

CHANNELS = ("email", "sms")
CHANNEL_HEADERS = {"email": "email", "sms": "SMS"}
EVENT_OUTCOMES = ("rejected", "duplicate", "superseded")  # what an event can end as besides dispatched
# A channel cell's counts, in the order an operator reads them: what went out, then how, then what did not.
CHANNEL_COUNTS = (
    "sent",
    "delivered",
    "failed",
    "skipped",
    "suppressed",
    "standby",
    "fallback",
    "failover",
    "escalated",
    "retried",
    "dlq",
)
UNREADABLE_TYPE = "(unreadable)"


def redundancy_step(n: dict[str, Any]) -> str | None:
    """Which redundancy step a reported notification is: "fallback", "failover", "escalated", or None."""
    if n.get("escalation_of"):
        return "escalated"
    if n["status"] != "sent":
        return None
    if n.get("fallback_of"):
        return "fallback"
    if str(n.get("route_reason") or "").startswith("failover"):
        return "failover"
    return None


def stories(report: dict[str, Any]) -> dict[str, list[str]]:
    """The redundancy stories of a run, one line each: fallbacks, failovers, suppressions, escalations."""
    told: dict[str, list[str]] = {"fallback": [], "failover": [], "recovered": [], "suppressed": [], "escalated": []}
    last_failover: dict[str, str] = {}
    for n in report["notifications"]:
        if redundancy_step(n) == "failover" and n.get("sent_at"):
            last_failover[n["channel"]] = max(n["sent_at"], last_failover.get(n["channel"], ""))
    # The first send by the primary after a channel's last failover is its recovery (the probe that closed the
    # circuit); every later one is ordinary traffic again.
    recovered: dict[str, dict[str, Any]] = {}
    for n in report["notifications"]:
        since = last_failover.get(n["channel"])
        sent_at = str(n.get("sent_at") or "")
        primary_again = n.get("provider") not in SECONDARY_PROVIDERS and n["status"] == "sent"
        first = recovered.get(n["channel"])
        if since and primary_again and sent_at > since and (first is None or sent_at < str(first["sent_at"])):
            recovered[n["channel"]] = n
    for n in recovered.values():
        told["recovered"].append(f"{n['channel']} of {n['event_id']} sent by {n['provider']} again")
    for n in report["notifications"]:
        what = f"{n['channel']} of {n['event_id']}"
        step = redundancy_step(n)
        if step == "fallback":
            told["fallback"].append(f"{what} sent because the {n['fallback_reason']}")
        elif step == "failover":
            told["failover"].append(f"{what} sent by {n['provider']} ({n['route_reason']})")
        elif step == "escalated":
            told["escalated"].append(f"{what} {n['status']} by {n.get('provider') or '?'}: {n['reason']}")
        if n["status"] == "suppressed":
            told["suppressed"].append(f"{what}: {n['reason']}")
    return told


_ROUTES = {"eventbridge": "through EventBridge", "https": "signed, over HTTPS"}
_PLATFORM_NAMES = {"shopify": "Shopify", "easypost": "EasyPost", "aftership": "AfterShip", "onfleet": "Onfleet"}


def platform_stories(report: dict[str, Any]) -> list[str]:
    """The platform steps told in plain sentences, under their story's name: what each report was, which route it
    came by, which Herald events it became, and who was told on which channel (with a delivery's proof)."""
    from rich.markup import escape  # file names, reasons and URLs are text, not Rich markup

    lines: list[str] = []
    story = None
    for step in report.get("intake", []):
        if step.get("story") and step["story"] != story:
            story = step["story"]
            lines.append(f"[bold]{escape(str(story))}[/]:")
        what = " ".join(
            part for part in (_PLATFORM_NAMES.get(step["platform"], step["platform"]), step.get("topic")) if part
        )
        route = _ROUTES.get(step["route"], step["route"])
        lines.append(escape(f"  {what} ({step['file']}, {route}) {_became(step)}"))
    return lines


def _became(step: dict[str, Any]) -> str:
    if step.get("rejected"):
        return f"was rejected: {step['rejected']}."
    if not step["events"]:
        answer = step.get("answer") or {}
        why = "; ".join([*answer.get("parked", []), *answer.get("ignored", [])])
        return f"became no event{f' ({why})' if why else ''}."
    return " ".join(_event_sentence(event) for event in step["events"])


_NOTICES = {
    "shipment.delayed": "the delay notice",
    "shipment.exception": "the exception notice",
    "shipment.delivered": "the delivery notice",
}


def _event_sentence(event: dict[str, Any]) -> str:
    order = f" of order {event['order_number']}" if event.get("order_number") else ""
    head = f"became {event['type']}{order}"
    if event["outcome"] != "dispatched":
        return f"{head}, {event['outcome']}: {event.get('reason') or 'no reason recorded'}."
    notices = event.get("notifications", [])
    sent = [n for n in notices if n["status"] == "sent"]
    unsent = "".join(
        f"; {n['channel']} {n['status']} ({n.get('reason') or 'no reason'})" for n in notices if n not in sent
    )
    if not sent:
        return f"{head}; nobody was told{unsent}."
    told = " and ".join(
        f"{n.get('recipient') or 'the customer'} by {n['channel']}"
        + (" (delivered)" if n.get("delivery_status") == "delivered" else "")
        for n in sent
    )
    sentence = f"{head}: {_NOTICES.get(str(event['type']), 'told')} {'went to' if event['type'] in _NOTICES else ''}"
    sentence = f"{sentence.rstrip()} {told}{unsent}."
    proof = event.get("proof_shown")
    if proof and (proof.get("images") or proof.get("map_url")):
        shown = [f"photo {url}" for url in proof.get("images", [])]
        if proof.get("map_url"):
            shown.append(f"map {proof['map_url']}")
        sentence += f" The email showed the proof: {', '.join(shown)}."
    return sentence


def summary_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per event type: `events` (published, and each outcome besides dispatched) and, per channel, its counts."""
    rows: dict[str, dict[str, Counter[str]]] = {}

    def row(event_type: str) -> dict[str, Counter[str]]:
        return rows.setdefault(event_type, {"events": Counter(), **{channel: Counter() for channel in CHANNELS}})

    for event in report["events"]:
        counter = row(event["type"] or UNREADABLE_TYPE)["events"]
        counter["published"] += 1
        if event["outcome"] in EVENT_OUTCOMES:
            counter[event["outcome"]] += 1
    for n in report["notifications"]:
        counter = row(n["type"]).setdefault(n["channel"], Counter())
        counter[n["status"]] += 1
        if n.get("delivery_status") == "delivered":  # reported back by the provider's signed webhook
            counter["delivered"] += 1
        if n["attempts"] > 1:
            counter["retried"] += 1
        step = redundancy_step(n)
        if step is not None:
            counter[step] += 1
    return [{"type": event_type, **counts} for event_type, counts in sorted(rows.items())]


def events_cell(counts: Counter[str]) -> str:
    """How many events came in, then a line for each outcome besides dispatched ("1 duplicate")."""
    others = [f"{counts[outcome]} {outcome}" for outcome in EVENT_OUTCOMES if counts[outcome]]
    return "\n".join([str(counts["published"]), *others])


def channel_cell(counts: Counter[str]) -> str:
    """Only the counts that happened, one a line ("3 sent", "3 delivered"); "-" when the channel saw nothing.

    One a line, not comma-joined: a cell wrapped at the terminal's width split "1 sent, 1 / delivered".
    """
    return "\n".join(f"{counts[name]} {name}" for name in CHANNEL_COUNTS if counts[name]) or "-"


def summary_table(report: dict[str, Any]) -> Any:
    """The table of `summary_rows`, with a total row."""
    from rich.table import Table

    table = Table(title="Herald local demo: what became of every event", title_justify="left")
    # The type is the row's name: never wrapped, never cut (the longest, shipment.out_for_delivery, is 25 wide).
    table.add_column("event type", no_wrap=True)
    table.add_column("events", no_wrap=True)
    for channel in CHANNELS:
        table.add_column(CHANNEL_HEADERS[channel], no_wrap=True)
    totals: dict[str, Counter[str]] = {"events": Counter(), **{channel: Counter() for channel in CHANNELS}}
    for row in summary_rows(report):
        table.add_row(row["type"], events_cell(row["events"]), *(channel_cell(row[c]) for c in CHANNELS))
        for part, counts in totals.items():
            counts.update(row[part])
    table.add_section()
    table.add_row("total", events_cell(totals["events"]), *(channel_cell(totals[c]) for c in CHANNELS))
    return table


def page_lines(report: dict[str, Any]) -> list[str]:
    """Each order's page link, one a line: its number, id and customer's locale, then the link its messages carry."""
    lines = []
    for order in report.get("orders", []):
        link = order["links"]["order_page"]
        if link:
            name = " ".join(part for part in (order.get("order_number"), order["order_id"]) if part)
            lines.append(f"  {name} ({order.get('locale') or 'no locale'}): {link}")
    return lines


def delivered_order(report: dict[str, Any]) -> dict[str, Any] | None:
    """The first order (of the report's order list) whose delivery notice went out: the one to open and dispute."""
    delivered = {
        (n["source"], n.get("order_id"))
        for n in report["notifications"]
        if n["type"] == "shipment.delivered" and n["status"] == "sent"
    }
    return next(
        (o for o in report.get("orders", []) if (o["source"], o["order_id"]) in delivered and o["links"]["order_page"]),
        None,
    )


# The demo story's orders whose timelines tell a redundancy story (events/demo/README.md).
_TOLD_ELSEWHERE = (("ord_1006", "fallback"), ("ord_1007", "failover"))


def stay_hint(run: DemoRun, *, here: Path | None = None) -> list[str]:
    """What `herald demo --stay` tells the user to do while it stays up: open a delivered order's page, answer,
    then read the answer with the operator's commands; where the storefront's received webhooks are."""
    lines = ["While it stays up (Ctrl-C stops it), try it as a customer, then as an operator:"]
    order = delivered_order(run.report)
    if order is not None:
        number = order.get("order_number") or order["order_id"]
        lines += [
            f"  1. Open order {number}'s page (its delivery photo and map) in a browser:",
            f"     {order['links']['order_page']}",
            '  2. Answer "No, I did not receive it", say what happened, and send it.',
            "  3. In another terminal, in this folder, read the answer:",
            f"     .venv/bin/herald timeline {order['order_id']}",
            f"     .venv/bin/herald evidence {order['order_id']}",
            '  4. Back on the page, "Start a return": choose an item, a reason, a refund or',
            "     an exchange, and send it (the timeline shows it, the store is told).",
        ]
    else:
        lines.append("  (no delivered order in this run: open any page link above)")
    if run.webhooks_received is not None:
        lines += [
            "  The answer and the return reach the store's receiver, signed; it logs them in:",
            f"     {_shown(run.webhooks_received, here)}",
        ]
    ids = {o["order_id"] for o in run.report.get("orders", [])}
    told = [f"{order_id} ({what})" for order_id, what in _TOLD_ELSEWHERE if order_id in ids]
    if told:
        lines.append(f"  Also try: .venv/bin/herald timeline {', '.join(told)}.")
    return lines


def _shown(path: Path, here: Path | None) -> str:
    """`path` relative to the working folder when it is under it (what the user types), else absolute."""
    base = (here or Path.cwd()).resolve()
    resolved = path.resolve()
    return str(resolved.relative_to(base)) if resolved.is_relative_to(base) else str(resolved)


def print_summary(run: DemoRun, console: Any) -> None:
    """What `herald demo` prints: the table, the stories it staged and told, then the problems, if any."""
    console.print(summary_table(run.report))
    outcomes = Counter(e["outcome"] for e in run.report["events"])
    console.print(
        f"{len(run.report['events'])} events: "
        + ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items()))
        + f"; {len(run.report['notifications'])} notifications recorded; settled in {run.seconds:.1f}s."
    )
    for event in run.report["events"]:
        if event["outcome"] in {"rejected", "superseded"}:
            console.print(f"  [yellow]{event['outcome']}[/] {event['id'] or '(no id)'}: {event['reason']}")
    for note in run.staged:
        console.print(f"  [cyan]staged[/] {note}")
    for line in platform_stories(run.report):
        console.print(f"  {line}")
    told = stories(run.report)
    for kind, lines in told.items():
        for line in lines:
            console.print(f"  [magenta]{kind}[/] {line}")
    console.print(
        "Redundancy: "
        + ", ".join(f"{len(lines)} {kind}" for kind, lines in told.items())
        + " (`herald demo --stay`, then `herald timeline ORDER_ID`, tells each order's story)."
    )
    failed = [n for n in run.report["notifications"] if n["status"] in {"failed", "dlq"}]
    for n in failed:
        console.print(f"  [red]{n['status']}[/] {n['channel']} of {n['event_id']}: {n['error_code']} {n['reason']}")
    console.print(f"Not emulated locally (deployed stacks have them): {', '.join(SKIPPED_LOCALLY)}.")
    providers_used = ", ".join(run.real_providers) if run.real_providers else "the local stand-ins"
    console.print(f"Messages went to {providers_used}; open outbox/email/*.html or outbox/sms.jsonl to read them.")
    pages = page_lines(run.report)
    if pages:
        # The links point at the local HTTP API: they open while the runtime is up, so only with --stay.
        console.print("Each order's page, as its messages link it (it opens under --stay):")
        for line in pages:
            console.print(line, markup=False, soft_wrap=True)  # never wrapped: a link is copied whole
    if run.problems:
        console.print("[bold red]Problems:[/]")
        for problem in run.problems:
            console.print(f"  - {problem}")
    else:
        console.print("[bold green]Every event is accounted for; no notification is missing or doubled.[/]")
