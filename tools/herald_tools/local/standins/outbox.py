"""The outbox: where the local stand-ins put every message they accept, for a person to open.

Layout under the root directory:

    email/<name>.eml     the message as RFC 5322 (open it in any mail client)
    email/<name>.html    a copy of its HTML part (open it in a browser)
    sms.jsonl            one JSON object per accepted SMS: to, from, body, sid (+ extras)

A name that is already taken gets a numeric suffix (`<name>-2.eml`) instead of overwriting the earlier
file: a notification sent twice must show up twice, because "never two copies" is what Herald is
measured on.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_NAME = 200  # well under the 255-byte file-name limit, leaving room for a suffix and extension
_SMS_REQUIRED = ("to", "from", "body", "sid")


def safe_name(name: str) -> str:
    """`name` reduced to [A-Za-z0-9._-] so it is one plain file name on every platform."""
    cleaned = _UNSAFE.sub("_", name)[:_MAX_NAME]
    # A name made only of dots would be "." or ".." once the extension is stripped by a file manager;
    # keep it visible and harmless.
    if not cleaned.strip("."):
        cleaned = cleaned.replace(".", "_")
    if not cleaned:
        raise ValueError("an outbox name must not be empty")
    return cleaned


def _write_atomically(path: Path, data: bytes) -> None:
    # Write then rename, so a reader (a person, a test polling the folder) never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Outbox:
    """A directory of sent messages. Safe to share between the email and SMS stand-ins' threads."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.email_dir = self.root / "email"
        self.sms_path = self.root / "sms.jsonl"
        self.email_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def write_email(self, name: str, eml: bytes, html: str | None) -> Path:
        """Store one email as `<safe name>.eml` (+ `.html` when it has an HTML part); return the .eml path."""
        stem = safe_name(name)
        with self._lock:
            candidate, n = stem, 1
            while (self.email_dir / f"{candidate}.eml").exists():
                n += 1
                candidate = f"{stem}-{n}"
            eml_path = self.email_dir / f"{candidate}.eml"
            if html is not None:
                _write_atomically(eml_path.with_suffix(".html"), html.encode("utf-8"))
            # The .eml goes last: its existence is what claims the name and what emails() lists.
            _write_atomically(eml_path, eml)
        return eml_path

    def append_sms(self, record: dict[str, Any]) -> None:
        """Append one SMS as a JSON line. `to`, `from`, `body` and `sid` are required."""
        missing = [key for key in _SMS_REQUIRED if key not in record]
        if missing:
            raise ValueError(f"an SMS record needs {missing}")
        line = json.dumps(record, ensure_ascii=False, sort_keys=False) + "\n"
        with self._lock, self.sms_path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()

    def emails(self) -> list[Path]:
        """Every stored .eml, oldest first."""
        paths = [p for p in self.email_dir.glob("*.eml") if not p.name.startswith(".tmp-")]
        return sorted(paths, key=lambda p: (p.stat().st_mtime_ns, p.name))

    def sms(self) -> list[dict[str, Any]]:
        """Every stored SMS record, in the order they were accepted."""
        with self._lock:
            if not self.sms_path.exists():
                return []
            text = self.sms_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]
