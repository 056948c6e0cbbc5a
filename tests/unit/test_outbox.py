"""The outbox the local stand-ins write accepted messages to."""

from __future__ import annotations

import json
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pytest

from herald_tools.local.standins.outbox import Outbox, safe_name


def _eml(subject: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "shop@example.com"
    msg["To"] = "ada@example.com"
    msg["Subject"] = subject
    msg.set_content("plain text")
    return msg.as_bytes()


def test_creating_an_outbox_makes_the_email_folder_and_an_empty_view(tmp_path: Path) -> None:
    # Given a root directory that does not exist yet
    root = tmp_path / "nested" / "outbox"

    # When an outbox is created on it
    outbox = Outbox(root)

    # Then root/email exists, the SMS file lives at root/sms.jsonl, and nothing is listed yet
    assert (root / "email").is_dir()
    assert outbox.sms_path == root / "sms.jsonl"
    assert outbox.emails() == []
    assert outbox.sms() == []


def test_write_email_stores_the_eml_and_its_html_copy_under_a_safe_name(tmp_path: Path) -> None:
    # Given an outbox and a notification id full of characters a file name cannot hold
    outbox = Outbox(tmp_path)
    eml = _eml("Your order #1001 is confirmed")

    # When the email is written under that name
    path = outbox.write_email("shopify/store-1|1001:order.created|email", eml, "<p>Hi Ada</p>")

    # Then the .eml and .html sit side by side, named with only [A-Za-z0-9._-]
    assert path == tmp_path / "email" / "shopify_store-1_1001_order.created_email.eml"
    assert path.read_bytes() == eml
    assert path.with_suffix(".html").read_text(encoding="utf-8") == "<p>Hi Ada</p>"
    parsed = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert parsed["Subject"] == "Your order #1001 is confirmed"
    assert outbox.emails() == [path]


def test_write_email_without_html_writes_no_html_file(tmp_path: Path) -> None:
    # Given an outbox
    outbox = Outbox(tmp_path)

    # When a text-only email is written
    path = outbox.write_email("text-only", _eml("Plain"), None)

    # Then there is an .eml and no .html
    assert path.exists()
    assert not path.with_suffix(".html").exists()


def test_writing_the_same_name_twice_keeps_both_copies(tmp_path: Path) -> None:
    # Given an email already stored under a notification id
    outbox = Outbox(tmp_path)
    first = outbox.write_email("n-1", _eml("first"), "<p>1</p>")

    # When the same notification is written again (a duplicate send)
    second = outbox.write_email("n-1", _eml("second"), "<p>2</p>")

    # Then the duplicate is visible as a second file instead of silently replacing the first
    assert first.name == "n-1.eml"
    assert second.name == "n-1-2.eml"
    assert b"first" in first.read_bytes()
    assert b"second" in second.read_bytes()
    assert second.with_suffix(".html").read_text(encoding="utf-8") == "<p>2</p>"
    assert len(outbox.emails()) == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("order-1001.email", "order-1001.email"),
        ("a b/c\\d", "a_b_c_d"),
        ("../../etc/passwd", ".._.._etc_passwd"),
        ("..", "__"),
        ("ünïcode", "_n_code"),
    ],
)
def test_safe_name_keeps_only_portable_file_name_characters(raw: str, expected: str) -> None:
    # Given a raw name / When it is sanitised / Then only [A-Za-z0-9._-] remain and it is never a path
    assert safe_name(raw) == expected
    assert "/" not in safe_name(raw)


def test_safe_name_rejects_an_empty_name() -> None:
    # Given an empty name / When sanitised / Then it is refused rather than becoming ".eml"
    with pytest.raises(ValueError, match="must not be empty"):
        safe_name("")


def test_append_sms_writes_one_json_object_per_line_in_order(tmp_path: Path) -> None:
    # Given an outbox
    outbox = Outbox(tmp_path)

    # When two SMS are appended, one with extras and non-ASCII text
    outbox.append_sms({"to": "+14155550100", "from": "+15005550006", "body": "Shipped", "sid": "SM1"})
    outbox.append_sms(
        {
            "to": "+447700900123",
            "from": "Herald",
            "body": "Livré ✓",
            "sid": "SM2",
            "status_callback": "https://example.com/status",
        }
    )

    # Then the file holds exactly two JSON lines and sms() returns them in order, extras included
    lines = outbox.sms_path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["sid"] for line in lines] == ["SM1", "SM2"]
    records = outbox.sms()
    assert records[1]["body"] == "Livré ✓"
    assert records[1]["status_callback"] == "https://example.com/status"


def test_append_sms_refuses_a_record_without_the_required_fields(tmp_path: Path) -> None:
    # Given an outbox / When a record lacks "sid" / Then it is refused and nothing is written
    outbox = Outbox(tmp_path)
    with pytest.raises(ValueError, match="sid"):
        outbox.append_sms({"to": "+14155550100", "from": "+15005550006", "body": "x"})
    assert outbox.sms() == []


def test_concurrent_writers_never_interleave_or_lose_records(tmp_path: Path) -> None:
    # Given one outbox shared by many threads (the stand-ins serve requests concurrently)
    outbox = Outbox(tmp_path)
    threads_n, per_thread = 8, 25

    def work(t: int) -> None:
        for i in range(per_thread):
            outbox.append_sms({"to": "+14155550100", "from": "+15005550006", "body": "x" * 500, "sid": f"{t}-{i}"})
            outbox.write_email("same-notification", _eml(f"{t}-{i}"), None)

    # When they all write at once
    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Then every SMS line parses, none is lost, and every email got its own file
    sids = {record["sid"] for record in outbox.sms()}
    assert len(sids) == threads_n * per_thread
    assert len(outbox.emails()) == threads_n * per_thread
    assert not list((tmp_path / "email").glob(".tmp-*"))
