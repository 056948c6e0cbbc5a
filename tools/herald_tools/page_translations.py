"""The customer's pages' catalogs (`make translations`): extract their msgids, update each locale's .po, compile .mo.

The pages' words are gettext msgids: `_()` and `{% trans %}` in `rendering/page_templates/*.html`, `N_()` in the
Python that builds labels and notices (rendering, the page handlers, the domain's refused-form reasons). Babel
does each step (`babel.messages`: its extractors, its .po reader and writer, its .mo writer); this module only says
where things are. A translator edits `rendering/page_locales/<locale>/pages.po` and runs `make translations`;
tests/unit/test_page_locales.py fails when a msgid lacks its translation or a .mo is older than its .po.

    python -m herald_tools.page_translations           # update every .po from the code, then compile every .mo
    python -m herald_tools.page_translations --check   # exit 1 with the msgids a .po lacks
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

import herald
from herald.rendering.order_page import CATALOG_FILE, CATALOGS

HERALD = Path(herald.__file__).resolve().parent
PO_FILE = "pages.po"
DOMAIN = "pages"
# First match wins: the message templates (rendering/templates) are translated by folder, not by gettext.
_METHODS = [
    ("rendering/templates/**", "ignore"),
    ("rendering/overrides/**", "ignore"),
    ("rendering/page_templates/**.html", "jinja2"),
    ("**.py", "python"),
]
_OPTIONS = {
    # As rendering.order_page builds its environment: trans blocks are read the way the page renders them.
    "rendering/page_templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    },
}


def extract() -> Catalog:
    """Every msgid the pages use, with where each is written (the template: `.pot`'s content)."""
    catalog = Catalog(domain=DOMAIN, project="Herald", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        HERALD, _METHODS, _OPTIONS, directory_filter=lambda path: "__pycache__" not in path
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return CATALOGS / locale / PO_FILE


def translated_locales() -> list[str]:
    """The locales with a .po (en-US has none: its words are the templates')."""
    return sorted(path.parent.name for path in CATALOGS.glob(f"*/{PO_FILE}"))


def read_catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as source:
        return read_po(source, locale=locale.replace("-", "_"), domain=DOMAIN)


def missing(locale: str, template: Catalog | None = None) -> list[str]:
    """The msgids the code uses that `locale`'s .po does not translate (absent, empty, or marked fuzzy)."""
    catalog = read_catalog(locale)
    wanted = template if template is not None else extract()
    lacking = []
    for message in wanted:
        if not message.id:
            continue
        found = catalog.get(message.id, message.context)
        if found is None or not found.string or found.fuzzy:
            lacking.append(str(message.id))
    return sorted(lacking)


def compiled(locale: str) -> bytes:
    """The .mo of `locale`'s .po, as `make translations` writes it."""
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(locale))
    return buffer.getvalue()


def update(locales: Iterable[str]) -> None:
    """Each .po brought up to the code's msgids (new ones empty, to translate; unused ones kept as obsolete), and
    its .mo compiled."""
    template = extract()
    for locale in locales:
        catalog = read_catalog(locale)
        template.creation_date = catalog.creation_date  # the .po changes only when its messages do
        catalog.update(template, no_fuzzy_matching=True)
        with po_path(locale).open("wb") as target:
            # Without line numbers: a change elsewhere in a file moves none of the translations' lines.
            write_po(target, catalog, width=120, include_lineno=False)
        (CATALOGS / locale / CATALOG_FILE).write_bytes(compiled(locale))


def main(argv: list[str]) -> int:
    locales = translated_locales()
    if "--check" in argv:
        template = extract()
        report = {locale: missing(locale, template) for locale in locales}
        for locale, lacking in report.items():
            for msgid in lacking:
                print(f"{locale}: no translation of {msgid!r}")
        return 1 if any(report.values()) else 0
    update(locales)
    for locale in locales:
        print(f"{po_path(locale).relative_to(HERALD)}: {len(missing(locale))} msgid(s) left to translate")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
