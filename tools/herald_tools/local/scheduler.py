"""EventBridge Scheduler's part in the local runtime: moto stores one-time schedules but never runs them.

The stack's schedule group (moto's CloudFormation does not create AWS::Scheduler::ScheduleGroup) is created
under the name the functions were given, and a pump runs each one-time schedule in it once its `at()` time has
come, as Scheduler would: its input goes to its target queue, then the schedule deletes itself
(ActionAfterCompletion=DELETE, the only kind Herald makes).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

_POLL_SECONDS = 1.0
_AT_FORMAT = "at(%Y-%m-%dT%H:%M:%S)"


def due_time(expression: str) -> datetime | None:
    """The UTC time of a one-time schedule (`at(...)`, Herald schedules in UTC), None for any other kind."""
    try:
        return datetime.strptime(expression, _AT_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


class LocalScheduler:
    def __init__(
        self, scheduler: Any, sqs: Any, group: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self._scheduler = scheduler
        self._sqs = sqs
        self.group = group
        self._clock = clock
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.fired: list[str] = []  # names of the schedules run, in order

    def start(self) -> None:
        existing = {g["Name"] for g in self._scheduler.list_schedule_groups()["ScheduleGroups"]}
        if self.group not in existing:
            self._scheduler.create_schedule_group(Name=self.group)
        self._thread = threading.Thread(target=self._pump, name="local-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def run_due(self, now: datetime | None = None) -> list[str]:
        """Run every schedule of the group whose time has come (by `now`, else the clock); return their names.

        A demo or a test passes a later `now` to let days pass: the schedules then run as they will deployed."""
        now = now or self._clock()
        ran = []
        for listed in self._scheduler.list_schedules(GroupName=self.group)["Schedules"]:
            schedule = self._scheduler.get_schedule(GroupName=self.group, Name=listed["Name"])
            due = due_time(schedule["ScheduleExpression"])
            if due is None or due > now:
                continue
            target = schedule["Target"]
            queue_name = target["Arn"].rsplit(":", 1)[-1]
            url = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            self._sqs.send_message(QueueUrl=url, MessageBody=target["Input"])
            self._scheduler.delete_schedule(GroupName=self.group, Name=schedule["Name"])
            ran.append(schedule["Name"])
        self.fired.extend(ran)
        return ran

    def pending(self) -> list[dict[str, Any]]:
        """The group's schedules not yet run (their name, time and input), for a demo or a test to read."""
        found = []
        for listed in self._scheduler.list_schedules(GroupName=self.group)["Schedules"]:
            schedule = self._scheduler.get_schedule(GroupName=self.group, Name=listed["Name"])
            found.append(
                {"name": schedule["Name"], "at": schedule["ScheduleExpression"], "input": schedule["Target"]["Input"]}
            )
        return found

    def _pump(self) -> None:
        while not self._stopping.wait(_POLL_SECONDS):
            try:
                self.run_due()
            except Exception:
                # The emulator stopping under the pump, or a schedule this pump cannot run: logged, and the
                # next round tries again (Scheduler itself retries a delivery that failed).
                logger.exception("local scheduler: a round failed")
