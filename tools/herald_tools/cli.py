"""The `herald` command line: tools for storefronts and operators.

Commands stay small and import what they need (boto3, rich, the contract models) when they run,
so `herald --help` answers at once. Another module adds a command with `app.command()(function)`
or a group with `app.add_typer(sub_app, name=...)`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from herald_tools.events_file import EventsFileError, Origin, read_events

if TYPE_CHECKING:
    from herald_tools.publisher import Publisher, PublishReport

app = typer.Typer(
    name="herald",
    help="Herald: order and shipment notifications (email and SMS) from storefront events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold customer data and credentials
)

EXIT_OK = 0
EXIT_REJECTED = 1
EXIT_USAGE = 2


@app.callback()
def main() -> None:
    """Herald: order and shipment notifications (email and SMS) from storefront events."""
    # A callback keeps `herald publish` a sub-command even while it is the only one.


# --- herald publish ---------------------------------------------------------------------------


class _UsageProblem(Exception):
    """A problem with the command line or its files: reported on stderr, exit code 2."""


def _publisher(
    stack: str | None,
    order_queue_url: str | None,
    shipment_queue_url: str | None,
    endpoint_url: str | None,
    region: str | None,
) -> Publisher:
    import os

    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError

    from herald_tools.publisher import (
        ORDER_QUEUE_URL_ENV,
        SHIPMENT_QUEUE_URL_ENV,
        SQS_RETRY_CONFIG,
        Publisher,
        PublisherConfigError,
        region_from_queue_url,
    )

    if stack and (order_queue_url or shipment_queue_url):
        raise _UsageProblem("give either --stack or the two queue URLs, not both")
    if bool(order_queue_url) != bool(shipment_queue_url):
        raise _UsageProblem("give both --order-queue-url and --shipment-queue-url")
    if not stack and not order_queue_url:
        order_queue_url = os.environ.get(ORDER_QUEUE_URL_ENV)
        shipment_queue_url = os.environ.get(SHIPMENT_QUEUE_URL_ENV)
        if not (order_queue_url and shipment_queue_url):
            raise _UsageProblem(
                f"say where to publish: --stack NAME, or --order-queue-url and --shipment-queue-url "
                f"(or {ORDER_QUEUE_URL_ENV} and {SHIPMENT_QUEUE_URL_ENV})"
            )
    region = region or (region_from_queue_url(order_queue_url) if order_queue_url else None)
    session = boto3.session.Session(region_name=region)
    try:
        config = Config(retries=SQS_RETRY_CONFIG)  # type: ignore[arg-type]
        sqs = session.client("sqs", endpoint_url=endpoint_url, config=config)
        if stack:
            cloudformation = session.client("cloudformation", endpoint_url=endpoint_url)
            return Publisher.from_stack(stack, cloudformation_client=cloudformation, sqs_client=sqs)
    except BotoCoreError as exc:  # no region, bad endpoint URL, unreadable AWS config
        raise _UsageProblem(str(exc)) from None
    except PublisherConfigError as exc:
        raise _UsageProblem(str(exc)) from None
    return Publisher(order_queue_url=order_queue_url or "", shipment_queue_url=shipment_queue_url or "", sqs_client=sqs)


def _report_json(report: PublishReport, origins: list[Origin]) -> str:
    return json.dumps(
        {
            "ok": report.ok,
            "accepted": [{**asdict(a), "origin": origins[a.index]} for a in report.accepted],
            "rejected": [{**asdict(r), "origin": origins[r.index]} for r in report.rejected],
        },
        indent=2,
        ensure_ascii=False,
    )


def _print_tables(report: PublishReport, origins: list[Origin]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    if report.accepted:
        # The source is left to the JSON report: one run almost always publishes for one storefront.
        table = Table(title="Published", title_justify="left")
        table.add_column("from", no_wrap=True)
        for column in ("type", "id", "queue", "message id"):
            table.add_column(column, overflow="fold")
        for a in report.accepted:
            table.add_row(origins[a.index], a.event_type, a.event_id, a.queue, a.message_id)
        console.print(table)
    if report.rejected:
        table = Table(title="Rejected", title_justify="left", title_style="bold red")
        for column in ("from", "source", "id", "why"):
            table.add_column(column, overflow="fold")
        for r in report.rejected:
            table.add_row(origins[r.index], r.source or "-", r.event_id or "-", r.reason, style="red")
        console.print(table)
    console.print(f"{len(report.accepted)} accepted, {len(report.rejected)} rejected", markup=False)


@app.command()
def publish(
    files: Annotated[
        list[Path],
        typer.Argument(
            metavar="FILE",
            help="Event files: a JSON object, a JSON array of events, or JSON Lines (one event per line). "
            "'-' reads standard input.",
            show_default=False,
        ),
    ],
    stack: Annotated[
        str | None,
        typer.Option(metavar="NAME", help="Publish to the queues of this deployed Herald stack (its outputs)."),
    ] = None,
    order_queue_url: Annotated[
        str | None, typer.Option(metavar="URL", help="URL of the order events queue (order.* and return.*).")
    ] = None,
    shipment_queue_url: Annotated[
        str | None, typer.Option(metavar="URL", help="URL of the shipment events queue (shipment.*).")
    ] = None,
    endpoint_url: Annotated[
        str | None, typer.Option(metavar="URL", help="AWS endpoint to use instead of AWS (a local emulator).")
    ] = None,
    region: Annotated[
        str | None, typer.Option(metavar="REGION", help="AWS region (default: from the queue URL or your AWS config).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable report instead of tables.")] = False,
) -> None:
    """Validate events against the contract and publish them to Herald's queues.

    Invalid events are reported with the reason and never sent.

    Exit code: 0 when every event was accepted, 1 when any was rejected, 2 on a usage or file error.

    Without --stack or queue URLs, HERALD_ORDER_EVENTS_QUEUE_URL and HERALD_SHIPMENT_EVENTS_QUEUE_URL name the queues.
    """
    from herald_tools.local.directives import directive_of

    try:
        items = [entry for path in files for entry in read_events(path)]
        publisher = _publisher(stack, order_queue_url, shipment_queue_url, endpoint_url, region)
    except (_UsageProblem, EventsFileError) as exc:
        typer.echo(f"herald publish: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    # A demo file's stage directives (herald_tools.local.directives) are for `herald demo` to act out, not events.
    directives = [origin for origin, item in items if directive_of(item) is not None]
    items = [(origin, item) for origin, item in items if directive_of(item) is None]
    if directives and not as_json:
        typer.echo(f"skipped {len(directives)} demo stage directive(s): {', '.join(directives)}", err=True)
    origins = [origin for origin, _ in items]
    report = publisher.publish(item for _, item in items)
    if as_json:
        typer.echo(_report_json(report, origins))
    else:
        _print_tables(report, origins)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_REJECTED)


@app.command()
def demo(
    events: Annotated[Path, typer.Option(help="Events to publish: a JSON object, a JSON array or JSON Lines.")] = Path(
        "events/demo/lifecycle.jsonl"
    ),
    report: Annotated[Path | None, typer.Option(help="Write the events and notifications report here.")] = None,
    outbox: Annotated[Path, typer.Option(help="Where the stand-ins keep the messages they accept.")] = Path("outbox"),
    template: Annotated[Path, typer.Option(help="The SAM template to deploy locally.")] = Path("template.yaml"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every queue to settle.")] = 180.0,
    burst: Annotated[
        bool, typer.Option(help="Publish everything at once instead of each event after the previous is dispatched.")
    ] = False,
    stay: Annotated[
        bool,
        typer.Option(
            help="Keep the runtime up after the summary (until Ctrl-C): the order pages it printed open in a "
            "browser, and `herald timeline ORDER_ID`, `herald evidence ORDER_ID` and `herald dlq` run against it "
            "from another terminal in this folder."
        ),
    ] = False,
) -> None:
    """Run the whole pipeline on this machine: moto, template.yaml, the functions and provider stand-ins.

    Exit code: 0 when every event is accounted for, 1 when a notification is missing or was sent twice, or a
    stage directive's condition did not hold in time (the message names it).
    """
    from rich.console import Console

    from herald_tools.local.conditions import ConditionNotMet
    from herald_tools.local.demo import DemoRun, run_demo
    from herald_tools.local.summary import print_summary, stay_hint

    # The summary reads whole at 80 columns, Rich's width when not on a terminal (CI, a pipe).
    console = Console()

    status = console.status("Starting moto, deploying template.yaml, starting the functions and stand-ins...")

    def finish(run: DemoRun, runtime: Any = None) -> None:
        status.stop()
        print_summary(run, console)
        if report is not None:
            report.write_text(json.dumps(run.report, indent=2) + "\n", encoding="utf-8")
            console.print(f"Report written to {report}")
        if runtime is not None:
            _serve_until_interrupted(runtime, console, hint=stay_hint(run))

    try:
        with status:
            run = run_demo(
                events,
                template=template,
                outbox_dir=outbox,
                work_dir=Path(".herald"),
                timeout=timeout,
                paced=not burst,
                # --stay: the summary is printed while the runtime is still up, which then serves until Ctrl-C.
                stay=finish if stay else None,
            )
    except ConditionNotMet as stalled:
        # A story step's condition never held: say which, rather than print a summary of a story half told.
        typer.echo(f"herald demo: the story stalled: {stalled}", err=True)
        raise typer.Exit(1) from None
    if not stay:
        finish(run)
    raise typer.Exit(1 if run.problems else 0)


# --- operators: herald timeline, herald dlq, herald stores, herald local -------------------------------------------

if TYPE_CHECKING:
    from herald_tools.ops.resources import StackResources

StackOption = Annotated[
    str | None,
    typer.Option(metavar="NAME", help="A deployed Herald stack: its resources are read from its outputs."),
]
LocalOption = Annotated[
    bool,
    typer.Option(
        "--local",
        help="The local runtime started by `herald local up` (.herald/local.json). "
        "The default when that file exists and --stack is not given.",
    ),
]
RegionOption = Annotated[
    str | None, typer.Option(metavar="REGION", help="AWS region of --stack (default: your AWS config).")
]


def _ops_resources(command: str, stack: str | None, local: bool, region: str | None) -> StackResources:
    from herald_tools.ops.resources import ResourcesError, resolve

    try:
        return resolve(stack, local, region=region)
    except ResourcesError as exc:
        typer.echo(f"herald {command}: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _console() -> Any:
    from rich.console import Console

    # Rich wraps to 80 columns when not on a terminal (CI, a pipe): tables need more.
    return Console(highlight=False, width=None if sys.stdout.isatty() else 160)


@app.command()
def timeline(
    order_id: Annotated[str, typer.Argument(metavar="ORDER_ID", help="The storefront's order id.")],
    source: Annotated[
        str | None,
        typer.Option(
            metavar="SOURCE",
            help="The storefront (CloudEvents source) of the order. Without it Herald scans the table for the "
            "order id: cheap locally, billed per item read on a deployed stack.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the timeline as JSON.")] = False,
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """Every event and notification of an order, in time order, and what became of each.

    States, provider ids, error codes, attempts, skip reasons, delivery states and the providers' reports.

    Exit code: 0 with a timeline, 1 when nothing is recorded for the order, 2 on a usage error.
    """
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.usecases.timeline import order_timeline

    resources = _ops_resources("timeline", stack, local, region)
    dynamodb = resources.client("dynamodb")
    source = _order_source("timeline", dynamodb, resources.table_name, order_id, source, stack)
    document = order_timeline(DynamoDbLedger(dynamodb, resources.table_name), source, order_id)
    if not document["entries"]:
        typer.echo(f"herald timeline: no events recorded for order {order_id} of {source}", err=True)
        raise typer.Exit(EXIT_REJECTED)
    if as_json:
        typer.echo(json.dumps(document, indent=2, ensure_ascii=False))
        return
    _print_timeline(document)


def _print_timeline(document: dict[str, Any]) -> None:
    from rich.table import Table

    from herald.usecases.timeline import describe, history_lines

    number = f" (number {document['order_number']})" if document.get("order_number") else ""
    table = Table(title=f"Order {document['order_id']}{number} of {document['source']}", title_justify="left")
    table.add_column("at", no_wrap=True)
    table.add_column("what")
    table.add_column("status")
    table.add_column("details", overflow="fold")
    for entry in document["entries"]:
        what, status, details = describe(entry)
        bad = any(word in status for word in ("failed", "dlq", "bounced", "blocked", "dropped", "undelivered"))
        table.add_row(entry["at"], what, status, details, style="red" if bad else None)
        for at, report, report_details in history_lines(entry):
            table.add_row(at, f"  -> {report}", "", report_details, style="dim")
    console = _console()
    console.print(table)
    ignored = f", {document['ignored']} ignored reports" if document.get("ignored") else ""
    console.print(f"{document['events']} events, {document['notifications']} notifications{ignored}", markup=False)


@app.command()
def ignored(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="The storefront (CloudEvents source).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """The platform reports of a storefront that Herald told no customer of and that name no order it knows: each
    with its platform, status and reason (one read; those joined to an order are on `herald timeline`).

    Exit code: 0 (with or without reports), 2 on a usage error.
    """
    from rich.table import Table

    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.usecases.timeline import entry

    resources = _ops_resources("ignored", stack, local, region)
    ledger = DynamoDbLedger(resources.client("dynamodb"), resources.table_name)
    reports = sorted((entry(item) for item in ledger.ignored_reports(source)), key=lambda e: e["at"], reverse=True)
    if as_json:
        typer.echo(json.dumps(reports, indent=2, ensure_ascii=False))
        return
    table = Table(title=f"Ignored reports of {source}, newest first", title_justify="left")
    for column in ("received", "platform", "status", "reason", "report id"):
        table.add_column(column, overflow="fold")
    for e in reports:
        table.add_row(
            e["at"], e.get("platform", "?"), e.get("status", "-"), e.get("reason", "?"), e.get("report_id", "-")
        )
    console = _console()
    console.print(table)
    console.print(f"{len(reports)} ignored reports", markup=False)


def _order_source(command: str, dynamodb: Any, table: str, order_id: str, source: str | None, stack: str | None) -> str:
    """The order's storefront: the one given, else the one source the table has the order for."""
    from herald.usecases.timeline import order_sources

    if source is not None:
        return source
    if stack:
        typer.echo(f"herald {command}: no --source given: scanning the whole table for the order", err=True)
    sources = order_sources(dynamodb, table, order_id)
    if len(sources) > 1:
        typer.echo(
            f"herald {command}: error: order {order_id} exists for several sources; give --source "
            f"(one of: {', '.join(sources)})",
            err=True,
        )
        raise typer.Exit(EXIT_USAGE)
    if not sources:
        typer.echo(f"herald {command}: no events recorded for order {order_id}", err=True)
        raise typer.Exit(EXIT_REJECTED)
    return sources[0]


@app.command()
def evidence(
    order_id: Annotated[str, typer.Argument(metavar="ORDER_ID", help="The storefront's order id.")],
    source: Annotated[
        str | None,
        typer.Option(metavar="SOURCE", help="The storefront (CloudEvents source) of the order; see `timeline`."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the evidence pack as JSON.")] = False,
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """The evidence pack of an order's deliveries, for a carrier claim or a dispute.

    Per shipment: the proof (photo, time, place, recipient, GPS and its map link), every scan with the estimate
    it carried; then the notifications sent and their delivery states, and the customer's answers.

    Exit code: 0 with a pack, 1 when nothing is recorded for the order, 2 on a usage error.
    """
    from herald.adapters.dynamodb_ledger import DynamoDbLedger
    from herald.usecases.evidence import order_evidence

    resources = _ops_resources("evidence", stack, local, region)
    dynamodb = resources.client("dynamodb")
    source = _order_source("evidence", dynamodb, resources.table_name, order_id, source, stack)
    pack = order_evidence(DynamoDbLedger(dynamodb, resources.table_name), source, order_id)
    if pack is None:
        typer.echo(f"herald evidence: no events recorded for order {order_id} of {source}", err=True)
        raise typer.Exit(EXIT_REJECTED)
    if as_json:
        typer.echo(json.dumps(pack, indent=2, ensure_ascii=False))
        return
    _print_evidence(pack)


def _print_evidence(pack: dict[str, Any]) -> None:
    console = _console()
    number = f" (number {pack['order_number']})" if pack.get("order_number") else ""
    console.print(f"Evidence for order {pack['order_id']}{number} of {pack['source']}", markup=False)
    for shipment in pack["shipments"]:
        console.print(
            f"\nShipment {shipment['id']}: {shipment['carrier']} {shipment['tracking_number']}, "
            f"status {shipment['status'] or 'unknown'}",
            markup=False,
        )
        proof = shipment.get("proof") or {}
        for label, name in (
            ("delivered at", "delivered_at"),
            ("photo", "photo_url"),
            ("place", "location"),
            ("received by", "received_by"),
            ("map", "map_url"),
        ):
            if proof.get(name):
                console.print(f"  {label}: {proof[name]}", markup=False)
        if proof.get("latitude") is not None:
            console.print(f"  GPS: {proof['latitude']}, {proof['longitude']}", markup=False)
        for scan in shipment["scans"]:
            estimate = f" (estimate {scan['estimate']})" if scan.get("estimate") else ""
            console.print(f"  {scan['time']}  {scan['type']}{estimate}", markup=False)
        if len(shipment["estimates"]) > 1:
            console.print(f"  estimates given: {', '.join(shipment['estimates'])}", markup=False)
    console.print("\nNotifications:", markup=False)
    for sent in pack["notifications"]:
        state = sent.get("delivery_status") or sent.get("status", "?")
        console.print(
            f"  {sent.get('at', '')}  {sent.get('event_type', '?')} {sent.get('channel', '?')}: {state}"
            + (f" via {sent['provider']}" if sent.get("provider") else ""),
            markup=False,
        )
    console.print("\nCustomer's answers:" if pack["answers"] else "\nNo answer from the customer.", markup=False)
    for answer in pack["answers"]:
        reason = f" ({answer['reason']})" if answer.get("reason") else ""
        note = f": {answer['note']}" if answer.get("note") else ""
        console.print(f"  {answer.get('received_at', '')}  {answer.get('answer')}{reason}{note}", markup=False)


dlq_app = typer.Typer(
    help="What is parked in each dead-letter queue, why, and moving it back after a fix.", no_args_is_help=True
)
app.add_typer(dlq_app, name="dlq")


@dlq_app.command("list")
def dlq_list(
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each dead-letter queue with the messages it holds."""
    from rich.table import Table

    from herald_tools.ops.dlq import depths
    from herald_tools.ops.resources import kebab_name

    resources = _ops_resources("dlq list", stack, local, region)
    rows = depths(resources.client("sqs"), resources.dead_letter_queues())
    if as_json:
        listing = [
            {"queue": kebab_name(r.queue.name), "url": r.queue.url, "messages": r.visible, "in_flight": r.in_flight}
            for r in rows
        ]
        typer.echo(json.dumps(listing, indent=2))
        return
    table = Table(title="Dead-letter queues", title_justify="left")
    for column in ("queue", "messages", "in flight", "redrives to"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(
            kebab_name(r.queue.name),
            str(r.visible),
            str(r.in_flight),
            r.queue.source_url or "-",
            style="red" if r.visible else None,
        )
    _console().print(table)


def _dlq(command: str, resources: StackResources, queue: str) -> Any:
    from herald_tools.ops.resources import ResourcesError

    try:
        return resources.dead_letter_queue(queue)
    except ResourcesError as exc:
        typer.echo(f"herald dlq {command}: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


def _print_parked(parked: list[Any], title: str) -> None:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("message id", "receives", "kind", "identity", "status", "error", "reason"):
        table.add_column(column, overflow="fold")
    for p in parked:
        identity = ", ".join(f"{k} {v}" for k, v in p.identity.items() if v)
        attempts = f" ({p.attempts} attempts)" if p.attempts is not None else ""
        table.add_row(
            p.message_id,
            str(p.receive_count),
            p.kind,
            identity or "-",
            (p.status or "-") + attempts,
            p.error_code or "-",
            p.reason or "-",
        )
    console = _console()
    console.print(table)


QueueArgument = Annotated[
    str, typer.Argument(metavar="QUEUE", help="order-events, shipment-events, email or sms (as `dlq list` names them).")
]


@dlq_app.command("show")
def dlq_show(
    queue: QueueArgument,
    limit: Annotated[int, typer.Option(min=1, help="Show at most this many messages.")] = 10,
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """The messages of one dead-letter queue and why each failed. Nothing is removed from the queue."""
    from herald_tools.ops.dlq import explain, peek

    resources = _ops_resources("dlq show", stack, local, region)
    dlq = _dlq("show", resources, queue)
    dynamodb = resources.client("dynamodb")
    messages = peek(resources.client("sqs"), dlq.url, limit=limit)
    parked = [explain(m, dynamodb=dynamodb, table_name=resources.table_name) for m in messages]
    if as_json:
        typer.echo(json.dumps([p.to_json() for p in parked], indent=2, ensure_ascii=False))
        return
    _print_parked(parked, f"{queue}: {len(parked)} messages shown")


@dlq_app.command("redrive")
def dlq_redrive(
    queue: QueueArgument,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would move; move nothing.")] = False,
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """Move one dead-letter queue's messages back to its working queue (after fixing what made them fail).

    A notification that was sent meanwhile is not sent again: its sender finds it sent and drops the copy.

    Exit code: 0 when every message moved, 1 when some could not be sent back (they stay in the DLQ).
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from herald_tools.ops.dlq import depths, explain, peek, redrive

    resources = _ops_resources("dlq redrive", stack, local, region)
    dlq = _dlq("redrive", resources, queue)
    sqs = resources.client("sqs")
    console = _console()
    if not dlq.source_url:
        typer.echo(f"herald dlq redrive: error: {queue} has no working queue in the stack outputs", err=True)
        raise typer.Exit(EXIT_USAGE)
    if dry_run:
        (depth,) = depths(sqs, [dlq])
        dynamodb = resources.client("dynamodb")
        messages = peek(sqs, dlq.url, limit=max(depth.visible, 1))
        parked = [explain(m, dynamodb=dynamodb, table_name=resources.table_name) for m in messages]
        _print_parked(parked, f"{queue}: would move {len(parked)} messages to {dlq.source_url}")
        return
    (depth,) = depths(sqs, [dlq])
    with Progress(
        TextColumn("[bold]redrive {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(queue, total=depth.visible)
        result = redrive(sqs, dlq, limit=depth.visible, on_progress=lambda n: progress.advance(task, n))
    console.print(f"{len(result.moved)} moved to {dlq.source_url}, {len(result.failed)} left in the DLQ", markup=False)
    for message_id, why in result.failed:
        console.print(f"  not moved: {message_id}: {why}", markup=False, style="red")
    raise typer.Exit(EXIT_REJECTED if result.failed else EXIT_OK)


stores_app = typer.Typer(
    help="The storefront registry: one entry per storefront (its senders, secrets' names and publishers).",
    no_args_is_help=True,
)
app.add_typer(stores_app, name="stores")


def _storefronts(command: str, stack: str | None, local: bool, region: str | None) -> Any:
    from herald.adapters.ssm_storefronts import SsmStorefronts
    from herald_tools.ops.stores import registry_path

    resources = _ops_resources(f"stores {command}", stack, local, region)
    if not resources.stack:
        typer.echo(f"herald stores {command}: error: the stack's name is unknown (.herald/local.json)", err=True)
        raise typer.Exit(EXIT_USAGE)
    return resources, SsmStorefronts(resources.client("ssm"), registry_path(resources.stack))


@stores_app.command("add")
def stores_add(
    file: Annotated[
        Path | None, typer.Option("--file", metavar="FILE", help="The entry as a JSON or YAML mapping of fields.")
    ] = None,
    source: Annotated[str | None, typer.Option(help="The events' CloudEvents source, e.g. storefront/acme.")] = None,
    name: Annotated[str | None, typer.Option(help="The store's name, as customers read it.")] = None,
    email_from: Annotated[str | None, typer.Option(metavar="ADDRESS", help="The address emails come from.")] = None,
    email_from_name: Annotated[str | None, typer.Option(metavar="NAME", help="The name emails come from.")] = None,
    reply_to: Annotated[str | None, typer.Option(metavar="ADDRESS", help="Where customers' replies go.")] = None,
    sendgrid_secret_id: Annotated[
        str | None, typer.Option(metavar="SECRET", help="The Secrets Manager secret with SendGrid's api_key.")
    ] = None,
    ses_identity: Annotated[
        str | None, typer.Option(metavar="IDENTITY", help="The SES identity (default: --email-from's domain).")
    ] = None,
    twilio_secret_id: Annotated[
        str | None,
        typer.Option(metavar="SECRET", help="The Secrets Manager secret with Twilio's account_sid and auth_token."),
    ] = None,
    sms_from: Annotated[str | None, typer.Option(metavar="E164", help="The number SMS come from.")] = None,
    messaging_service_sid: Annotated[
        str | None, typer.Option(metavar="MG...", help="The Twilio Messaging Service SMS come from.")
    ] = None,
    publisher: Annotated[
        list[str] | None,
        typer.Option(metavar="SENDER_ID", help="An SQS SenderId allowed to publish as this source (repeat it)."),
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite the source's existing entry.")] = False,
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """Add a storefront to the registry, from --file and/or options (options win over the file's fields).

    The entry is validated before anything is written. Exit code: 0 when written, 1 when the source already has
    an entry (give --replace), 2 on an invalid entry or a usage error.
    """
    from herald_tools.ops.stores import EntryExists, EntryInvalid, StoresError, add, build_entry, read_entry_file

    options = {
        "source": source,
        "name": name,
        "email_from": email_from,
        "email_from_name": email_from_name,
        "reply_to": reply_to,
        "sendgrid_secret_id": sendgrid_secret_id,
        "ses_identity": ses_identity,
        "twilio_secret_id": twilio_secret_id,
        "sms_from": sms_from,
        "twilio_messaging_service_sid": messaging_service_sid,
        "publishers": publisher,
    }
    try:
        entry = build_entry(read_entry_file(file) if file else None, options)
    except StoresError as exc:
        typer.echo(f"herald stores add: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except EntryInvalid as invalid:
        typer.echo("herald stores add: the entry is invalid, nothing was written:", err=True)
        for line in invalid.problems:
            typer.echo(f"  {line}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    _, directory = _storefronts("add", stack, local, region)
    try:
        add(directory, entry, replace=replace)
    except EntryExists as exc:
        typer.echo(f"herald stores add: {exc}", err=True)
        raise typer.Exit(EXIT_REJECTED) from None
    except StoresError as exc:
        typer.echo(f"herald stores add: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    typer.echo(f"{'replaced' if replace else 'added'} {entry.source} at {directory.name_of(entry.source)}")


@stores_app.command("list")
def stores_list(
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every storefront in the registry; an entry the model refuses is listed with its problems.

    Exit code: 0 when every entry is valid, 1 when any is not.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from herald_tools.ops.stores import list_entries, sms_sender

    resources, directory = _storefronts("list", stack, local, region)
    rows = list_entries(directory, resources.client("ssm"))
    broken = [row for row in rows if row.entry is None]
    if as_json:
        typer.echo(json.dumps([row.to_json() for row in rows], indent=2, ensure_ascii=False))
        raise typer.Exit(EXIT_REJECTED if broken else EXIT_OK)
    # Few borders and folded cells: a row reads whole at 80 columns (a Messaging Service SID is 34 characters).
    table = Table(title="Storefronts", title_justify="left", box=box.SIMPLE_HEAD, expand=True)
    for column, ratio in (("source", 3), ("name", 2), ("email from", 3), ("SMS sender", 3)):
        table.add_column(column, overflow="fold", ratio=ratio)
    table.add_column("publishers", justify="right", no_wrap=True)
    for row in rows:
        if row.entry is None:
            table.add_row(row.name.removeprefix(directory.name_of("")), "INVALID (below)", "-", "-", "-", style="red")
        else:
            e = row.entry
            table.add_row(e.source, e.name, e.email_from, sms_sender(e), str(len(e.publishers)))
    # The terminal's width (80 in a pipe): the columns fold rather than run off the screen.
    console = Console(highlight=False)
    console.print(table)
    for row in broken:  # below the table: a problem list is too long for a cell at 80 columns
        console.print(f"INVALID {row.name}:", markup=False, style="red")
        for line in row.problems:
            console.print(f"  {line}", markup=False, style="red")
    console.print(f"{len(rows)} entries, {len(broken)} invalid", markup=False)
    raise typer.Exit(EXIT_REJECTED if broken else EXIT_OK)


@stores_app.command("show")
def stores_show(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help="The storefront's CloudEvents source.")],
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """One storefront's entry as JSON (it names its secrets; it holds none).

    Exit code: 0 with the entry, 1 when the source has no entry or the model refuses it.
    """
    from herald.adapters.ssm_storefronts import StorefrontEntryInvalid
    from herald_tools.ops.stores import entry_for_show, show

    _, directory = _storefronts("show", stack, local, region)
    try:
        entry = show(directory, source)
    except StorefrontEntryInvalid as exc:
        typer.echo(f"herald stores show: {exc}", err=True)
        raise typer.Exit(EXIT_REJECTED) from None
    if entry is None:
        where = directory.name_of(source)
        typer.echo(f"herald stores show: no storefront {source!r} in the registry ({where})", err=True)
        raise typer.Exit(EXIT_REJECTED)
    typer.echo(entry_for_show(entry))


@stores_app.command("check")
def stores_check(
    source: Annotated[
        str | None, typer.Argument(metavar="[SOURCE]", help="One storefront (default: every entry).")
    ] = None,
    stack: StackOption = None,
    local: LocalOption = False,
    region: RegionOption = None,
) -> None:
    """Whether each storefront can send: the secrets it names exist with their keys (values are never shown),
    its SES identity is verified for sending, and someone may publish for it. With an intake: each platform
    signing secret it names exists and is not empty, and no other entry claims its slug or Shopify shop domain
    (the intake would serve neither).

    Exit code: 0 when every check passes, 1 when any fails (or the source has no entry).
    """
    from herald.adapters.ssm_storefronts import StorefrontEntryInvalid
    from herald_tools.ops.stores import Listed, check_entries, list_entries

    resources, directory = _storefronts("check", stack, local, region)
    registry = list_entries(directory, resources.client("ssm"))  # one source's slug may be another's too
    if source is None:
        rows = registry
    else:
        try:
            entry = directory.get(source)
        except StorefrontEntryInvalid as exc:
            typer.echo(f"FAIL {source}: entry: {exc}", err=True)
            raise typer.Exit(EXIT_REJECTED) from None
        if entry is None:
            typer.echo(f"herald stores check: no storefront {source!r} in the registry", err=True)
            raise typer.Exit(EXIT_REJECTED)
        rows = [Listed(directory.name_of(source), entry)]
    checks = check_entries(
        rows, secretsmanager=resources.client("secretsmanager"), sesv2=resources.client("sesv2"), registry=registry
    )
    for c in checks:
        typer.echo(f"{'PASS' if c.ok else 'FAIL'} {c.source}: {c.what}: {c.detail}")
    failed = [c for c in checks if not c.ok]
    typer.echo(f"{len(checks) - len(failed)} passed, {len(failed)} failed")
    raise typer.Exit(EXIT_REJECTED if failed or not checks else EXIT_OK)


local_app = typer.Typer(
    help="The local runtime: the pipeline on this machine, for the operator commands.", no_args_is_help=True
)
app.add_typer(local_app, name="local")


@local_app.command("up")
def local_up(
    template: Annotated[Path, typer.Option(help="The SAM template to deploy locally.")] = Path("template.yaml"),
    outbox: Annotated[Path, typer.Option(help="Where the stand-ins keep the messages they accept.")] = Path("outbox"),
) -> None:
    """Start the local runtime (moto, template.yaml, the functions, the provider stand-ins) until Ctrl-C.

    While it runs, .herald/local.json holds its endpoint, region and stack outputs: `herald timeline`,
    `herald dlq` (and `--local`) find it there, and `herald publish --endpoint-url URL --order-queue-url ...`
    publishes to it.
    """
    from herald_tools.local.demo import prepare, providers
    from herald_tools.local.runtime import LocalRuntime
    from herald_tools.ops.resources import LOCAL_STATE_FILE

    console = _console()
    with providers(outbox) as setup:
        env = {**setup.env, "HERALD_RETRY_BASE_SECONDS": "1", "HERALD_RETRY_MAX_SECONDS": "4"}
        with console.status("Starting moto, deploying the template, starting the functions and stand-ins..."):
            runtime = LocalRuntime(template, extra_env=env, log_dir=LOCAL_STATE_FILE.parent / "logs").start()
        try:
            prepare(runtime, setup)
            _serve_until_interrupted(runtime, console)
        finally:
            runtime.stop()


def _serve_until_interrupted(runtime: Any, console: Any, *, hint: list[str] | None = None) -> None:
    """Publish the runtime's whereabouts in .herald/local.json for the operator commands, print `hint` (what to
    try: said once the commands it names can find the runtime); wait for Ctrl-C."""
    import signal
    import time

    from herald_tools.ops.resources import LOCAL_STATE_FILE, write_local_state

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # `kill` stops it as cleanly as Ctrl-C: workers first, then the emulator, then the state file. SIGINT is set
    # too: a process started in the background by a non-interactive shell inherits SIGINT ignored, and Python
    # then never turns Ctrl-C (or a supervisor's SIGINT) into KeyboardInterrupt.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    outputs = runtime.outputs
    write_local_state(
        LOCAL_STATE_FILE,
        endpoint_url=runtime.aws.endpoint_url,
        region=runtime.aws.region,
        stack=runtime.stack.name,
        outputs=outputs,
    )
    try:
        console.print(f"Local runtime up at {runtime.aws.endpoint_url} (stack {runtime.stack.name}).", markup=False)
        console.print(f"Outputs written to {LOCAL_STATE_FILE}. Ctrl-C stops it.", markup=False)
        for name in ("OrderEventsQueueUrl", "ShipmentEventsQueueUrl"):
            if name in outputs:
                console.print(f"  {name}: {outputs[name]}", markup=False, soft_wrap=True)  # a URL is copied whole
        for line in hint or []:
            console.print(line, markup=False, soft_wrap=True)  # never wrapped: its links and commands are copied
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        console.print("Stopping the local runtime...")
    finally:
        LOCAL_STATE_FILE.unlink(missing_ok=True)


# --- herald intake ----------------------------------------------------------------------------

from herald_tools.intake_command import intake  # noqa: E402  (the command lives in its own module)

app.command("intake")(intake)


if __name__ == "__main__":  # `python -m herald_tools.cli`
    app()
