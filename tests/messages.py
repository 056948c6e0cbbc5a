"""Channel messages for tests that need one notification, not the pipeline that renders it."""

from __future__ import annotations

from typing import Any

from herald.domain.notification import Channel, ChannelMessage, EmailContent, SmsContent


def channel_message(channel: Channel, **changes: Any) -> ChannelMessage:
    """An order confirmation of storefront/acme's order #1001 on `channel`; `changes` replace any field."""
    fields: dict[str, Any] = {
        "notification_id": f"storefront/acme|evt_1|{channel.value}",
        "channel": channel,
        "source": "storefront/acme",
        "event_id": "evt_1",
        "event_type": "order.placed",
        "event_time": "2026-11-27T14:00:00+00:00",
        "order_id": "o-1",
        "order_number": "#1001",
    }
    if channel is Channel.EMAIL:
        fields["to"] = "ada@example.com"
        fields["email"] = EmailContent(
            subject="Order #1001", html="<p>Thanks</p>", text="Thanks", from_email="orders@acme.example"
        )
    else:
        fields["to"] = "+15005550006"
        fields["sms"] = SmsContent(body="Acme: order #1001 confirmed", segments=1, encoding="GSM-7")
    return ChannelMessage(**(fields | changes))
