"""The machinery shared by the compliance documents' builders.

:class:`Document` (what every builder returns: the HTML now, the PDF on demand), the small
helpers that turn the input's JSON-like values into cells and text (a missing value shows as
the dash), the line naming the rule pack and rules a document serves, and the Jinja
environment that renders the HTML templates. The builders themselves live in one module per
document family: :mod:`~facegate.documents.notices`, :mod:`~facegate.documents.signs`,
:mod:`~facegate.documents.assessments`, :mod:`~facegate.documents.dossiers` and
:mod:`~facegate.documents.receipts`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from facegate.documents.model import (
    DRAFT_MARK_EN,
    DRAFT_MARK_ZH,
    Block,
    Cell,
    Code,
    Layout,
    Lines,
    Para,
    SignLayout,
)
from facegate.documents.pdf import layout_pdf, sign_pdf
from facegate.documents.text import (
    DASH,
    LOCATION_TYPES,
    RULE_PACKS,
    VENUES,
    WORDS,
    Bi,
    Text,
    label,
    word,
)
from facegate.localtime import DEFAULT_ZONE, iso_local

ALL_PACKS = ("cn-draft-2023", "cn-2025")

Json = Mapping[str, Any]


@dataclass(frozen=True)
class Document:
    """A rendered compliance document: its HTML now, its PDF on demand."""

    kind: str  # "notice" | "sign" | "pia" | "filing" | "receipt"
    lang: str  # "zh" | "en" | "zh-en"
    title: str
    html: str
    layout: Layout | SignLayout = field(repr=False, compare=False)
    # manifest texts shown in the other language, for want of this one (documents.localized)
    fallbacks: tuple[str, ...] = ()

    def pdf(self) -> bytes:
        """The document as PDF (A4; a sign A4 or A3). The same input gives the same bytes."""
        if isinstance(self.layout, SignLayout):
            return sign_pdf(self.layout)
        return layout_pdf(self.layout)


# --- small helpers ----------------------------------------------------------------------------


def _s(value: Any) -> str:
    """A value as text; a missing one as the dash."""
    if value is None or value == "" or value == []:
        return DASH
    return str(value)


def _when(value: Any, tz: tzinfo = DEFAULT_ZONE) -> str:
    """A stored time in ``tz``, ISO 8601 with its offset (``2026-12-02T04:00:00+08:00``); a
    missing one as the dash."""
    if value is None or value == "":
        return DASH
    return iso_local(value if isinstance(value, datetime) else str(value), tz) or DASH


def _map(value: Any) -> Json:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _code(value: Any) -> Cell:
    return DASH if value is None or value == "" else Code(str(value))


def _codes(values: Iterable[Any]) -> Cell:
    items = tuple(Code(str(v)) for v in values)
    return Lines(items) if items else DASH


def _days(value: Any, lang: str) -> Text:
    if value is None or value == "":
        return DASH
    return word("day" if str(value) == "1" else "days", lang, n=value)


def _yes_no(value: Any, lang: str) -> Text:
    if value is None:
        return DASH
    return word("yes" if value else "no", lang)


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else _s(value)


def _location(loc: Json, lang: str) -> Cell:
    parts: list[Cell] = [label(LOCATION_TYPES, loc.get("type"), lang)]
    if loc.get("venue"):
        parts.append(label(VENUES, loc.get("venue"), lang))
    if loc.get("public_place"):
        parts.append(word("public_place", lang))
    return Lines(tuple(parts))


def _other_lang(key: str, lang: str) -> tuple[Block, ...]:
    """The heading's other language, under a heading of a one-language document."""
    if lang == "zh-en":
        return ()
    return (Para(word(key, "en" if lang == "zh" else "zh"), note=True),)


def _rules_line(pack: Any, rules: Sequence[str], lang: str) -> Text:
    """Which rule pack and rule ids a document serves (only the rules the pack has)."""
    if pack:
        served = [r for r in rules if pack in RULE_PACKS.get(r, (pack,))]
        pack_text = str(pack)
    else:
        served = list(rules)
        pack_text = " / ".join(ALL_PACKS)
    rules_text = ", ".join(served) or DASH
    if lang == "zh-en":  # one line: the rule ids are the same in both languages
        return WORDS["rules_line_bi"][0].format(pack=pack_text, rules=rules_text)
    return word("rules_line", lang, pack=pack_text, rules=rules_text)


# --- HTML ---------------------------------------------------------------------------------


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("facegate.documents", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["bi"] = lambda v: isinstance(v, Bi)
    env.tests["code"] = lambda v: isinstance(v, Code)
    env.tests["lines"] = lambda v: isinstance(v, Lines)
    return env


def _html_lang(lang: str) -> str:
    return "en" if lang == "en" else "zh-Hans"


def _html(template: str, **context: Any) -> str:
    # A draft (Layout.draft, SignLayout.draft) shows the draft banner (templates/base.html).
    doc = context.get("layout", context.get("sign"))
    context.setdefault("draft", bool(getattr(doc, "draft", False)))
    context.setdefault("draft_mark", Bi(DRAFT_MARK_ZH, DRAFT_MARK_EN))
    return _env().get_template(template).render(**context)


def _document(layout: Layout, fallbacks: Sequence[str] = ()) -> Document:
    html = _html("document.html", layout=layout, html_lang=_html_lang(layout.lang),
                 title=layout.document_title)
    return Document(layout.kind, layout.lang, layout.document_title, html, layout,
                    tuple(fallbacks))
