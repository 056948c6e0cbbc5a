"""The order page in the customer's language, in a real Chromium against the local runtime (issue 11, section 4):
an fr-CA order's page and an es-US order's page at 375 px, their `lang`, their words and their dispute step, and
axe-core (WCAG 2.1 AA: among others, `html-has-lang` and `html-lang-valid`)."""

from __future__ import annotations

from typing import Any

import pytest

from herald_tools.local.demo import Providers
from herald_tools.local.runtime import LocalRuntime
from tests.browser.story import WCAG_21_AA, delivered_order

# What each language's page says, as a customer reads it: its heading, its proof section and the two answers.
WORDS = {
    "fr-CA": {
        "order": "Commande",
        "proof": "Preuve de livraison",
        "not_received": "Non, je ne l'ai pas reçu",
        "asked": "Nous sommes désolés. Que s'est-il passé?",
    },
    "es-US": {
        "order": "Pedido",
        "proof": "Comprobante de entrega",
        "not_received": "No, no lo recibí",
        "asked": "Lo sentimos. ¿Qué pasó?",
    },
}


@pytest.mark.parametrize(("locale", "order"), [("fr-CA", "ord_b201"), ("es-US", "ord_b202")])
def test_a_customers_page_is_in_their_language_fits_375_px_and_passes_axe(
    deployment: tuple[LocalRuntime, Providers], browser: Any, locale: str, order: str
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    # Given an order of a customer of this locale, placed, in transit (its estimate moved once) and delivered
    link = delivered_order(deployment, order, locale)
    words = WORDS[locale]

    # When the customer opens its email's link on a 375 px phone whose browser asks for English
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="en-US")
    page = context.new_page()
    try:
        page.goto(link)

        # Then the page says its language and speaks it (the order's, not the browser's)
        assert page.evaluate("document.documentElement.lang") == locale
        heading = page.get_by_role("heading", level=1).inner_text()
        assert heading.startswith(words["order"])
        assert page.get_by_role("heading", name=words["proof"]).is_visible()
        # And nothing is wider than the screen
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the {locale} page is {width} px wide at 375 px"
        # And axe-core finds no WCAG 2.1 A or AA violation (a valid lang among them), on the page and the dispute step
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_report()
        page.get_by_role("button", name=words["not_received"]).click()
        assert page.get_by_role("heading", level=1).inner_text() == words["asked"]
        assert page.evaluate("document.documentElement.lang") == locale
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"the {locale} dispute step is {width} px wide at 375 px"
        results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_21_AA}})
        assert results.violations_count == 0, results.generate_report()
    finally:
        context.close()
