"""Late-delivery checks on EventBridge Scheduler: one one-time schedule per check, delivering it to the checks
queue at its due time; a check already due goes to the queue at once.

Why Scheduler and not an SQS delay chain: a promise is days away and SQS delays a message 15 minutes at most, so
a chain would wake a function ~100 times a day per shipment in flight; a one-time schedule costs one invocation,
and deletes itself once it has run (ActionAfterCompletion=DELETE).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from herald.domain.late_delivery import LateCheck, schedule_name

# Scheduler invokes with one-minute precision and a one-time schedule must lie in the future: a check due within
# this margin goes straight to the queue.
_DUE_NOW = timedelta(minutes=2)
# Spread the morning's checks (every promise of one day in one zone falls due at 09:00) over a quarter hour.
FLEXIBLE_WINDOW_MINUTES = 15
# Scheduler retries a delivery to the queue for up to a day, then hands the check to the dead-letter queue.
_RETRY_POLICY = {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185}


@dataclass(frozen=True)
class LateCheckTargets:
    """Where the checks go: the template's schedule group, the checks queue (and its DLQ), Scheduler's role."""

    schedule_group: str
    queue_url: str
    queue_arn: str
    dead_letter_arn: str
    scheduler_role_arn: str


class SchedulerLateChecks:
    def __init__(
        self,
        scheduler: Any,
        sqs: Any,
        targets: LateCheckTargets,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._scheduler = scheduler
        self._sqs = sqs
        self._targets = targets
        self._clock = clock

    def schedule(self, check: LateCheck) -> None:
        body = check.model_dump_json()
        if check.due <= self._clock() + _DUE_NOW:
            # Already due (an estimate that passed before Herald heard of it): check now. The notice's event id
            # keeps a check sent twice to one notice.
            self._sqs.send_message(QueueUrl=self._targets.queue_url, MessageBody=body)
            return
        name = schedule_name(check)
        try:
            self._scheduler.create_schedule(
                Name=name,
                GroupName=self._targets.schedule_group,
                ScheduleExpression=f"at({check.due.astimezone(UTC):%Y-%m-%dT%H:%M:%S})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": FLEXIBLE_WINDOW_MINUTES},
                ActionAfterCompletion="DELETE",
                ClientToken=name,
                Target={
                    "Arn": self._targets.queue_arn,
                    "RoleArn": self._targets.scheduler_role_arn,
                    "Input": body,
                    "DeadLetterConfig": {"Arn": self._targets.dead_letter_arn},
                    "RetryPolicy": _RETRY_POLICY,
                },
            )
        except ClientError as error:
            # The same check scheduled before (a redelivered event): it already runs once. Anything else raises
            # and the event is redelivered.
            if error.response.get("Error", {}).get("Code") != "ConflictException":
                raise
