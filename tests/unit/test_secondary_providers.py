"""The secondary providers: SES (sesv2 SendEmail) and SNS (Publish to a phone number), against moto and Stubber."""

from __future__ import annotations

from collections.abc import Iterator
from email.header import decode_header, make_header
from email.utils import parseaddr
from typing import Any, Literal

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.stub import Stubber
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

from herald.adapters.aws_errors import MAX_MESSAGE_CHARS, provider_error
from herald.adapters.ses_email import SesEmail, ses_tag_value
from herald.adapters.sns_sms import SnsSms
from herald.domain.errors import ErrorKind, ProviderError
from herald.domain.notification import Channel, ChannelMessage, EmailContent, SmsContent, notification_id
from herald.usecases.ports import Provider

REGION = "us-east-1"
SENDER = "orders@acme.example"
CUSTOMER_EMAIL = "jo@example.com"
CUSTOMER_PHONE = "+14155550100"
Service = Literal["sesv2", "sns"]


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


@pytest.fixture
def sesv2(aws: None) -> Any:
    return boto3.client("sesv2", region_name=REGION)


@pytest.fixture
def verified_sesv2(sesv2: Any) -> Any:
    sesv2.create_email_identity(EmailIdentity=SENDER)
    return sesv2


@pytest.fixture
def sns(aws: None) -> Any:
    return boto3.client("sns", region_name=REGION)


def email_message(**changes: Any) -> ChannelMessage:
    content = EmailContent(
        subject="Your order 1001 is confirmed",
        html="<p>Thanks for your order 1001.</p>",
        text="Thanks for your order 1001.",
        from_email=SENDER,
        from_name="Acme Outdoor",
        reply_to="help@acme.example",
    )
    fields: dict[str, Any] = {
        "notification_id": notification_id("acme", "evt-1", Channel.EMAIL),
        "channel": Channel.EMAIL,
        "source": "acme",
        "event_id": "evt-1",
        "event_type": "order.confirmed",
        "event_time": "2024-05-01T12:00:00Z",
        "order_id": "ord-1",
        "order_number": "1001",
        "to": CUSTOMER_EMAIL,
        "email": content,
    }
    fields.update(changes)
    return ChannelMessage(**fields)


def sms_message(**changes: Any) -> ChannelMessage:
    fields: dict[str, Any] = {
        "notification_id": notification_id("acme", "evt-1", Channel.SMS),
        "channel": Channel.SMS,
        "source": "acme",
        "event_id": "evt-1",
        "event_type": "order.confirmed",
        "event_time": "2024-05-01T12:00:00Z",
        "order_id": "ord-1",
        "order_number": "1001",
        "to": CUSTOMER_PHONE,
        "sms": SmsContent(body="Acme: order 1001 confirmed.", segments=1, encoding="GSM-7"),
    }
    fields.update(changes)
    return ChannelMessage(**fields)


def record_params(client: Any, operation: str) -> list[dict[str, Any]]:
    """The API parameters of each `operation` call, as the client sends them (moto keeps only some of them)."""
    calls: list[dict[str, Any]] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        calls.append(dict(params))

    client.meta.events.register(f"provide-client-params.{client.meta.service_model.service_name}.{operation}", remember)
    return calls


def ses_sent(index: int = -1) -> Any:
    # sesv2 send_email is stored by moto's SES v1 backend (sesv2 "piggy backs" on it).
    return ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages[index]


def sns_sms_sent() -> dict[str, tuple[str, str]]:
    return dict(sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages)


def unreachable(service: Service) -> Any:
    # Port 9 (discard) has no listener: the connection is refused at once. One attempt, no retries.
    return boto3.client(
        service,
        region_name=REGION,
        endpoint_url="http://127.0.0.1:9",
        config=Config(connect_timeout=1, read_timeout=1, retries={"total_max_attempts": 1}),
    )


class Raising:
    """A client whose every call raises `error` (botocore's timeouts cannot be produced by Stubber)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def send_email(self, **_: Any) -> Any:
        raise self.error

    def publish(self, **_: Any) -> Any:
        raise self.error


# --- SES ---------------------------------------------------------------------------------------------------------


def test_ses_email_and_sns_sms_are_providers_of_their_channels() -> None:
    # Given / When
    providers: list[Provider] = [SesEmail(object()), SnsSms(object())]

    # Then
    assert [(p.name, p.channel) for p in providers] == [("ses", Channel.EMAIL), ("sns", Channel.SMS)]


def test_ses_send_from_a_verified_sender_returns_the_message_id_moto_holds(verified_sesv2: Any) -> None:
    # Given
    provider = SesEmail(verified_sesv2)

    # When
    message_id = provider.send(email_message())

    # Then
    sent = ses_sent()
    assert message_id == sent.id
    assert sent.subject == "Your order 1001 is confirmed"
    assert sent.destinations == {"ToAddresses": [CUSTOMER_EMAIL]}
    assert sent.body == "<p>Thanks for your order 1001.</p>"  # moto keeps the HTML part when there is one
    assert parseaddr(sent.source) == ("Acme Outdoor", SENDER)


def test_ses_request_carries_both_bodies_reply_to_configuration_set_and_tags(verified_sesv2: Any) -> None:
    # Given
    calls = record_params(verified_sesv2, "SendEmail")
    provider = SesEmail(verified_sesv2, configuration_set="herald-events")

    # When
    provider.send(email_message())

    # Then
    (request,) = calls
    assert request["Content"]["Simple"] == {
        "Subject": {"Data": "Your order 1001 is confirmed", "Charset": "UTF-8"},
        "Body": {
            "Text": {"Data": "Thanks for your order 1001.", "Charset": "UTF-8"},
            "Html": {"Data": "<p>Thanks for your order 1001.</p>", "Charset": "UTF-8"},
        },
    }
    assert request["ReplyToAddresses"] == ["help@acme.example"]
    assert request["ConfigurationSetName"] == "herald-events"
    assert request["EmailTags"] == [
        {"Name": "notification_id", "Value": "acme_evt-1_email"},
        {"Name": "source", "Value": "acme"},
        {"Name": "event_id", "Value": "evt-1"},
        {"Name": "order_id", "Value": "ord-1"},
    ]


def test_ses_request_leaves_out_reply_to_and_configuration_set_when_absent(verified_sesv2: Any) -> None:
    # Given
    calls = record_params(verified_sesv2, "SendEmail")
    content = email_message().email
    assert content is not None
    message = email_message(email=content.model_copy(update={"reply_to": None, "from_name": None}))

    # When
    SesEmail(verified_sesv2).send(message)

    # Then
    (request,) = calls
    assert "ReplyToAddresses" not in request
    assert "ConfigurationSetName" not in request
    assert request["FromEmailAddress"] == SENDER


def test_ses_sends_a_non_ascii_display_name_as_an_encoded_word(verified_sesv2: Any) -> None:
    # Given
    content = email_message().email
    assert content is not None
    message = email_message(email=content.model_copy(update={"from_name": "Zoë's Café, Zürich"}))

    # When
    SesEmail(verified_sesv2).send(message)

    # Then
    raw_name, address = parseaddr(ses_sent().source)
    assert raw_name.isascii()
    assert raw_name.startswith("=?utf-8?")
    assert str(make_header(decode_header(raw_name))) == "Zoë's Café, Zürich"
    assert address == SENDER


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("evt-1_ok", "evt-1_ok"),
        ("acme|evt-1|email", "acme_evt-1_email"),
        ("order.1001@acme.example", "order_1001_acme_example"),
        ("café 42", "caf__42"),
        ("x" * 300, "x" * 256),
    ],
)
def test_ses_tag_value_keeps_only_what_ses_allows(value: str, expected: str) -> None:
    # Given / When
    sanitised = ses_tag_value(value)

    # Then
    assert sanitised == expected


def test_ses_sends_sanitised_tags_and_drops_an_empty_one(verified_sesv2: Any) -> None:
    # Given
    calls = record_params(verified_sesv2, "SendEmail")
    message = email_message(
        notification_id="shop.eu|2024/05:evt 7|email", source="shop.eu", event_id="2024/05:evt 7", order_id=""
    )

    # When
    SesEmail(verified_sesv2).send(message)

    # Then
    (request,) = calls
    assert request["EmailTags"] == [
        {"Name": "notification_id", "Value": "shop_eu_2024_05_evt_7_email"},
        {"Name": "source", "Value": "shop_eu"},
        {"Name": "event_id", "Value": "2024_05_evt_7"},
    ]


def test_ses_unverified_sender_is_a_permanent_message_rejected(sesv2: Any) -> None:
    # Given: no identity for the From address
    provider = SesEmail(sesv2)

    # When
    with pytest.raises(ProviderError) as raised:
        provider.send(email_message())

    # Then
    assert raised.value.kind is ErrorKind.PERMANENT
    assert raised.value.code == "MessageRejected"
    assert raised.value.http_status == 400
    assert "not verified" in raised.value.message


def test_ses_a_verified_domain_covers_its_addresses(sesv2: Any) -> None:
    # Given
    sesv2.create_email_identity(EmailIdentity="acme.example")

    # When
    message_id = SesEmail(sesv2).send(email_message())

    # Then
    assert message_id == ses_sent().id


# --- SNS ---------------------------------------------------------------------------------------------------------


def test_sns_publish_to_an_e164_number_returns_the_id_moto_records(sns: Any) -> None:
    # Given
    provider = SnsSms(sns)

    # When
    message_id = provider.send(sms_message())

    # Then
    assert message_id is not None
    assert sns_sms_sent() == {message_id: (CUSTOMER_PHONE, "Acme: order 1001 confirmed.")}


def test_sns_publish_is_transactional_with_the_configured_sender_id_and_origination_number(sns: Any) -> None:
    # Given
    calls = record_params(sns, "Publish")
    provider = SnsSms(sns, sender_id="ACME", origination_number="+14155550199")

    # When
    provider.send(sms_message())

    # Then
    (request,) = calls
    assert request["PhoneNumber"] == CUSTOMER_PHONE
    assert request["Message"] == "Acme: order 1001 confirmed."
    assert request["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
        "AWS.SNS.SMS.SenderID": {"DataType": "String", "StringValue": "ACME"},
        "AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": "+14155550199"},
    }


def test_sns_publish_without_sender_settings_sets_only_the_sms_type(sns: Any) -> None:
    # Given
    calls = record_params(sns, "Publish")

    # When
    SnsSms(sns).send(sms_message())

    # Then
    (request,) = calls
    assert request["MessageAttributes"] == {
        "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}
    }


def test_sns_number_not_in_e164_is_a_permanent_invalid_parameter(sns: Any) -> None:
    # Given
    provider = SnsSms(sns)

    # When
    with pytest.raises(ProviderError) as raised:
        provider.send(sms_message(to="0415 555 0100"))

    # Then
    assert raised.value.kind is ErrorKind.PERMANENT
    assert raised.value.code == "InvalidParameter"
    assert sns_sms_sent() == {}


# --- Both: errors ------------------------------------------------------------------------------------------------


def ses_provider(client: Any) -> tuple[SesEmail, ChannelMessage]:
    return SesEmail(client), email_message()


def sns_provider(client: Any) -> tuple[SnsSms, ChannelMessage]:
    return SnsSms(client), sms_message()


CHANNELS = [
    pytest.param("sesv2", "send_email", ses_provider, id="ses"),
    pytest.param("sns", "publish", sns_provider, id="sns"),
]


@pytest.mark.parametrize(("service", "operation", "provider_for"), CHANNELS)
@pytest.mark.parametrize(
    ("code", "status"),
    [("Throttling", 400), ("ThrottlingException", 400), ("TooManyRequestsException", 429), ("Throttled", 429)],
)
def test_throttling_is_retryable(service: Service, operation: str, provider_for: Any, code: str, status: int) -> None:
    # Given
    client = boto3.client(service, region_name=REGION)
    provider, message = provider_for(client)
    stubber = Stubber(client)
    stubber.add_client_error(operation, code, "Maximum sending rate exceeded.", http_status_code=status)

    # When
    with stubber, pytest.raises(ProviderError) as raised:
        provider.send(message)

    # Then
    assert raised.value.kind is ErrorKind.RETRYABLE
    assert (raised.value.code, raised.value.http_status) == (code, status)
    assert raised.value.message == "Maximum sending rate exceeded."


@pytest.mark.parametrize(("service", "operation", "provider_for"), CHANNELS)
def test_an_http_500_internal_failure_is_retryable(service: Service, operation: str, provider_for: Any) -> None:
    # Given
    client = boto3.client(service, region_name=REGION)
    provider, message = provider_for(client)
    stubber = Stubber(client)
    stubber.add_client_error(operation, "InternalFailure", "internal error", http_status_code=500)

    # When
    with stubber, pytest.raises(ProviderError) as raised:
        provider.send(message)

    # Then
    assert raised.value.kind is ErrorKind.RETRYABLE
    assert (raised.value.code, raised.value.http_status) == ("InternalFailure", 500)


@pytest.mark.parametrize(("service", "operation", "provider_for"), CHANNELS)
def test_an_unreachable_endpoint_is_a_retryable_connection_error(
    service: Service, operation: str, provider_for: Any
) -> None:
    # Given
    provider, message = provider_for(unreachable(service))

    # When
    with pytest.raises(ProviderError) as raised:
        provider.send(message)

    # Then
    assert raised.value.kind is ErrorKind.RETRYABLE
    assert raised.value.code == "connection"
    assert raised.value.http_status is None


@pytest.mark.parametrize(("service", "operation", "provider_for"), CHANNELS)
def test_a_read_timeout_is_a_retryable_timeout(service: Service, operation: str, provider_for: Any) -> None:
    # Given
    provider, message = provider_for(Raising(ReadTimeoutError(endpoint_url="https://example.invalid")))

    # When
    with pytest.raises(ProviderError) as raised:
        provider.send(message)

    # Then
    assert raised.value.kind is ErrorKind.RETRYABLE
    assert raised.value.code == "timeout"


def test_ses_message_without_email_content_is_permanent_no_content() -> None:
    # Given: a client that must never be called
    provider = SesEmail(Raising(AssertionError("SES called")))

    # When
    with pytest.raises(ProviderError) as raised:
        provider.send(email_message(email=None))

    # Then
    assert (raised.value.kind, raised.value.code) == (ErrorKind.PERMANENT, "herald:no-content")


def test_sns_message_without_sms_content_is_permanent_no_content() -> None:
    # Given: a client that must never be called
    provider = SnsSms(Raising(AssertionError("SNS called")))

    # When
    with pytest.raises(ProviderError) as raised:
        provider.send(sms_message(sms=None))

    # Then
    assert (raised.value.kind, raised.value.code) == (ErrorKind.PERMANENT, "herald:no-content")


# --- aws_errors.provider_error -----------------------------------------------------------------------------------


def client_error(code: str, status: int, message: str = "the AWS message") -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}},  # type: ignore[typeddict-item]
        "SendEmail",
    )


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("Throttling", 400, ErrorKind.RETRYABLE),
        ("ThrottlingException", 400, ErrorKind.RETRYABLE),
        ("TooManyRequestsException", 429, ErrorKind.RETRYABLE),
        ("ServiceUnavailable", 503, ErrorKind.RETRYABLE),
        ("InternalFailure", 500, ErrorKind.RETRYABLE),
        ("InternalError", 500, ErrorKind.RETRYABLE),
        ("InternalErrorException", 500, ErrorKind.RETRYABLE),
        ("RequestTimeout", 408, ErrorKind.RETRYABLE),
        ("SendingPausedException", 400, ErrorKind.RETRYABLE),
        ("LimitExceededException", 400, ErrorKind.RETRYABLE),
        ("SomethingNew", 429, ErrorKind.RETRYABLE),
        ("SomethingNew", 502, ErrorKind.RETRYABLE),
        ("MessageRejected", 400, ErrorKind.PERMANENT),
        ("MailFromDomainNotVerifiedException", 400, ErrorKind.PERMANENT),
        ("InvalidParameter", 400, ErrorKind.PERMANENT),
        ("InvalidParameterValue", 400, ErrorKind.PERMANENT),
        ("BadRequestException", 400, ErrorKind.PERMANENT),
        ("AccountSuspendedException", 400, ErrorKind.PERMANENT),
        ("NotFoundException", 404, ErrorKind.PERMANENT),
        ("AuthorizationError", 403, ErrorKind.PERMANENT),
    ],
)
def test_provider_error_sorts_aws_codes_and_statuses(code: str, status: int, kind: ErrorKind) -> None:
    # Given
    error = client_error(code, status)

    # When
    result = provider_error(error, "SES")

    # Then
    assert (result.kind, result.code, result.message, result.http_status) == (kind, code, "the AWS message", status)


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (
            EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com"),
            ErrorKind.RETRYABLE,
            "connection",
        ),
        (ConnectionClosedError(endpoint_url="https://sns.us-east-1.amazonaws.com"), ErrorKind.RETRYABLE, "connection"),
        (ConnectTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com"), ErrorKind.RETRYABLE, "timeout"),
        (ReadTimeoutError(endpoint_url="https://sns.us-east-1.amazonaws.com"), ErrorKind.RETRYABLE, "timeout"),
        (NoCredentialsError(), ErrorKind.RETRYABLE, "NoCredentialsError"),
        (ParamValidationError(report="Missing required parameter"), ErrorKind.PERMANENT, "ParamValidationError"),
    ],
)
def test_provider_error_sorts_botocore_errors(error: Exception, kind: ErrorKind, code: str) -> None:
    # Given / When
    result = provider_error(error, "SES")

    # Then
    assert (result.kind, result.code, result.http_status) == (kind, code, None)


def test_provider_error_names_the_service_of_a_connection_error() -> None:
    # Given
    error = EndpointConnectionError(endpoint_url="https://sns.us-east-1.amazonaws.com")

    # When
    result = provider_error(error, "SNS")

    # Then
    assert result.message.startswith("SNS unreachable: ")


def test_provider_error_truncates_a_long_aws_message() -> None:
    # Given
    error = client_error("MessageRejected", 400, "x" * 1000)

    # When
    result = provider_error(error, "SES")

    # Then
    assert len(result.message) == MAX_MESSAGE_CHARS
    assert result.message.startswith("x" * 200)


def test_provider_error_without_an_aws_code_uses_the_http_status() -> None:
    # Given: a bare 503 from a load balancer, no AWS error body
    error = ClientError({"Error": {}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "Publish")  # type: ignore[typeddict-item]

    # When
    result = provider_error(error, "SNS")

    # Then
    assert (result.kind, result.code, result.http_status) == (ErrorKind.RETRYABLE, "503", 503)
