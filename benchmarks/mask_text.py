"""Cost of masking one log line (herald.domain.masking.mask_text), which every function's logger pays per line.

Run: .venv/bin/python benchmarks/mask_text.py  (prints microseconds per line for typical lines; the figures
depend on the machine and its load).
"""

from __future__ import annotations

import json
import timeit

from herald.domain.masking import mask_text

LINES = {
    "no personal data": {
        "level": "INFO",
        "message": "event dispatched",
        "timestamp": "2026-11-27 14:03:11,123+0000",
        "event_id": "evt_1001",
        "queued": ["email", "sms"],
        "latency_ms": 1234,
    },
    "masked address": {
        "level": "INFO",
        "message": "email sent",
        "notification_id": "storefront/acme|evt_1001|email",
        "to": "j***@example.com",
        "timestamp": "2026-11-27 14:03:11,123+0000",
    },
    "E.164 number": {
        "level": "WARNING",
        "message": "Twilio refused +14155552671: 21211",
        "timestamp": "2026-11-27 14:03:11,123+0000",
    },
    "national number": {"level": "WARNING", "message": "bounce: call 07700 900123 or o'brien+tag@x.example"},
}


def main() -> None:
    for name, fields in LINES.items():
        line = json.dumps(fields)
        mask_text(line)  # imports and compiles once, as the first line of a sandbox does
        rounds = 2000
        seconds = timeit.timeit(lambda line=line: mask_text(line), number=rounds)
        print(f"mask_text {name:17s} {len(line):4d} chars: {seconds / rounds * 1e6:8.1f} us/line")


if __name__ == "__main__":
    main()
