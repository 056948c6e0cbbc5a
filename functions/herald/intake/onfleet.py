"""Onfleet task webhooks -> shipment updates.

The body (https://docs.onfleet.com/reference/webhooks): `triggerId`, `triggerName`, `taskId`, `time` (Unix
milliseconds) and `data.task`, the Task: `id`, `shortId`, `trackingURL`, `recipients`, and `completionDetails`
(`success`, `time`, `photoUploadId`/`photoUploadIds`, `signatureUploadId`, `signatureText`, `failureReason`,
`failureNotes`, `successNotes`, `lastLocation`).

Decisions (docs/decisions.md):
- Onfleet has no tracking number: Herald's tracking number for an Onfleet delivery is the task's `shortId` (the
  8-character id Onfleet shows the dispatcher and puts in the tracking URL). The storefront records it as the
  shipment's tracking number (carrier "Onfleet") when it creates the task; the join is by tracking number.
- `taskCompleted` -> shipment.delivered with the proof: the photos as URLs, the completion location as GPS
  (Onfleet's location arrays are [longitude, latitude], GeoJSON order: swapped here), who signed
  (`signatureText`), when (`completionDetails.time`).
- `taskFailed` -> shipment.delivery_attempted, whatever the `failureReason`: the courier went and could not hand
  the parcel over, and the customer needs to hear it and arrange another delivery; an exception would say the
  parcel is in trouble. The reason read is `failureNotes` (the courier's words), else the `failureReason` code in
  words.
- `taskStarted` -> shipment.out_for_delivery: the courier has set off with the parcel.
- Other task triggers (taskEta, taskArrival, taskCreated, taskUpdated, taskAssigned, ...) are recorded as ignored;
  triggers about workers or the organisation carry no task and are not shipment updates at all.

Photo URLs: Onfleet serves an upload's image at `https://d15p8tr8p0vffz.cloudfront.net/<uploadId>/800x.png` (the
form Onfleet's dashboard and integrators use; `ONFLEET_PHOTO_URL` below). An upload id that could not be a path
segment is refused rather than put in a URL.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from herald.intake.meaning import DELIVERED, OUT_FOR_DELIVERY, Meaning, attempted, ignored, unmapped
from herald.intake.reading import build, epoch, fits, mapping, optional_list, optional_text, require_aware, text
from herald.intake.updates import DeliveryProof, IntakeRefused, ShipmentUpdate, Translation

ONFLEET_PHOTO_URL = "https://d15p8tr8p0vffz.cloudfront.net/{upload_id}/800x.png"
CARRIER = "Onfleet"
_UPLOAD_ID = re.compile(r"^[A-Za-z0-9_~*\-]{1,100}$")

TRIGGERS: dict[str, Meaning] = {
    "taskStarted": OUT_FOR_DELIVERY,
    "taskCompleted": DELIVERED,
    "taskFailed": attempted(),
}
IGNORED_TASK_TRIGGERS = frozenset(
    {
        "taskEta",
        "taskArrival",
        "taskCreated",
        "taskUpdated",
        "taskDeleted",
        "taskAssigned",
        "taskUnassigned",
        "taskDelayed",
        "taskCloned",
        "smsRecipientResponseMissed",
        "smsRecipientOptOut",
        "autoDispatchJobCompleted",
        "taskBatchCreateJobCompleted",
        "routeOptimizationJobCompleted",
    }
)


def meaning_of(trigger: str) -> Meaning:
    if trigger in TRIGGERS:
        return TRIGGERS[trigger]
    if trigger in IGNORED_TASK_TRIGGERS:
        return ignored(f"Onfleet trigger {trigger!r} is not a delivery status")
    return unmapped(trigger)


def photo_urls(completion: Mapping[str, Any]) -> tuple[str, ...]:
    ids = optional_list(completion, "photoUploadIds", "completionDetails")
    single = completion.get("photoUploadId")
    if single is not None:
        ids = [single, *ids]
    urls: list[str] = []
    for upload_id in ids:
        if not isinstance(upload_id, str) or not _UPLOAD_ID.fullmatch(upload_id):
            raise IntakeRefused("completionDetails names a photo upload id that is not an Onfleet id")
        url = ONFLEET_PHOTO_URL.format(upload_id=upload_id)
        if url not in urls:
            urls.append(url)
    return tuple(urls)


def gps(completion: Mapping[str, Any]) -> tuple[float | None, float | None]:
    """(latitude, longitude) from Onfleet's [longitude, latitude] `lastLocation`; (None, None) when absent."""
    location = completion.get("lastLocation")
    if location in (None, []):
        return None, None
    if (
        not isinstance(location, list)
        or len(location) != 2
        or not all(isinstance(value, int | float) and not isinstance(value, bool) for value in location)
    ):
        raise IntakeRefused("completionDetails.lastLocation is not [longitude, latitude]")
    longitude, latitude = location
    return float(latitude), float(longitude)


def _attempt_reason(completion: Mapping[str, Any]) -> str | None:
    notes = optional_text(completion, "failureNotes", "completionDetails")
    if notes:
        return notes
    code = optional_text(completion, "failureReason", "completionDetails")
    if code and code != "NONE":
        return code.replace("_", " ").lower()
    return None


def translate_onfleet(payload: Mapping[str, Any], *, received_at: datetime) -> Translation:
    require_aware(received_at)
    body = mapping(payload, "the Onfleet webhook")
    trigger = text(body, "triggerName", "webhook")
    data = body.get("data")
    task_block = data.get("task") if isinstance(data, Mapping) else None
    if task_block is None:
        return Translation(ignored=(f"Onfleet trigger {trigger[:100]!r} carries no task",))
    task = mapping(task_block, "webhook.data.task")
    task_id = text(body, "taskId", "webhook") if "taskId" in body else text(task, "id", "data.task")
    short_id = text(task, "shortId", "data.task")
    completion_block = task.get("completionDetails")
    completion = mapping(completion_block, "data.task.completionDetails") if completion_block is not None else {}
    sent_at = epoch(body["time"], "webhook.time", millis=True) if "time" in body else received_at
    completed_at = completion.get("time")
    meaning = meaning_of(trigger)
    occurred_at = sent_at
    proof = None
    if trigger in ("taskCompleted", "taskFailed") and completed_at is not None:
        occurred_at = epoch(completed_at, "completionDetails.time", millis=True)
    if trigger == "taskCompleted":
        if completion.get("success") is False:
            raise IntakeRefused("an Onfleet taskCompleted whose completionDetails.success is false")
        latitude, longitude = gps(completion)
        proof = fits(
            lambda: DeliveryProof(
                delivered_at=occurred_at,
                photo_urls=photo_urls(completion),
                latitude=latitude,
                longitude=longitude,
                received_by=optional_text(completion, "signatureText", "completionDetails"),
            )
        )
    if trigger == "taskFailed":
        meaning = attempted(_attempt_reason(completion))
    notes = optional_text(completion, "successNotes", "completionDetails") or optional_text(
        completion, "notes", "completionDetails"
    )
    return build(
        lambda: ShipmentUpdate(
            platform="onfleet",
            update_id=f"{task_id}:{trigger}",
            carrier=CARRIER,
            tracking_number=short_id,
            tracking_url=optional_text(task, "trackingURL", "data.task"),
            status=trigger,
            substatus=optional_text(completion, "failureReason", "completionDetails"),
            occurred_at=occurred_at,
            message=notes if trigger == "taskCompleted" else None,
            proof=proof,
            **meaning.fields(),
        )
    )
