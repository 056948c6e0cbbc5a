"""How long the webhooks function takes to refuse a hostile Twilio callback: before and after issue 9, section 3.

Two requests, each with a signature that does not verify:
- a status callback of 16,000 form fields (about 150 KB);
- a 200 KiB status callback (51,200 short fields), base64-encoded as API Gateway passes form bodies.

"before" is the verification path as it was (main at eb717c3): the body decoded and parsed whole, the fields kept as
a list of pairs whose `getall` scans every pair, and the Twilio SDK's `RequestValidator.validate`, which calls
`getall` once per distinct name (O(n^2)). It runs in a child process stopped after `--limit` seconds (beyond the
function's 30 s timeout, a request that long is a timeout anyway).
"after" is the real handler (`herald.handlers.webhooks.handler`): the body is bounded first and refused with 413,
before it is decoded, parsed or verified. For the parse-and-verify step itself, the new linear verifier is also
timed on the 16,000 fields with the bound lifted.

Prints the figures and ends with one JSON line. No AWS is touched: the refusals happen before the root is built.
    .venv/bin/python benchmarks/webhook_refusal.py [--limit 40] [--repeat 5]
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import multiprocessing
import os
import time
from typing import Any

from _common import emit_json, machine, median

URL = "https://abc123defg.execute-api.us-east-1.amazonaws.com/webhooks/twilio/status"
TOKEN = "12345"  # noqa: S105 - the Twilio SDK's published test token, not a secret


def fields_body(count: int) -> bytes:
    return "&".join(f"F{i}=v" for i in range(count)).encode()


def body_of_size(size: int) -> bytes:
    """Short fields up to `size` bytes: `Fnnnn=v&` repeated (the worst case for a per-field cost)."""
    parts, total, i = [], 0, 0
    while total < size:
        part = f"F{i}=v"
        parts.append(part)
        total += len(part) + 1
        i += 1
    return "&".join(parts).encode()[:size]


def event(body: bytes, *, encode: bool) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /webhooks/twilio/status",
        "rawPath": "/webhooks/twilio/status",
        "rawQueryString": "",
        "headers": {"x-twilio-signature": "bm90IGl0", "host": "abc123defg.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123defg",
            "domainName": "abc123defg.execute-api.us-east-1.amazonaws.com",
            "http": {
                "method": "POST",
                "path": "/webhooks/twilio/status",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.9",
            },
            "requestId": "bench",
            "routeKey": "POST /webhooks/twilio/status",
            "stage": "$default",
            "time": "01/Dec/2026:00:00:00 +0000",
            "timeEpoch": 1_800_000_000_000,
        },
        "body": base64.b64encode(body).decode() if encode else body.decode(),
        "isBase64Encoded": encode,
    }


# --- before: the old path, reproduced ---------------------------------------------------------------


class OldFormParams:
    """FormParams as it was: a list of pairs; `getall` scans them all."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self._pairs = pairs

    def __iter__(self) -> Any:
        return iter(name for name, _ in self._pairs)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]


def old_refusal(body_b64: str) -> None:
    from urllib.parse import parse_qsl

    from twilio.request_validator import RequestValidator

    text = base64.b64decode(body_b64).decode("utf-8")
    params = OldFormParams(parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict"))
    assert not RequestValidator(TOKEN).validate(URL, params, "bm90IGl0")


def _child(body_b64: str, queue: Any) -> None:
    started = time.perf_counter()
    old_refusal(body_b64)
    queue.put(time.perf_counter() - started)


def before(body: bytes, limit: float) -> float | None:
    """Seconds the old path took, or None when it was still running after `limit` seconds."""
    queue: Any = multiprocessing.Queue()
    child = multiprocessing.Process(target=_child, args=(base64.b64encode(body).decode(), queue))
    child.start()
    child.join(limit)
    if child.is_alive():
        child.terminate()
        child.join()
        return None
    return float(queue.get())


# --- after: the real handler ------------------------------------------------------------------------


class Context:
    function_name = "herald-webhooks-bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:herald-webhooks-bench"
    aws_request_id = "bench"


def after(body: bytes, *, encode: bool, repeat: int) -> tuple[float, int]:
    from herald.handlers import webhooks

    request = event(body, encode=encode)
    samples, status = [], 0
    for _ in range(repeat):
        # The handler prints its WebhooksRefused metric (EMF) to stdout: kept out of the figures.
        with contextlib.redirect_stdout(io.StringIO()):
            started = time.perf_counter()
            status = webhooks.handler(request, Context())["statusCode"]  # type: ignore[arg-type]
            samples.append(time.perf_counter() - started)
    return median(samples), status


def linear_verify(body: bytes, repeat: int) -> float:
    from herald.webhooks.errors import SignatureInvalid
    from herald.webhooks.twilio_signature import FormParams, TwilioWebhookVerifier

    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        params = FormParams.parse(body)
        # The refusal is the expected outcome: what is timed is reaching it.
        with contextlib.suppress(SignatureInvalid):
            TwilioWebhookVerifier(TOKEN).verify(URL, params, {"X-Twilio-Signature": "bm90IGl0"})
        samples.append(time.perf_counter() - started)
    return median(samples)


def _fmt(seconds: float | None, limit: float) -> str:
    return f"> {limit:.0f} s (stopped)" if seconds is None else f"{seconds * 1000:,.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=float, default=40.0, help="seconds before the old path is stopped")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    # The handler's settings are read only once a request passes its bounds; Powertools wants a service name.
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "herald-webhooks-bench")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "HeraldBench")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")

    cases = {"16,000 fields": fields_body(16_000), "200 KiB": body_of_size(200 * 1024)}
    print(f"webhook refusal, bad signature ({machine()})")
    result: dict[str, Any] = {}
    for name, body in cases.items():
        old = before(body, args.limit)
        new, status = after(body, encode=True, repeat=args.repeat)
        key = name.replace(",", "").replace(" ", "_").lower()
        print(
            f"  {name:14} ({len(body):,} bytes): before {_fmt(old, args.limit)}, after {new * 1000:.3f} ms ({status})"
        )
        result[f"before_{key}_s"] = None if old is None else round(old, 3)
        result[f"after_{key}_ms"] = round(new * 1000, 3)
        result[f"after_{key}_status"] = status
    verify = linear_verify(cases["16,000 fields"], args.repeat)
    print(f"  parse + verify 16,000 fields in linear time (bound lifted): {verify * 1000:.1f} ms")
    result["linear_verify_16000_fields_ms"] = round(verify * 1000, 1)
    emit_json(result)


if __name__ == "__main__":
    main()
