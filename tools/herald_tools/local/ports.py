"""What the local runtime changes in the functions' object graphs, through herald.handlers.wiring.decorate_ports.

Twilio's test numbers (+1 500 555 xxxx) reach no phone, so production's phone rule (domain.phone.to_e164)
refuses them; they are exactly what the Twilio stand-in, the demo and the integration tests send to. Locally, and
only locally, dispatch accepts them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from herald.handlers.wiring import PORT_PHONE_RULE, decorate_ports

if TYPE_CHECKING:
    from herald.domain.phone import PhoneRule


def accepting_twilio_test_numbers(rule: PhoneRule) -> PhoneRule:
    """`rule`, except that a Twilio test number it refuses is accepted (as E.164)."""
    # Imported when dispatch's root is built, as production's rule is: no other function loads phonenumbers.
    from herald.domain.phone import PhoneNotUsable, e164, is_twilio_test_number, parse

    def read(raw: str, country: str | None) -> str:
        try:
            return rule(raw, country)
        except PhoneNotUsable:
            parsed = parse(raw, country)  # the rule could read it (or this raises its reason again)
            if not is_twilio_test_number(parsed):
                raise
            return e164(parsed)

    return read


def local_ports(name: str, port: Any) -> Any:
    return accepting_twilio_test_numbers(port) if name == PORT_PHONE_RULE else port


def install_local_ports() -> Callable[[], None]:
    """Every composition root built from now on in this process gets the local ports; returns the uninstaller."""
    return decorate_ports(local_ports)
