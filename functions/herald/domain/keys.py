"""Table keys built from parts: the one way every adapter (and the tools reading the table) makes a key.

A key is its parts joined by `#`. Parts come from publishers (source, order id, event id, shipment id) and from
customers (an email address), and any of them may contain `#`: joined raw, (`shop`, `a#b`) and (`shop#a`, `b`)
would be one item, so one storefront's order could read or overwrite another's. Each part is escaped before the
join (`\\` becomes `\\\\`, `#` becomes `\\#`), so a key's separators are exactly the unescaped `#`s and two
different lists of parts never give one key (`split_key` reads the parts back).

Why escape rather than refuse `#` in the contract: refusing it would reject events v1 producers may send today
(a tightening of the published contract), while escaping leaves every key without `#` or `\\` byte for byte
what it was, so stored items stay where they are. docs/decisions.md holds the rest of the why.
"""

from __future__ import annotations

SEPARATOR = "#"
ESCAPE = "\\"


def escape_part(part: str) -> str:
    """One part, safe to join: its escape characters doubled, then its separators escaped."""
    return part.replace(ESCAPE, ESCAPE + ESCAPE).replace(SEPARATOR, ESCAPE + SEPARATOR)


def key(*parts: str) -> str:
    """The key of `parts`: `key("ORDER", "shop", "a#b")` is `ORDER#shop#a\\#b`."""
    if not parts:
        raise ValueError("a key needs at least one part")
    return SEPARATOR.join(escape_part(part) for part in parts)


def key_prefix(*parts: str) -> str:
    """What every key that starts with `parts` (and has more after them) begins with, for `begins_with` queries.

    `key_prefix("NOTIF", "evt_1")` matches `NOTIF#evt_1#email` but not `NOTIF#evt_1\\#x#email` (event `evt_1#x`).
    """
    return key(*parts) + SEPARATOR


def split_key(value: str) -> list[str]:
    """The parts of a key made by `key` (the inverse: `split_key(key(*parts)) == list(parts)`)."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(value)
    for char in chars:
        if char == ESCAPE:
            escaped = next(chars, None)
            if escaped is None:
                raise ValueError(f"key ends inside an escape: {value!r}")
            current.append(escaped)
        elif char == SEPARATOR:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
