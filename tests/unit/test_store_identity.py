"""The storefront side of the senders: the entry's sender identity on the message, and SES's identity ARN."""

from __future__ import annotations

from typing import Any

from tests.messages import channel_message
from tests.storefronts import storefront

from herald.adapters.ses_email import SesEmail
from herald.domain.notification import Channel
from herald.domain.storefront import StaticStorefronts
from herald.handlers.storefront_senders import StorefrontSes, with_store_sender

ARN = "arn:aws:ses:us-east-1:111122223333:identity/acme.example"


class RecordingSes:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.requests.append(request)
        return {"MessageId": "ses-1"}


def test_an_email_takes_its_storefronts_from_name_and_reply_to() -> None:
    # Given an email rendered with the deployment's From, and its storefront's entry
    message = channel_message(Channel.EMAIL)
    entry = storefront(
        message.source, email_from="shop@acme.example", email_from_name="Acme", reply_to="help@acme.example"
    )
    # When the sender puts the storefront's identity on it
    sent = with_store_sender(message, entry)
    # Then From, name and Reply-To are the entry's, and the rest of the message is unchanged
    assert sent.email is not None
    assert (sent.email.from_email, sent.email.from_name, sent.email.reply_to) == (
        "shop@acme.example",
        "Acme",
        "help@acme.example",
    )
    assert sent.model_dump(exclude={"email"}) == message.model_dump(exclude={"email"})


def test_an_sms_is_left_as_it_is() -> None:
    # Given an SMS and its storefront's entry / When applied / Then the message is as dispatch rendered it
    message = channel_message(Channel.SMS)
    assert with_store_sender(message, storefront(message.source)) == message


def test_ses_sends_as_an_identity_given_by_arn_and_infers_a_plain_one() -> None:
    # Given SES behind two entries: one names its identity by ARN (another account's), one by domain
    message = channel_message(Channel.EMAIL)
    client = RecordingSes()
    by_arn = StorefrontSes(StaticStorefronts([storefront(message.source, ses_identity=ARN)]), SesEmail(client))
    by_domain = StorefrontSes(
        StaticStorefronts([storefront(message.source, ses_identity="acme.example")]), SesEmail(client)
    )
    # When each sends
    by_arn.send(message)
    by_domain.send(message)
    # Then the ARN is passed as SES's FromEmailAddressIdentityArn; a domain leaves SES to match the From
    assert client.requests[0]["FromEmailAddressIdentityArn"] == ARN
    assert "FromEmailAddressIdentityArn" not in client.requests[1]
