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

if TYPE_CHECKING:
    from herald.publisher import Publisher, PublishReport

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
JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})


@app.callback()
def main() -> None:
    """Herald: order and shipment notifications (email and SMS) from storefront events."""
    # A callback keeps `herald publish` a sub-command even while it is the only one.


# --- herald publish ---------------------------------------------------------------------------


class _UsageProblem(Exception):
    """A problem with the command line or its files: reported on stderr, exit code 2."""


Origin = str
Item = dict[str, Any] | str
_NOT_JSON = object()


def read_events(path: Path) -> list[tuple[Origin, Item]]:
    """The events in one file, each with where it came from (`file`, `file[3]` or `file:12`).

    A file is one JSON object, a JSON array of them, or JSON Lines (one event per line; detected by
    the `.jsonl`/`.ndjson` suffix or by a first line that is JSON on its own). A file that is none
    of these is one event whose body is the whole text: the publisher rejects it with the JSON error.
    `-` reads standard input.
    """
    name = str(path)
    try:
        text = sys.stdin.read() if name == "-" else path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _UsageProblem(f"cannot read {name}: {exc}") from None
    if not text.strip():
        raise _UsageProblem(f"{name} holds no events")
    if path.suffix.lower() not in JSON_LINES_SUFFIXES:
        try:
            document = json.loads(text)
        except ValueError:
            document = _NOT_JSON
        if isinstance(document, list):
            return [(f"{name}[{i}]", _item(element)) for i, element in enumerate(document)]
        if document is not _NOT_JSON:
            return [(name, _item(document))]
        if not _first_line_is_json(text):
            return [(name, text)]
    return [(f"{name}:{number}", line.strip()) for number, line in enumerate(text.splitlines(), 1) if line.strip()]


def _item(document: Any) -> Item:
    # Anything but an object still goes to the publisher, which rejects it with the contract's reason.
    return document if isinstance(document, dict) else json.dumps(document)


def _first_line_is_json(text: str) -> bool:
    first = next(line for line in text.splitlines() if line.strip())
    try:
        json.loads(first)
    except ValueError:
        return False
    return True


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

    from herald.publisher import (
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
    try:
        items = [entry for path in files for entry in read_events(path)]
        publisher = _publisher(stack, order_queue_url, shipment_queue_url, endpoint_url, region)
    except _UsageProblem as exc:
        typer.echo(f"herald publish: error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
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
) -> None:
    """Run the whole pipeline on this machine: moto, template.yaml, the functions and provider stand-ins.

    Exit code: 0 when every event is accounted for, 1 when a notification is missing or was sent twice.
    """
    from rich.console import Console

    from herald.local.demo import print_summary, run_demo

    # Rich wraps to 80 columns when not on a terminal (CI, a pipe): the summary needs more.
    console = Console(width=None if sys.stdout.isatty() else 130)
    with console.status("Starting moto, deploying template.yaml, starting the functions and stand-ins..."):
        run = run_demo(
            events, template=template, outbox_dir=outbox, work_dir=Path(".herald"), timeout=timeout, paced=not burst
        )
    print_summary(run, console)
    if report is not None:
        report.write_text(json.dumps(run.report, indent=2) + "\n", encoding="utf-8")
        console.print(f"Report written to {report}")
    raise typer.Exit(1 if run.problems else 0)


if __name__ == "__main__":  # `python -m herald.cli`
    app()
