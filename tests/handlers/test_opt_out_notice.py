"""The first SMS a storefront sends to a number says how to opt out (issue 9, section 5)."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from herald.adapters.dynamodb_opt_out_notices import DynamoDbOptOutNotices
from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import Channel, ChannelMessage, SmsContent
from herald.domain.suppression import OPT_OUT_LINE
from herald.handlers import dispatch, send_sms
from herald.rendering.gsm import segment_count
from herald.rendering.renderer import MAX_SMS_SEGMENTS
from herald.usecases.opt_out_notice import OptOutNotice
from herald.usecases.ports import Accepted

from .conftest import TABLE, Env, sample

NUMBER = "+15005550006"


def send(env: Env, event_id: str, *, source: str = "storefront/acme-outdoor") -> str:
    """Dispatch an order confirmation and send its SMS; the body Twilio's stand-in received."""
    event = sample("order.placed", id=event_id, source=source)
    event["data"]["customer"]["phone"] = NUMBER
    env.publish("order-events", [json.dumps(event)])
    assert env.deliver("order-events", dispatch.handler)["batchItemFailures"] == []
    assert env.deliver("sms", send_sms.handler)["batchItemFailures"] == []
    sent = env.outbox.sms()
    assert sent[-1]["to"] == NUMBER
    return str(sent[-1]["body"])


def test_first_sms_of_each_storefront_to_a_number_says_how_to_opt_out(env: Env) -> None:
    # Given a number no storefront has texted; When one storefront sends it two SMS, and another one its first
    first = send(env, "evt_first_1")
    second = send(env, "evt_first_2")
    other = send(env, "evt_first_3", source="storefront/other-shop")
    # Then the storefront's first carries the opt-out line, its second does not, the other storefront's first does
    assert first.endswith(f" {OPT_OUT_LINE}")
    assert OPT_OUT_LINE not in second
    assert other.endswith(f" {OPT_OUT_LINE}")
    # And each stays within the segment budget
    assert all(segment_count(body) <= MAX_SMS_SEGMENTS for body in (first, second, other))


def test_concurrent_first_sms_claim_the_notice_exactly_once(env: Env) -> None:
    # Given eight SMS to one number, sent at the same moment by eight sender threads
    notices = DynamoDbOptOutNotices(env.dynamodb, TABLE, ttl_days=90)
    start = threading.Barrier(8)

    def claim(n: int) -> bool:
        start.wait()
        return notices.claim("storefront/acme", NUMBER, f"storefront/acme|evt_{n}|sms")

    # When each claims the opt-out notice
    with ThreadPoolExecutor(8) as pool:
        won = list(pool.map(claim, range(8)))
    # Then exactly one carries the line, and it keeps it on its own retry while the others still do not
    assert won.count(True) == 1
    winner = won.index(True)
    assert notices.claim("storefront/acme", NUMBER, f"storefront/acme|evt_{winner}|sms")
    assert not notices.claim("storefront/acme", NUMBER, f"storefront/acme|evt_{(winner + 1) % 8}|sms")


class _Refusing:
    channel = Channel.SMS

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, message: ChannelMessage) -> Accepted:
        assert message.sms is not None
        self.bodies.append(message.sms.body)
        if len(self.bodies) == 1:
            raise ProviderError(ErrorKind.PERMANENT, "21211", "invalid 'To' number")
        return Accepted(provider="twilio", message_id=f"SM{len(self.bodies)}")


def _message(event_id: str) -> ChannelMessage:
    body = "Acme: order 1001 is confirmed."
    return ChannelMessage(
        notification_id=f"storefront/acme|{event_id}|sms",
        channel=Channel.SMS,
        source="storefront/acme",
        event_id=event_id,
        event_type="order.placed",
        event_time="2026-12-01T10:00:00Z",
        order_id="ord_1",
        order_number="1001",
        to=NUMBER,
        sms=SmsContent(
            body=body, segments=1, encoding="GSM-7", opt_out_body=f"{body} {OPT_OUT_LINE}", opt_out_segments=1
        ),
    )


def test_a_first_sms_refused_for_good_gives_the_notice_to_the_next(env: Env) -> None:
    # Given a first SMS that the provider refuses for good
    provider = _Refusing()
    router = OptOutNotice(provider, DynamoDbOptOutNotices(env.dynamodb, TABLE, ttl_days=90))
    with pytest.raises(ProviderError):
        router.send(_message("evt_refused"))
    # When the next SMS to the number is sent
    router.send(_message("evt_next"))
    # Then it is the one that says how to opt out (the customer never got the first)
    assert provider.bodies[0].endswith(OPT_OUT_LINE)
    assert provider.bodies[1].endswith(OPT_OUT_LINE)
