"""Reference send-email: an SQS batch of channel messages -> SendGrid, written as the Powertools docs show.

BatchProcessor reports partial failures; the idempotency utility keeps a redelivered notification from being
sent twice (its record in DynamoDB: a conditional put when a record starts, an update with the result when it
ends). Records are handled one after the other, as `process_partial_response` does with `BatchProcessor`.

Environment: IDEMPOTENCY_TABLE, SENDGRID_SECRET_ID (a Secrets Manager JSON secret with `api_key`), and for the
stand-ins SENDGRID_API_HOST.
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
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail

processor = BatchProcessor(event_type=EventType.SQS)
persistence_layer = DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])
# Keyed on the notification, not the SQS message id: a copy sent again by the producer is a new message.
config = IdempotencyConfig(event_key_jmespath="powertools_json(body).notification_id")
logger = Logger()


@cache
def sendgrid() -> SendGridAPIClient:
    """Built on first use: the API key is a secret, fetched (and cached) through Powertools' parameters."""
    secret = parameters.get_secret(os.environ["SENDGRID_SECRET_ID"], transform="json")
    host = os.environ.get("SENDGRID_API_HOST")
    client = SendGridAPIClient(secret["api_key"], **({"host": host} if host else {}))
    client.client.timeout = 5
    return client


@idempotent_function(data_keyword_argument="record", config=config, persistence_store=persistence_layer)
def record_handler(record: SQSRecord) -> dict[str, Any]:
    message = json.loads(record.body)
    email = message["email"]
    mail = Mail(
        from_email=email["from_email"],
        to_emails=message["to"],
        subject=email["subject"],
        plain_text_content=email["text"],
        html_content=email["html"],
    )
    mail.add_custom_arg(CustomArg("notification_id", message["notification_id"]))
    response = sendgrid().send(mail)
    logger.info("email sent", extra={"notification_id": message["notification_id"]})
    return {"provider_message_id": response.headers.get("X-Message-Id")}


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    config.register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
