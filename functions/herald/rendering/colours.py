"""Text that stays readable on a storefront's own colour (WCAG 2.1 contrast), for buttons and headers."""

from __future__ import annotations

_DARK = "#111827"


def luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of a #rrggbb colour."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """The WCAG contrast ratio of two colours (1 to 21)."""
    a, b = sorted((luminance(first), luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def text_colour_on(background: str) -> str:
    """White or near-black, whichever contrasts more with the background."""
    return "#ffffff" if contrast(background, "#ffffff") >= contrast(background, _DARK) else _DARK
