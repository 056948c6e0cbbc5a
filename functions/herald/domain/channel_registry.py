"""The channels Herald sends on, as data: one entry per channel, the only place a channel is described.

An entry says how the customer is reached on the channel, which part of the renderer renders it and under which
field of the ChannelMessage its content travels, which queue takes it (the setting holding its URL) and which
function drains that queue and sends. Dispatch, the follow-up function and the queue adapter read the entries and
never branch on a channel's name, so a channel is added by adding its entry to CHANNELS, its templates, its
settings field and its sending function; tests/unit/test_channels_as_data.py sends one only the test registers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pydantic import BaseModel

from herald.domain.notification import Channel, EmailContent, SmsContent

if TYPE_CHECKING:
    # Annotations only: the follow-up function reads the channel queues here without loading the contract models
    # (nor phonenumbers).
    from herald.contract.models import Customer, Envelope
    from herald.domain.phone import PhoneRule
    from herald.domain.storefront import Storefront


class Unreachable(Exception):
    """The customer cannot be reached on the channel; the message is the reason recorded on the skipped notification."""


@dataclass(frozen=True)
class ReachOptions:
    """What the deployment adds to the customer when resolving a recipient.

    `phone`: the rule that normalises a phone number to E.164; None is production's strict rule
    (domain.phone.to_e164). The local runtime passes one that also admits Twilio's test numbers.
    """

    phone: PhoneRule | None = None


@dataclass(frozen=True)
class RenderOptions:
    """What the storefront's registry entry adds to the event when rendering: its sender, name and branding."""

    storefront: Storefront
    # The order's page on Herald (usecases.order_page): every message's main link, when the deployment has one.
    page_url: str | None = None

    @property
    def from_email(self) -> str:
        return self.storefront.email_from

    @property
    def default_store_name(self) -> str:
        return self.storefront.name


class Renderer(Protocol):
    """The parts of herald.rendering.Renderer the production channels use."""

    def email(
        self,
        event: Envelope,
        *,
        from_email: str,
        default_store_name: str,
        storefront: Storefront | None = None,
        page_url: str | None = None,
    ) -> EmailContent: ...
    def sms(
        self,
        event: Envelope,
        *,
        default_store_name: str,
        storefront: Storefront | None = None,
        page_url: str | None = None,
    ) -> SmsContent: ...


@dataclass(frozen=True)
class ChannelSpec:
    channel: Channel
    reach: Callable[[Customer, ReachOptions], str]  # the recipient (address, number) on it; raises Unreachable
    render: Callable[[Renderer, Envelope, RenderOptions], BaseModel]  # the renderer part
    content_field: str  # where the rendered content travels in the ChannelMessage (JSON on the queue)
    template_files: tuple[str, ...]  # what the renderer part reads from an event type's templates folder
    queue_setting: (
        str  # the field of the queueing functions' settings (herald.config) holding the URL of the channel's queue
    )
    sender: str  # the Lambda handler that drains that queue and sends (template.yaml wires it)
    # A non-urgent message in the customer's night waits until the morning (domain.quiet_hours): an SMS wakes
    # people, an email does not.
    quiet_hours: bool = False


def _email_address(customer: Customer, options: ReachOptions) -> str:
    if not customer.email:
        raise Unreachable("customer has no email address")
    return customer.email


def _phone_number(customer: Customer, options: ReachOptions) -> str:
    if not customer.phone:
        raise Unreachable("customer has no phone number")
    if not customer.sms_consent:
        raise Unreachable("customer has not consented to SMS")
    # Imported on first use: phonenumbers is only needed by dispatch, not by the functions reading the queues here.
    from herald.domain.phone import PhoneNotUsable, to_e164

    try:
        return (options.phone or to_e164)(customer.phone, customer.country)
    except PhoneNotUsable as exc:
        raise Unreachable(str(exc)) from exc


def _render_email(renderer: Renderer, event: Envelope, options: RenderOptions) -> BaseModel:
    return renderer.email(
        event,
        from_email=options.from_email,
        default_store_name=options.default_store_name,
        storefront=options.storefront,
        page_url=options.page_url,
    )


def _render_sms(renderer: Renderer, event: Envelope, options: RenderOptions) -> BaseModel:
    return renderer.sms(
        event, default_store_name=options.default_store_name, storefront=options.storefront, page_url=options.page_url
    )


# In the order channels are resolved, recorded and logged: email first, as before channels were data.
CHANNELS: dict[Channel, ChannelSpec] = {
    Channel.EMAIL: ChannelSpec(
        Channel.EMAIL,
        reach=_email_address,
        render=_render_email,
        content_field="email",
        template_files=("subject.txt", "body.html", "body.txt"),
        queue_setting="email_queue_url",
        sender="herald.handlers.send_email.handler",
    ),
    Channel.SMS: ChannelSpec(
        Channel.SMS,
        reach=_phone_number,
        render=_render_sms,
        content_field="sms",
        template_files=("sms.txt",),
        queue_setting="sms_queue_url",
        sender="herald.handlers.send_sms.handler",
        quiet_hours=True,
    ),
}


def spec_for(channel: Channel) -> ChannelSpec:
    return CHANNELS[channel]
