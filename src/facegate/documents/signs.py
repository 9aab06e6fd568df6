"""The bilingual reminder sign with a QR code to the notice (``place.public-signage``)."""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from facegate.documents.localized import NOTE_LABEL, Picker
from facegate.documents.model import Cell, Lines, SignLayout
from facegate.documents.qr import qr_svg
from facegate.documents.render import Document, Json, _days, _html, _map, _rules_line, _s
from facegate.documents.text import ALTERNATIVES, DASH, PURPOSES, Bi, bi, label, plain

SIZES = ("A4", "A3")


def sign(manifest: Json, notice_url: str, size: str = "A4", *,
         draft: bool = False) -> Document:
    """The bilingual reminder sign for the capture area (``place.public-signage``), with a QR
    code that opens the full notice (``notice.required``). ``size`` is ``"A4"`` or ``"A3"``."""
    if size not in SIZES:
        raise ValueError(f"unknown sign size {size!r}; known: {', '.join(SIZES)}")
    t = Picker("zh-en")
    op = _map(manifest.get("operator"))
    loc = _map(manifest.get("location"))
    alt = manifest.get("alternative")
    if isinstance(alt, Mapping):
        choice: Cell = Lines((label(ALTERNATIVES, alt.get("method"), "zh-en"),
                              t("alternative.description", alt.get("description"))))
    else:
        choice = DASH
    rows: list[tuple[Bi, Cell]] = [
        (bi("purpose"), label(PURPOSES, manifest.get("purpose"), "zh-en")),
        (bi("operator"), t("operator.name", op.get("name"))),
        (bi("contact"), t("operator.contact", op.get("contact"))),
        (bi("capture_area"), t("location.capture_area", loc.get("capture_area"))),
        (bi("retention"), _days(manifest.get("retention_days"), "zh-en")),
        (bi("sign_you_may_choose"), choice),
    ]
    if loc.get("public_place"):
        rows.append((bi("sign_public_security"),
                     t("location.public_security_necessity", loc.get("public_security_necessity"))))
    title = bi("sign_title")
    # place.public-signage binds public places; elsewhere the sign serves the notice rules
    rules = (*(("place.public-signage",) if loc.get("public_place") else ()),
             "notice.required", "alternative.required", "place.capture-area",
             "notice.accessible")
    rules_line = plain(_rules_line(manifest.get("rule_pack"), rules, "zh-en"))
    name = plain(t("name", manifest.get("name")))
    note = t.note_text()
    if note is not None:
        rows.append((NOTE_LABEL, note))
    layout = SignLayout(
        size=size, title=title, rows=tuple(rows), notice_url=notice_url, scan=bi("sign_scan"),
        footer=f"{_s(manifest.get('id'))} · {name}", rules_line=rules_line,
        meta_title=f"{plain(title)}: {name}", draft=draft,
    )
    svg = Markup(qr_svg(notice_url, plain(bi("sign_scan"))))  # noqa: S704 (segno escapes)
    href = notice_url if notice_url.startswith(("https://", "http://")) else None
    html = _html("sign.html", sign=layout, qr=svg, href=href, title=layout.document_title,
                 html_lang="zh-Hans")
    return Document("sign", "zh-en", layout.document_title, html, layout, tuple(t.fallbacks))
