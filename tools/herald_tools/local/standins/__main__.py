"""`python -m herald_tools.local.standins`: the SendGrid and Twilio stand-ins in a process of their own.

Prints one JSON line (`{"sendgrid": URL, "twilio": URL}`) once both listen, then serves until terminated.
Benchmarks use it so the stand-ins' own request parsing does not run under the measured process's GIL,
as a real provider's does not.
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from pathlib import Path

from herald_tools.local.standins.faults import FaultPlan
from herald_tools.local.standins.outbox import Outbox
from herald_tools.local.standins.sendgrid import SendGridStandIn
from herald_tools.local.standins.twilio import TwilioStandIn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m herald_tools.local.standins", description=__doc__)
    parser.add_argument("--outbox", type=Path, required=True, help="where accepted messages are written")
    parser.add_argument("--sendgrid-key", required=True, help="the API key the SendGrid stand-in accepts")
    parser.add_argument("--twilio-sid", required=True, help="the Account SID the Twilio stand-in accepts")
    parser.add_argument("--twilio-token", required=True, help="the auth token the Twilio stand-in accepts")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every answer")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    outbox = Outbox(args.outbox)
    with (
        SendGridStandIn(outbox, args.sendgrid_key, faults=FaultPlan(latency_seconds=args.latency)) as sendgrid,
        TwilioStandIn(
            outbox, args.twilio_sid, args.twilio_token, faults=FaultPlan(latency_seconds=args.latency)
        ) as twilio,
    ):
        print(json.dumps({"sendgrid": sendgrid.url, "twilio": twilio.url}), flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
