"""The attack suite's judges see an attack that got through (so a "refused" from them means something)."""

from __future__ import annotations

from email.message import EmailMessage

from herald_tools.local.attack import _executable_markup, _injected_headers


def test_markup_that_would_run_is_found_and_escaped_markup_is_not() -> None:
    # Given the HTML of an email that kept the customer's markup raw, and one that escaped it
    raw = '<p>Hi <script>alert(1)</script>"><img src=x onerror=alert(1)><a href="javascript:x">x</a></p>'
    escaped = "<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;</p>"
    # When each is judged; Then the raw one has three things that run, the escaped one none
    assert len(_executable_markup(b"", raw)) == 3
    assert _executable_markup(b"", escaped) == []


def test_an_injected_bcc_header_is_found_and_folded_text_is_not() -> None:
    # Given a stored message whose headers a CR/LF extended with a Bcc line, and one whose subject only says it
    injected = b"From: a@x.example\r\nSubject: Acme\r\nBcc: x@evil.example\r\n\r\nbody"
    message = EmailMessage()
    message["Subject"] = "Acme Outdoor Bcc: x@evil.example " + "long " * 20
    message.set_content("body")
    # When each is judged; Then only the injected header is found
    assert _injected_headers(injected, "") != []
    assert _injected_headers(message.as_bytes(), "") == []
