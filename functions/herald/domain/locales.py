"""Which of the languages Herald has a customer reads: the one fallback chain of messages, pages and SMS replies.

Messages (rendering.renderer: its template folders), the order and unsubscribe pages (rendering.order_page: their
gettext catalogs) and the SMS HELP reply (domain.suppression: its texts) each have their own set of locales; they
all pick from it with `locale_chain` (docs/architecture.md, "Locales"), so a customer reads the same language in
each of them.
"""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_LOCALE = "en-US"


def locale_chain(available: Iterable[str], *tags: str | None) -> list[str]:
    """The locales of `available` to try, best first, for the `tags` in order of preference, then en-US.

    For each tag (the customer's, then e.g. the storefront's default; None and "" are skipped):
    1. its exact tag (`fr-CA`; case and `_`/`-` do not matter: `fr_ca` is `fr-CA`);
    2. its language alone (`fr`), when there is such a locale;
    3. another region of its language (`fr-FR` -> `fr-CA`), the first in alphabetical order.
    Last, en-US (when available). Each locale is listed once.
    """
    by_lower = {locale.replace("_", "-").lower(): locale for locale in sorted(available)}
    chain: list[str] = []
    for tag in (*tags, DEFAULT_LOCALE):
        for locale in _closest(by_lower, tag):
            if locale not in chain:
                chain.append(locale)
    return chain


def best_locale(available: Iterable[str], *tags: str | None) -> str:
    """The first of `locale_chain` (en-US when nothing matches and en-US is not among `available` either)."""
    chain = locale_chain(available, *tags)
    return chain[0] if chain else DEFAULT_LOCALE


def _closest(by_lower: dict[str, str], tag: str | None) -> list[str]:
    """The locales for one tag: exact, its language, the language's other regions."""
    if not tag:
        return []
    lower = tag.strip().replace("_", "-").lower()
    language = lower.split("-", 1)[0]
    wanted = [lower, language] + [known for known in by_lower if known.split("-", 1)[0] == language]
    return [by_lower[known] for known in wanted if known in by_lower]


def format_locale(customer_locale: str | None, words_locale: str, known: bool) -> str:
    """The locale dates and amounts are formatted in: the customer's own when Babel knows it (`known`) and it is
    the language the words are in (an es-MX customer reads es-US words with es-MX formats), else the words' (a
    de-DE customer reading en-US words gets en-US dates, not German day names in an English sentence)."""
    if customer_locale and known:
        language = customer_locale.replace("_", "-").split("-", 1)[0].lower()
        if language == words_locale.split("-", 1)[0].lower():
            return customer_locale
    return words_locale


def N_(message: str) -> str:
    """Marks `message` as a page's words (gettext's "no-op" marker): `pybabel extract` and the test of the catalogs
    find it, and the page translates it when it is shown (rendering.order_page), not where it is written."""
    return message
