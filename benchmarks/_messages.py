"""Channel messages as Herald's dispatch renders them, and what both Herald's senders and the reference ones need
around them (the storefront's registry entry, the reference's idempotency table), for the send benchmarks.

The messages come from the real Dispatcher (rendering, channel choice) over in-process fakes (fakes.py): the
benchmarks that use them measure the send side, so dispatch's own AWS calls are left out of their setup.
"""

from __future__ import annotations

import io
from contextlib import redirect_stdout
from typing import Any

from _aws import order_events

from herald.domain.phone import to_e164
from herald.domain.storefront import Storefront
from herald_tools.local.ports import accepting_twilio_test_numbers

SAMPLE_SOURCE = "storefront/acme-outdoor"  # the source of every sample in events/
REGISTRY_PATH = "/herald/bench/storefronts"
REFERENCE_TABLE = "reference-idempotency"
BENCH_SENDER = "AIDAIT2UOQQY3AUEKVGXU"  # moto's SenderId for every message (fakes.BENCH_SENDER_ID)


def channel_bodies(count: int, prefix: str) -> dict[str, list[str]]:
    """`count` order.placed events dispatched: the JSON bodies of their email and SMS channel messages."""
    import json

    from fakes import BENCH_SENDER_ID, EverySource, FakeLedger, FakeQueue

    from herald.rendering.renderer import Renderer
    from herald.usecases.dispatch import Dispatcher

    queue = FakeQueue()
    dispatcher = Dispatcher(
        FakeLedger(), queue, Renderer(), storefronts=EverySource(), phone=accepting_twilio_test_numbers(to_e164)
    )
    bodies = [json.dumps(event) for event in order_events(count, prefix=prefix)]
    with redirect_stdout(io.StringIO()):  # dispatch's metrics (EMF lines) are not this benchmark's figures
        dispatcher.complete([dispatcher.plan(body, f"m{i}", BENCH_SENDER_ID) for i, body in enumerate(bodies)])
    by_channel: dict[str, list[str]] = {"email": [], "sms": []}
    for message in queue.messages:
        by_channel[str(message.channel)].append(message.model_dump_json(exclude_none=True))
    if any(len(found) != count for found in by_channel.values()):
        raise RuntimeError(f"expected {count} messages per channel, got { {k: len(v) for k, v in by_channel.items()} }")
    return by_channel


def sample_storefront() -> Storefront:
    """The samples' storefront: sends as acme.example through the bench secrets."""
    return Storefront(
        source=SAMPLE_SOURCE,
        name="Acme Outdoor",
        email_from="orders@acme.example",
        sendgrid_secret_id="herald/sendgrid",  # noqa: S106 - a secret's name, not a secret
        twilio_secret_id="herald/twilio",  # noqa: S106 - a secret's name, not a secret
        sms_from="+15005550006",
        publishers=(BENCH_SENDER,),
    )


def seed_registry(ssm: Any, path: str = REGISTRY_PATH) -> None:
    from herald.adapters.ssm_storefronts import SsmStorefronts

    SsmStorefronts(ssm, path).put(sample_storefront())


def create_reference_table(dynamodb: Any, name: str = REFERENCE_TABLE) -> None:
    """The table the Powertools docs tell you to create for the idempotency utility: `id` as partition key."""
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def reference_environment(table: str = REFERENCE_TABLE) -> dict[str, str]:
    """What the reference functions read (their provider hosts are set beside Herald's)."""
    return {
        "IDEMPOTENCY_TABLE": table,
        "SENDGRID_SECRET_ID": "herald/sendgrid",
        "TWILIO_SECRET_ID": "herald/twilio",
    }
