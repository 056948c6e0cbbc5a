"""Logging, metrics and tracing in one place: Powertools, with personal data masked."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import wraps
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from herald.domain.masking import mask_text


class MaskingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter, with every email address and phone number masked on the way out.

    Masking the serialised line (not individual keys) also covers exception messages and provider
    error bodies that quote a recipient.
    """

    def serialize(self, log: dict[str, Any]) -> str:  # type: ignore[override]
        return mask_text(super().serialize(log))


def build_logger() -> Logger:
    # Service name and level come from POWERTOOLS_SERVICE_NAME / LOG_LEVEL, which the template sets per function.
    return Logger(logger_formatter=MaskingFormatter(), utc=True)


def count(name: str, *, channel: str | None = None, event_type: str | None = None, value: float = 1) -> None:
    """One EMF metric with its own dimensions (Powertools Metrics shares dimensions across a flush)."""
    emit(name, value, MetricUnit.Count, channel=channel, event_type=event_type)


def emit(name: str, value: float, unit: MetricUnit, **dimensions: str | None) -> None:
    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Herald")
    with single_metric(name=name, unit=unit, value=value, namespace=namespace) as metric:
        for key, dim in dimensions.items():
            if dim:
                metric.add_dimension(name=key, value=dim)


def tracing_enabled() -> bool:
    return os.environ.get("HERALD_TRACING", "false").lower() == "true"


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def traced(handler: Handler) -> Handler:
    """Wrap `handler` with Powertools Tracer only when HERALD_TRACING is true.

    `Tracer()` imports the X-Ray SDK (about 600 ms of cold start, even disabled), so it is imported
    on the first invocation and only when tracing is on; otherwise the handler runs as it is.
    """
    chosen: list[Handler] = []

    @wraps(handler)
    def wrapper(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if not chosen:
            if tracing_enabled():
                from aws_lambda_powertools import Tracer

                chosen.append(Tracer().capture_lambda_handler(handler))
            else:
                chosen.append(handler)
        return chosen[0](event, context)

    return wrapper
