"""The senders' provider routing: the primary (SendGrid, Twilio) behind a circuit breaker shared in the table, with
the secondary (SES, SNS) taking new sends while the primary's circuit is open, and every deadline escalation."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from herald.domain.circuit import CircuitSwitch
from herald.domain.notification import Channel, ChannelMessage
from herald.handlers.aws import aws_client
from herald.observability import count
from herald.usecases.ports import Direct, Provider, ProviderRouter

if TYPE_CHECKING:
    from herald.config import SenderSettings

SECONDARY_CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"mode": "standard", "total_max_attempts": 2},
}


def secondary_client(service: str) -> Any:
    import boto3
    from botocore.config import Config

    # The SDK's defaults (60 s timeouts, several attempts) would let one slow call eat the Lambda timeout; the
    # queue's back-off is Herald's retry, so the SDK tries twice at most.
    config = Config(**SECONDARY_CLIENT_CONFIG)
    return boto3.client(service, config=config)  # type: ignore[call-overload]


class Lazy:
    """A provider built on its first send. The secondary is rarely needed, and building its client (a service
    model to load) would cost every cold start."""

    def __init__(self, name: str, channel: Channel, build: Callable[[], Provider]) -> None:
        self.name = name
        self.channel = channel
        self._build = build
        self._provider: Provider | None = None
        self._lock = threading.Lock()

    def send(self, message: ChannelMessage) -> str | None:
        provider = self._provider
        if provider is None:
            with self._lock:  # concurrent first sends build it once
                if self._provider is None:
                    self._provider = self._build()
                provider = self._provider
        return provider.send(message)


def routed(primary: Provider, secondary: Provider, config: SenderSettings, logger: Logger) -> ProviderRouter:
    """`primary` with failover to `secondary`, or `primary` alone when failover is turned off."""
    from herald.adapters.dynamodb_circuit import DynamoDbCircuit
    from herald.domain.circuit import CircuitSettings
    from herald.usecases.failover import FailoverRouter

    if not config.failover_enabled:
        return Direct(primary)

    def report(switch: CircuitSwitch) -> None:
        # One report per switch, whichever instance made it (a conditional write decides).
        to, away = (switch.secondary, switch.primary) if switch.opened else (switch.primary, switch.secondary)
        logger.warning(
            f"provider {'failover' if switch.opened else 'recovery'}: {switch.channel} now goes to {to}",
            extra={
                "channel": switch.channel,
                "from_provider": away,
                "to_provider": to,
                "failures": switch.failures,
                "reason": switch.reason,
            },
        )
        count("ProviderFailovers" if switch.opened else "ProviderRecoveries", channel=switch.channel)

    circuit = DynamoDbCircuit(aws_client("dynamodb"), config.table_name, primary.channel.value, primary.name)
    settings_ = CircuitSettings(
        failure_threshold=config.failover_threshold, probe_after_seconds=config.failover_probe_seconds
    )
    # One thread renews the circuit state while the sends go on with the last one read (at most 2 s old).
    refresher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="circuit")
    return FailoverRouter(primary, secondary, circuit, settings_, on_switch=report, refresher=refresher)
