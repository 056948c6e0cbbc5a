"""Reference send-sms: an SQS batch of channel messages -> Twilio, written as the Powertools docs show.

The same shape as send_email.py beside it: BatchProcessor, the idempotency utility on the record handler,
records one after the other.

Environment: IDEMPOTENCY_TABLE, TWILIO_SECRET_ID (a Secrets Manager JSON secret with `account_sid`,
`auth_token`, `from_number`), and for the stand-ins TWILIO_API_BASE_URL.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

processor = BatchProcessor(event_type=EventType.SQS)
persistence_layer = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
# Keyed on the notification, not the SQS message id: a copy sent again by the producer is a new message.
config = IdempotencyConfig(event_key_jmespath="powertools_json(body).notification_id")
logger = Logger()


@cache
def twilio() -> tuple[Client, str]:
    """Built on first use: the credentials are a secret, fetched (and cached) through Powertools' parameters."""
    secret = parameters.get_secret(os.environ["TWILIO_SECRET_ID"], transform="json")
    client = Client(secret["account_sid"], secret["auth_token"], http_client=TwilioHttpClient(timeout=5))
    base_url = os.environ.get("TWILIO_API_BASE_URL")
    if base_url:
        client.api.base_url = base_url.rstrip("/")
    return client, secret["from_number"]


@idempotent_function(data_keyword_argument="record", config=config, persistence_store=persistence_layer)
def record_handler(record: SQSRecord) -> dict[str, Any]:
    message = json.loads(record.body)
    client, from_number = twilio()
    created = client.messages.create(to=message["to"], from_=from_number, body=message["sms"]["body"])
    logger.info("sms sent", extra={"notification_id": message["notification_id"]})
    return {"provider_message_id": created.sid}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
