"""`herald intake PLATFORM FILE`: what Herald makes of a platform's payload, without AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.fixtures import FIXTURES_DIR
from typer.testing import CliRunner

from herald_tools.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, list[dict], str]:
    result = runner.invoke(app, ["intake", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


@pytest.mark.parametrize(
    ("platform", "fixture", "expected"),
    [
        ("easypost", "easypost_tracker_updated_event.json", ("shipment.in_transit", "1", "FedEx")),
        (
            "aftership",
            "aftership_tracking_update_intransit_trimmed.json",
            ("shipment.in_transit", "0000000000000000", "usps"),
        ),
        ("shippo", "shippo_track_updated_delivered.json", ("shipment.delivered", "9205590164917312751089", "usps")),
        ("onfleet", "onfleet_task_completed_third_party_example.json", ("shipment.delivered", "8f983639", "Onfleet")),
    ],
)
def test_a_published_carrier_payload_prints_the_shipment_update_it_becomes(
    platform: str, fixture: str, expected: tuple[str, str, str]
) -> None:
    # Given a platform's published payload
    # When a storefront engineer runs herald intake on it
    code, lines, _ = _run(platform, str(FIXTURES_DIR / fixture))
    # Then it prints one shipment update: its Herald type, tracking number and carrier
    assert code == 0
    (line,) = lines
    update = line["shipment_update"]
    assert (update["event_type"], update["tracking_number"], update["carrier"]) == expected


def test_the_onfleet_delivery_prints_its_proof() -> None:
    code, lines, _ = _run("onfleet", str(FIXTURES_DIR / "onfleet_task_completed_third_party_example.json"))
    assert code == 0
    proof = lines[0]["shipment_update"]["proof"]
    assert proof["photo_urls"]
    assert all(url.startswith("https://") for url in proof["photo_urls"])


def test_a_payload_that_is_not_json_is_refused_with_the_reason(tmp_path: Path) -> None:
    # Given a body that is not JSON
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    # When it is run through the intake
    code, lines, stderr = _run("easypost", str(broken))
    # Then nothing is printed as an update, the reason is said, and the exit code is 1
    assert code == 1
    assert lines == []
    assert "refused: body is not JSON" in stderr


def test_a_carrier_payload_missing_its_tracker_is_refused(tmp_path: Path) -> None:
    # Given EasyPost's published event without its tracker
    event = json.loads((FIXTURES_DIR / "easypost_tracker_updated_event.json").read_text())
    del event["result"]
    path = tmp_path / "no-result.json"
    path.write_text(json.dumps(event))
    code, _, stderr = _run("easypost", str(path))
    assert code == 1
    assert "result" in stderr


def test_an_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = _run("easypost", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot read" in stderr
