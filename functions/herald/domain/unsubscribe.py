"""RFC 8058 one-click unsubscribe: the two headers a non-transactional email carries."""

from __future__ import annotations

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"  # what a mail client POSTs to the link (RFC 8058, section 3.1)


def list_unsubscribe_headers(url: str | None) -> dict[str, str]:
    """`List-Unsubscribe: <url>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`; none without a URL.

    RFC 8058 requires an HTTPS URI in List-Unsubscribe for one-click; the local runtime's loopback http URL is
    the one exception, and mail clients simply do not offer one-click for it.
    """
    if not url:
        return {}
    if any(c in url for c in "\r\n<>"):
        raise ValueError("unsubscribe URL must not contain CR, LF or angle brackets")
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": ONE_CLICK_BODY}
