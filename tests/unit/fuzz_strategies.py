"""Hypothesis strategies of malformed and hostile SQS bodies for dispatch (issue 4, section 4).

Every strategy yields a `Hostile`: the SQS message body plus the customer-typed strings that were planted
in it, so a test can look for them in what was rendered. Hostile documents start from the published
sample events (events/<type>.json) so that, unless the mutation itself breaks the contract, they pass
validation and reach the renderer: that is where markup and header injection would do their harm.
"""

from __future__ import annotations

import copy
import json
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from herald.contract.models import MAX_EVENT_BYTES, EventType

EVENTS_DIR = Path(__file__).resolve().parents[2] / "events"
EVENT_TYPES = [t.value for t in EventType]

Path_ = tuple[str | int, ...]
Document = dict[str, Any]


@dataclass(frozen=True)
class Hostile:
    """One SQS body and what was planted in it: (path in the event, the string planted there)."""

    body: str
    planted: tuple[tuple[Path_, str], ...] = field(default=())
    label: str = ""


@cache
def _sample_text(event_type: str) -> str:
    return (EVENTS_DIR / f"{event_type}.json").read_text()


def sample_event(event_type: str) -> Document:
    """A fresh copy of the published sample of `event_type`: valid against the contract."""
    document: Document = json.loads(_sample_text(event_type))
    return copy.deepcopy(document)


# --- where customer- and storefront-typed text lives --------------------------------------------------

# Text a shopper or a storefront typed, per data block ("*" is every element of a list). These are the
# fields that reach the email HTML, the text body, the SMS, and (order number, store and customer name)
# the subject and sender name.
_TEXT_PATHS_BY_BLOCK: dict[str, list[tuple[str, ...]]] = {
    "customer": [("customer", "name")],
    "store": [("store", "name")],
    "order": [("order", "number"), ("order", "items", "*", "name"), ("order", "items", "*", "sku")],
    "shipment": [("shipment", "carrier"), ("shipment", "tracking_number")],
    "backorder": [("backorder", "reason"), ("backorder", "items", "*", "name")],
    "cancellation": [("cancellation", "reason")],
    "delay": [("delay", "detail")],
    "attempt": [("attempt", "reason")],
    "proof": [("proof", "location"), ("proof", "received_by")],
    "exception": [("exception", "detail")],
    "return": [("return", "reason"), ("return", "items", "*", "name")],
}

# Fields that end up in an email header: the subject (order number, store name, customer name), the
# sender's display name (store name) and Reply-To (store support address); the customer's address is To.
HEADER_PATHS: list[tuple[str, ...]] = [
    ("order", "number"),
    ("store", "name"),
    ("customer", "name"),
    ("store", "support_email"),
    ("customer", "email"),
]


def text_paths(event_type: str) -> list[tuple[str, ...]]:
    """The customer-typed text fields of `event_type` (those its sample carries a block for)."""
    blocks = sample_event(event_type)["data"]
    return [path for block, paths in _TEXT_PATHS_BY_BLOCK.items() if block in blocks for path in paths]


def set_text(document: Document, path: tuple[str, ...], value: str) -> list[Path_]:
    """Put `value` at `path` under document["data"] (every list element for "*"); return the concrete paths."""
    targets: list[tuple[Any, str | int, Path_]] = []

    def walk(node: Any, rest: tuple[str, ...], where: Path_) -> None:
        head, tail = rest[0], rest[1:]
        if head == "*":
            for index, element in enumerate(node):
                if tail:
                    walk(element, tail, (*where, index))
                else:
                    targets.append((node, index, (*where, index)))
        elif not tail:
            targets.append((node, head, (*where, head)))
        else:
            walk(node.setdefault(head, {}), tail, (*where, head))

    walk(document["data"], path, ("data",))
    for parent, key, _ in targets:
        parent[key] = value
    return [where for _, _, where in targets]


def leaf_paths(node: Any, where: Path_ = ()) -> list[Path_]:
    """Every path of a JSON document, inner nodes included (each can be given a value of the wrong type)."""
    paths: list[Path_] = [where] if where else []
    if isinstance(node, dict):
        for key, value in node.items():
            paths += leaf_paths(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            paths += leaf_paths(value, (*where, index))
    return paths


def replace_at(document: Document, path: Path_, value: Any) -> None:
    node: Any = document
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value


# --- hostile text ---------------------------------------------------------------------------------------

# Each carries a marker ("hx<n>") so its raw form can never be mistaken for the templates' own markup.
MARKUP_PAYLOADS = [
    "<script>alert('hx1')</script>",
    "<img src=x onerror=alert('hx2')>",
    '"><svg onload=alert("hx3")>',
    "</td></tr></table><script src=https://evil.example/hx4.js></script>",
    "<a href=\"javascript:alert('hx5')\">Track hx5</a>",
    "<iframe srcdoc='<script>alert(\"hx6\")</script>'></iframe>",
    "<body onload=alert('hx7')>",
    "<scr<script>ipt>alert('hx8')</scr</script>ipt>",
    "<ScRiPt>alert('hx9')</sCrIpT>",
    "<style>@import 'https://evil.example/hx10.css';</style>",
    "<math><mi xlink:href=\"javascript:alert('hx11')\">x</mi></math>",
    "<<script>hx12//<</script>",
    "<div style=\"background:url(javascript:alert('hx13'))\">hx13</div>",
    "<meta http-equiv=refresh content='0;url=https://evil.example/hx14'>",
    "<!-- hx15 --><p onclick=alert(1)>hx15</p>",
    "&lt;script&gt;hx16&lt;/script&gt; <b>hx16</b>",
    "{{ 7*7 }} {% print('hx17') %} <i>hx17</i>",
    "<input autofocus onfocus=alert('hx18')>",
    "<details open ontoggle=alert('hx19')>",
    "<title>hx20</title><base href=https://evil.example/>",
]

HEADER_INJECTIONS = [
    "Bcc: victim@example.com",
    "Bcc:victim@example.com",  # no space: the customer address check refuses spaces, not colons
    "Subject: your account is locked",
    "X-Injected: hx",
    "Content-Type: text/html",
    "<script>alert('hx')</script>",
]
LINE_BREAKS = ["\r\n", "\n", "\r", "\r\n\r\n", "\n\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x00", "\t"]

# Characters that have broken text pipelines before: NUL, bidi overrides and marks, zero-width joiners,
# BOM, noncharacters, lone surrogates, combining marks, plane-1 emoji, plane-14 tags, plane-16 private use.
SPECIAL_CHARACTERS = [
    "\x00",
    "\x1b",
    "\x7f",
    "\u202e",
    "\u202d",
    "\u200f",
    "\u200e",
    "\u2066",
    "\u200b",
    "\u200d",
    "\ufeff",
    "\ufffe",
    "\uffff",
    "\ud800",
    "\udfff",
    "\udbff\udfff",
    "\u0301",
    "\U0001f600",
    "\U0001f469\u200d\U0001f4bb",
    "\U000e0041",
    "\U0010fffd",
    "\u0628\u0627\u0628",
    "\u4e2d\u6587",
    "<",
    "&",
    '"',
]

ASCII_WORDS = st.text(alphabet=string.ascii_letters + string.digits, max_size=12)
# Every code point, surrogates included (Hypothesis leaves category Cs out unless told otherwise).
ANY_CHARACTER = st.characters(exclude_categories=())
unicode_text = st.lists(st.one_of(ANY_CHARACTER, st.sampled_from(SPECIAL_CHARACTERS)), min_size=1, max_size=40).map(
    "".join
)
markup_text = st.builds(
    lambda before, payload, after: f"{before} {payload} {after}".strip(),
    ASCII_WORDS,
    st.sampled_from(MARKUP_PAYLOADS),
    ASCII_WORDS,
)
crlf_text = st.builds(
    lambda before, brk, injected, brk2: f"{before}{brk}{injected}{brk2}",
    st.sampled_from(["#1001", "Acme Outdoor", "Jordan", "help@acme.example", ""]),
    st.sampled_from(LINE_BREAKS),
    st.sampled_from(HEADER_INJECTIONS),
    st.sampled_from(["", *LINE_BREAKS]),
)

# --- serialising a document into an SQS body -------------------------------------------------------------

_Serialiser = Callable[[Document], str]
SERIALISERS: list[_Serialiser] = [
    json.dumps,  # ASCII: every non-ASCII character (and lone surrogate) as a \\u escape
    lambda document: json.dumps(document, ensure_ascii=False),  # raw characters, lone surrogates included
    lambda document: json.dumps(document, separators=(",", ":")),
]


@st.composite
def _serialised(draw: st.DrawFn, document: Document) -> str:
    serialise = draw(st.sampled_from(SERIALISERS))
    return serialise(document)


# --- the strategies ---------------------------------------------------------------------------------------


def random_bodies() -> st.SearchStrategy[Hostile]:
    """Bytes that are not UTF-8, arbitrary text, JSON scalars and arrays: never an event."""
    raw = st.binary(max_size=2048)
    return st.one_of(
        raw.map(lambda b: Hostile(b.decode("utf-8", "surrogateescape"), label="bytes (surrogateescape)")),
        raw.map(lambda b: Hostile(b.decode("latin-1"), label="bytes (latin-1)")),
        st.text(ANY_CHARACTER, max_size=512).map(lambda t: Hostile(t, label="text")),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
            lambda inner: st.lists(inner, max_size=4),
            max_leaves=20,
        ).map(lambda value: Hostile(json.dumps(value), label="json non-object")),
        st.just(Hostile("", label="empty")),
        st.sampled_from(["{", "}", "{}", "null", "[]", '{"type":', "\x00", "\ufeff{}", "NaN", "1e999999"]).map(
            lambda t: Hostile(t, label="fragment")
        ),
    )


@st.composite
def truncated_events(draw: st.DrawFn) -> Hostile:
    """A valid event cut anywhere before its last character: never valid JSON."""
    text = draw(_serialised(sample_event(draw(st.sampled_from(EVENT_TYPES)))))
    cut = draw(st.integers(min_value=0, max_value=len(text) - 1))
    return Hostile(text[:cut], label=f"truncated at {cut}")


@st.composite
def oversized_events(draw: st.DrawFn) -> Hostile:
    """A valid event pushed past the 64 KiB limit by an extension attribute or a long field."""
    document = sample_event(draw(st.sampled_from(EVENT_TYPES)))
    filler = draw(st.sampled_from(["a", "<", "\u00e9", "\U0001f600", "\\"]))
    size = draw(st.integers(min_value=MAX_EVENT_BYTES + 1, max_value=4 * MAX_EVENT_BYTES))
    where = draw(st.sampled_from(["extension", "customer name", "data extra"]))
    padding = filler * (size // len(filler.encode()))
    if where == "extension":
        document["herald-padding"] = padding
    elif where == "customer name":
        document["data"]["customer"]["name"] = padding
    else:
        document["data"]["notes"] = [padding]
    return Hostile(draw(_serialised(document)), label=f"oversized ({where})")


@st.composite
def large_hostile_events(draw: st.DrawFn) -> Hostile:
    """An event near the limit: up to 250 items whose names escape to five times their size in HTML."""
    event_type = draw(st.sampled_from(["order.placed", "order.cancelled", "order.backordered", "return.approved"]))
    document = sample_event(event_type)
    count = draw(st.integers(min_value=50, max_value=250))
    name = draw(st.sampled_from(["&" * 200, "<" * 200, '"' * 120, "<b>&amp;</b>" * 16, "\x01" * 200]))
    items = [{"sku": f"S{index}", "name": name, "quantity": 1} for index in range(count)]
    holder = {"order.backordered": "backorder", "return.approved": "return"}.get(event_type, "order")
    document["data"][holder]["items"] = items
    if holder != "order":
        document["data"]["order"]["items"] = items[: count // 2]
    body = json.dumps(document, separators=(",", ":"))
    return Hostile(body, label=f"{count} items named {name[:12]!r}")


@st.composite
def deeply_nested(draw: st.DrawFn) -> Hostile:
    """Nesting beyond the recursion limits of the JSON parser and of validation, in the body or a field."""
    depth = draw(st.integers(min_value=50, max_value=30_000))
    shape = draw(st.sampled_from(["list", "object"]))
    opening, closing = ("[", "]") if shape == "list" else ('{"a":', "}")
    depth = min(depth, (MAX_EVENT_BYTES - 4096) // (len(opening) + len(closing)))
    nested = opening * depth + "0" + closing * depth
    where = draw(st.sampled_from(["body", "data", "customer", "order items", "extension", "customer name"]))
    if where == "body":
        return Hostile(nested, label=f"{shape} nested {depth} deep")
    document = sample_event(draw(st.sampled_from(EVENT_TYPES)))
    marker = "__NESTED__"
    if where == "data":
        document["data"] = marker
    elif where == "customer":
        document["data"]["customer"] = marker
    elif where == "order items":
        document["data"]["order"]["items"] = marker
    elif where == "extension":
        document["herald-nested"] = marker
    else:
        document["data"]["customer"]["name"] = marker
    return Hostile(json.dumps(document).replace(f'"{marker}"', nested), label=f"{shape} {depth} deep in {where}")


_WRONG_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    st.sampled_from(["", " ", "1.0", "true", "null", "2026-13-45T25:61:00Z", "9999-12-31T23:59:59-23:59"]),
)


@st.composite
def wrong_types(draw: st.DrawFn) -> Hostile:
    """A valid event with one to three fields (envelope or data, leaf or block) given a wrong value or removed."""
    document = sample_event(draw(st.sampled_from(EVENT_TYPES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = leaf_paths(document)
        path = draw(st.sampled_from(paths))
        if draw(st.integers(min_value=0, max_value=5)) == 0:
            parent: Any = document
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
        else:
            replace_at(document, path, draw(_WRONG_VALUES))
    return Hostile(draw(_serialised(document)), label="wrong types")


_NEAR_MISS_TYPES = [
    "ORDER.PLACED",
    "order.placed ",
    " order.placed",
    "order.placed\x00",
    "order.placed\n",
    "order",
    "order.",
    "order.shipped",
    "shipment.lost",
    "return.declined",
    "com.example.order.placed",
    "order\u2024placed",
    "\u043erder.placed",  # a Cyrillic o: looks the same, is not the same type
    "",
]


@st.composite
def unknown_types(draw: st.DrawFn) -> Hostile:
    """A valid event whose `type` is not one of the contract's: near misses, other JSON types, or absent."""
    document = sample_event(draw(st.sampled_from(EVENT_TYPES)))
    value = draw(
        st.one_of(
            st.sampled_from(_NEAR_MISS_TYPES),
            st.text(max_size=40).filter(lambda t: t not in EVENT_TYPES),
            st.none(),
            st.integers(),
            st.lists(st.sampled_from(EVENT_TYPES), min_size=1, max_size=2),
            st.dictionaries(st.sampled_from(["value", "type"]), st.sampled_from(EVENT_TYPES), min_size=1),
        )
    )
    if draw(st.booleans()) and value is None:
        del document["type"]
    else:
        document["type"] = value
    return Hostile(draw(_serialised(document)), label=f"type {value!r}")


@st.composite
def unicode_everywhere(draw: st.DrawFn) -> Hostile:
    """A valid event with text of every plane (surrogates, RTL marks, NUL...) in its envelope and text fields."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    document = sample_event(event_type)
    planted: list[tuple[Path_, str]] = []
    for path in draw(st.lists(st.sampled_from(text_paths(event_type)), min_size=1, max_size=6, unique=True)):
        value = draw(unicode_text)
        planted += [(where, value) for where in set_text(document, path, value)]
    for attribute in draw(st.lists(st.sampled_from(["id", "source", "subject"]), max_size=2, unique=True)):
        document[attribute] = draw(unicode_text)
    return Hostile(draw(_serialised(document)), tuple(planted), label="unicode")


@st.composite
def markup_everywhere(draw: st.DrawFn) -> Hostile:
    """A valid event with HTML and script in every customer-typed field: the contract accepts them as text."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    document = sample_event(event_type)
    planted: list[tuple[Path_, str]] = []
    for path in text_paths(event_type):
        value = draw(markup_text)
        planted += [(where, value) for where in set_text(document, path, value)]
    return Hostile(draw(_serialised(document)), tuple(planted), label="markup")


@st.composite
def header_injections(draw: st.DrawFn) -> Hostile:
    """A valid event with CR/LF (and other line breaks) in the fields that reach an email header."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    document = sample_event(event_type)
    planted: list[tuple[Path_, str]] = []
    for path in draw(st.lists(st.sampled_from(HEADER_PATHS), min_size=1, max_size=len(HEADER_PATHS), unique=True)):
        value = draw(crlf_text)
        planted += [(where, value) for where in set_text(document, path, value)]
    return Hostile(draw(_serialised(document)), tuple(planted), label="header injection")


def any_hostile() -> st.SearchStrategy[Hostile]:
    """Any of the above: what a batch of bad input looks like."""
    return st.one_of(
        random_bodies(),
        truncated_events(),
        oversized_events(),
        deeply_nested(),
        wrong_types(),
        extreme_values(),
        unknown_types(),
        unicode_everywhere(),
        markup_everywhere(),
        header_injections(),
    )


# Valid but extreme: first and last representable instants with offsets that push them past year 1 or 9999
# in another zone, time zone names that are not zones (or are paths), coordinates on the poles and antimeridian.
EXTREME_INSTANTS = [
    "0001-01-01T00:00:00+23:59",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59.999999Z",
    "1970-01-01T00:00:00Z",
    "2038-01-19T03:14:08+00:00",
]
EXTREME_DAYS = [*EXTREME_INSTANTS, "9999-12-31", "0001-01-01"]
ODD_TIMEZONES = [
    "Pacific/Kiritimati",
    "Etc/GMT+12",
    "America",
    "posix",
    "../../../etc/passwd",
    "/etc/localtime",
    "UTC\x00",
    "zone.tab",
    "tzdata.zi",
    "__init__.py",
    "Europe/Lisbon\n",
    "A" * 200,
]
_TIME_FIELDS = [
    ("order", "placed_at", EXTREME_INSTANTS),
    ("shipment", "estimated_delivery", EXTREME_DAYS),
    ("shipment", "previous_estimated_delivery", EXTREME_DAYS),
    ("backorder", "estimated_ship_date", EXTREME_DAYS),
    ("attempt", "next_attempt_at", EXTREME_INSTANTS),
    ("proof", "delivered_at", EXTREME_INSTANTS),
]


@st.composite
def extreme_values(draw: st.DrawFn) -> Hostile:
    """A valid event with boundary times, odd time zones, amounts, coordinates and quantities."""
    event_type = draw(st.sampled_from(EVENT_TYPES))
    document = sample_event(event_type)
    data = document["data"]
    for block, name, values in _TIME_FIELDS:
        if block in data:
            data[block][name] = draw(st.sampled_from(values))
    document["time"] = draw(st.sampled_from(EXTREME_INSTANTS))
    data["customer"]["timezone"] = draw(st.sampled_from(ODD_TIMEZONES) | st.text(min_size=1, max_size=30))
    data["customer"]["locale"] = draw(st.sampled_from(["en-US", "fr-CA", "zz", "EN-us", "ar-EG", "tlh-Latn-x1"]))
    data["order"]["currency"] = draw(st.sampled_from(["USD", "JPY", "XXX", "BHD", "KRW"]))
    data["order"]["total"] = draw(st.sampled_from(["-999999999999.9999", "0", "999999999999.9999", "0.0001"]))
    for item in data["order"]["items"]:
        item["quantity"] = draw(st.sampled_from([1, 100_000]))
    if "proof" in data:
        data["proof"]["latitude"] = draw(st.sampled_from([90, -90, 0, 89.9999999, -0.0]))
        data["proof"]["longitude"] = draw(st.sampled_from([180, -180, 0, 179.999999, -0.0]))
    return Hostile(draw(_serialised(document)), label="extreme values")
