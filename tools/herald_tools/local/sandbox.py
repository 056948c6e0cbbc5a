"""A fresh Lambda sandbox, in-process: forget every client, setting and secret the handlers cached.

Tests and benchmarks run many "sandboxes" in one interpreter, each against its own emulator endpoint: a client
cached by the previous one would talk to an endpoint that is gone.
"""

from __future__ import annotations


def forget_sandbox() -> None:
    from aws_lambda_powertools.utilities import parameters

    from herald.config import settings
    from herald.handlers import aws, dispatch, fallback, followup, secrets, send_email, send_sms, webhooks

    settings.cache_clear()
    aws.aws_client.cache_clear()
    dispatch.dispatcher.cache_clear()
    followup.follow_ups.cache_clear()
    fallback._fallback_requests.cache_clear()
    for module in (send_email, send_sms):
        module.sender._sender.cache_clear()
    send_sms._suppressions.cache_clear()
    webhooks._deps.cache_clear()
    webhooks._sendgrid_key.cache_clear()
    secrets._provider.cache_clear()
    parameters.clear_caches()
