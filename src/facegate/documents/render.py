"""The compliance documents: what each holds, in Simplified Chinese, English, or both.

Each builder takes plain JSON-like dicts (what the service stores and returns) and gives back a
:class:`Document` with its HTML; the PDF is drawn on demand by :meth:`Document.pdf`. Builders do
no I/O and read nothing but their arguments: a document shows the input's data and nothing else.

==================  ======================================  ===================================
document            builder                                 rules (RULES.md)
==================  ======================================  ===================================
notice              :func:`notice`                          notice.required, notice.accessible
reminder sign       :func:`sign`                            place.public-signage,
                                                            notice.required
impact assessment   :func:`impact_assessment`               pia.before-use
filing dossier      :func:`filing_dossier`                  filing.threshold
deletion receipt    :func:`deletion_receipt`                consent.withdraw, rights.delete
==================  ======================================  ===================================
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from facegate.documents.model import (
    Block,
    Bullets,
    Cell,
    Code,
    Fields,
    Grid,
    Layout,
    Lines,
    Para,
    Section,
    SignLayout,
)
from facegate.documents.pdf import layout_pdf, sign_pdf
from facegate.documents.qr import qr_svg
from facegate.documents.text import (
    ALTERNATIVES,
    AUTHORITIES,
    DASH,
    LOCATION_TYPES,
    METHODS,
    MODES,
    OPERATIONS,
    PACKS,
    PURPOSES,
    RULE_PACKS,
    VENUES,
    WORDS,
    Bi,
    Text,
    bi,
    check_lang,
    label,
    pick,
    plain,
    word,
)

SIZES = ("A4", "A3")
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
    return word("days", lang, n=value)


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


def _method(content: Json, lang: str) -> Text:
    method, mode = content.get("method"), content.get("mode")
    for code, (zh, en) in METHODS.items():
        if method in (code, en) or (not method and mode == code):
            return pick(lang, zh, en)
    return _s(method)


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
    return _env().get_template(template).render(**context)


def _document(layout: Layout) -> Document:
    html = _html("document.html", layout=layout, html_lang=_html_lang(layout.lang),
                 title=layout.meta_title)
    return Document(layout.kind, layout.lang, layout.meta_title, html, layout)


# --- the documents ----------------------------------------------------------------------------


def notice(content: Json, lang: str) -> Document:
    """The notice shown before capture (``notice.required``), in large accessible type
    (``notice.accessible``): operator and contact; purpose, method and retention; necessity and
    impact; the alternative; how to exercise each right; the notice version and digest."""
    check_lang(lang)
    op = _map(content.get("operator"))
    alt = content.get("alternative")
    rights = _map(content.get("rights"))
    if lang == "zh-en" and rights.get("zh") and rights.get("en"):
        rights_text: Text = Bi(str(rights["zh"]), str(rights["en"]))
    else:
        rights_text = _s(rights.get("en" if lang == "en" else "zh"))
    images = content.get("images_kept")
    images_text = DASH if images is None else word(
        "images_kept_yes" if images else "images_not_kept", lang)

    if isinstance(alt, Mapping):
        alternative: Block = Fields((
            (word("alternative", lang), label(ALTERNATIVES, alt.get("method"), lang)),
            (word("alt_description", lang), _s(alt.get("description"))),
        ))
    else:
        alternative = Fields(((word("alternative", lang), DASH),))

    title = word("notice_title", lang)
    sections = (
        Section(word("notice_who", lang), (Fields((
            (word("operator_name", lang), _s(op.get("name"))),
            (word("contact", lang), _s(op.get("contact"))),
        )),)),
        Section(word("notice_what", lang), (Fields((
            (word("purpose", lang), label(PURPOSES, content.get("purpose"), lang)),
            (word("method", lang), _method(content, lang)),
            (word("capture_area", lang), _s(content.get("capture_area"))),
            (word("retention", lang), _days(content.get("retention_days"), lang)),
            (word("images_kept", lang), images_text),
        )),)),
        Section(word("notice_why", lang), (Fields((
            (word("necessity", lang), _s(content.get("necessity"))),
            (word("impact", lang), _s(content.get("least_impact"))),
        )),)),
        Section(word("notice_choice", lang), (
            Para(word("notice_choice_text", lang)), alternative,
        )),
        Section(word("notice_rights", lang), (
            Para(rights_text),
            Bullets(tuple(word(k, lang) for k in (
                "right_withdraw", "right_access", "right_delete", "right_alternative"))),
            Para(word("right_contact", lang, contact=_s(op.get("contact")))),
        )),
        Section(word("notice_version", lang), (Fields((
            (word("version", lang), _s(content.get("version"))),
            (word("digest", lang), _code(content.get("digest"))),
            (word("notice_url", lang), _code(content.get("url"))),
        )),)),
    )
    lead = (
        Para(word("notice_intro", lang)),
        Fields((
            (word("deployment_name", lang), _s(content.get("name"))),
            (word("deployment_id", lang), _code(content.get("deployment"))),
            (word("notice_version", lang), _s(content.get("version"))),
        )),
    )
    rules = ("notice.required", "notice.accessible", "alternative.required",
             "consent.withdraw", "rights.access", "rights.delete", "retention.minimum")
    name = _s(content.get("name"))
    layout = Layout(
        kind="notice", lang=lang, title=title, meta_title=f"{plain(title)}: {name}",
        lead=lead, sections=sections,
        rules_line=_rules_line(content.get("rule_pack"), rules, lang), accessible=True,
    )
    return _document(layout)


def sign(manifest: Json, notice_url: str, size: str = "A4") -> Document:
    """The bilingual reminder sign for the capture area (``place.public-signage``), with a QR
    code that opens the full notice (``notice.required``). ``size`` is ``"A4"`` or ``"A3"``."""
    if size not in SIZES:
        raise ValueError(f"unknown sign size {size!r}; known: {', '.join(SIZES)}")
    op = _map(manifest.get("operator"))
    loc = _map(manifest.get("location"))
    alt = manifest.get("alternative")
    if isinstance(alt, Mapping):
        choice: Cell = Lines((label(ALTERNATIVES, alt.get("method"), "zh-en"),
                              _s(alt.get("description"))))
    else:
        choice = DASH
    rows: list[tuple[Bi, Cell]] = [
        (bi("purpose"), label(PURPOSES, manifest.get("purpose"), "zh-en")),
        (bi("operator"), _s(op.get("name"))),
        (bi("contact"), _s(op.get("contact"))),
        (bi("capture_area"), _s(loc.get("capture_area"))),
        (bi("retention"), _days(manifest.get("retention_days"), "zh-en")),
        (bi("sign_you_may_choose"), choice),
    ]
    if loc.get("public_place"):
        rows.append((bi("sign_public_security"), _s(loc.get("public_security_necessity"))))
    title = bi("sign_title")
    rules = ("place.public-signage", "notice.required", "alternative.required",
             "place.capture-area", "notice.accessible")
    rules_line = plain(_rules_line(manifest.get("rule_pack"), rules, "zh-en"))
    name = _s(manifest.get("name"))
    layout = SignLayout(
        size=size, title=title, rows=tuple(rows), notice_url=notice_url, scan=bi("sign_scan"),
        footer=f"{_s(manifest.get('id'))} · {name}", rules_line=rules_line,
        meta_title=f"{plain(title)}: {name}",
    )
    svg = Markup(qr_svg(notice_url, plain(bi("sign_scan"))))  # noqa: S704 (segno escapes)
    href = notice_url if notice_url.startswith(("https://", "http://")) else None
    html = _html("sign.html", sign=layout, qr=svg, href=href, title=layout.meta_title,
                 html_lang="zh-Hans")
    return Document("sign", "zh-en", layout.meta_title, html, layout)


_PIA_SECTIONS = (
    ("lawfulness", "pia_lawfulness"),
    ("impact", "pia_impact"),
    ("risks", "pia_risks"),
    ("protections", "pia_protections"),
)


def impact_assessment(assessment: Json, manifest: Json, lang: str) -> Document:
    """The personal information protection impact assessment (``pia.before-use``), with its
    four sections, each headed in both languages."""
    check_lang(lang)
    op = _map(manifest.get("operator"))
    loc = _map(manifest.get("location"))
    texts = _map(assessment.get("sections"))
    purpose = assessment.get("purpose") or manifest.get("purpose")
    mode = assessment.get("mode") or manifest.get("mode")
    subject = Fields((
        (word("deployment_id", lang), _code(assessment.get("deployment") or manifest.get("id"))),
        (word("deployment_name", lang), _s(manifest.get("name"))),
        (word("operator", lang), _s(op.get("name"))),
        (word("contact", lang), _s(op.get("contact"))),
        (word("purpose", lang), label(PURPOSES, purpose, lang)),
        (word("mode", lang), label(MODES, mode, lang)),
        (word("location", lang), _location(loc, lang)),
        (word("capture_area", lang), _s(loc.get("capture_area"))),
        (word("retention", lang), _days(manifest.get("retention_days"), lang)),
        (word("legal_basis", lang), _s(manifest.get("legal_basis"))),
    ))
    record = (
        Fields((
            (word("version", lang), _s(assessment.get("version"))),
            (word("assessed_on", lang), _s(assessment.get("assessed_on"))),
            (word("assessor", lang), _s(assessment.get("assessor"))),
            (word("keep_until", lang), _s(assessment.get("keep_until"))),
        )),
        Para(word("pia_keep_note", lang), note=True),
    )
    sections = [
        Section(word("pia_subject", lang), (subject,)),
        Section(word("pia_record", lang), record),
    ]
    for key, heading in _PIA_SECTIONS:
        sections.append(Section(word(heading, lang), (
            *_other_lang(heading, lang), Para(_s(texts.get(key))),
        )))
    sections.append(Section(word("conclusion", lang), (Para(_s(assessment.get("conclusion"))),)))
    title = word("pia_title", lang)
    layout = Layout(
        kind="pia", lang=lang, title=title,
        meta_title=f"{plain(title)}: {_s(manifest.get('name'))}",
        lead=(Para(word("pia_basis", lang), note=True),), sections=tuple(sections),
        rules_line=_rules_line(manifest.get("rule_pack"), ("pia.before-use",), lang),
    )
    return _document(layout)


def filing_dossier(dossier: Json, lang: str) -> Document:
    """The filing dossier for the cyberspace authority (``filing.threshold``): operator
    details, purposes and methods, counts, security measures, processing rules and the impact
    assessments."""
    check_lang(lang)
    op = _map(dossier.get("operator"))
    pack = dossier.get("pack")
    pack_text: Cell = Lines((_s(pack), label(PACKS, pack, lang))) if pack in PACKS else _s(pack)
    lead = (Fields((
        (word("rule_pack", lang), pack_text),
        (word("authority", lang), label(AUTHORITIES, dossier.get("authority"), lang)),
        (word("generated_on", lang), _s(dossier.get("generated_on"))),
    )),)

    deployments = [_map(d) for d in _list(dossier.get("deployments"))]
    purposes: Block
    if deployments:
        purposes = Grid(
            header=(word("deployment", lang), word("purpose", lang), word("mode", lang),
                    word("location", lang), word("retention", lang)),
            rows=tuple(
                (Lines((Code(_s(d.get("id"))), _s(d.get("name")))),
                 label(PURPOSES, d.get("purpose"), lang),
                 label(MODES, d.get("mode"), lang),
                 _location(_map(d.get("location")), lang),
                 _days(d.get("retention_days"), lang))
                for d in deployments
            ),
            widths=(3.2, 2.0, 1.8, 2.6, 1.4),
        )
    else:
        purposes = Para(DASH)

    due = dossier.get("due_on")
    counts = (
        Fields((
            (word("persons", lang), _number(dossier.get("persons"))),
            (word("threshold", lang), _number(dossier.get("threshold"))),
            (word("crossed_on", lang), _s(dossier.get("crossed_on"))),
            (word("due_on", lang),
             Lines((_s(due), word("due_note", lang))) if due else DASH),
            (word("reasons", lang), _lines(dossier.get("reasons"))),
        )),
    )

    assessments = [_map(a) for a in _list(dossier.get("assessments"))]
    pias: Block
    if assessments:
        pias = Grid(
            header=(word("deployment", lang), word("version", lang), word("assessed_on", lang),
                    word("assessor", lang), word("conclusion", lang), word("keep_until", lang)),
            rows=tuple(
                (_code(a.get("deployment")), _s(a.get("version")), _s(a.get("assessed_on")),
                 _s(a.get("assessor")), _s(a.get("conclusion")), _s(a.get("keep_until")))
                for a in assessments
            ),
            widths=(2.4, 1.4, 1.8, 1.8, 3.6, 1.7),
        )
    else:
        pias = Para(DASH)

    sections = (
        Section(word("filing_operator", lang), (Fields((
            (word("operator_name", lang), _s(op.get("name"))),
            (word("contact", lang), _s(op.get("contact"))),
        )),)),
        Section(word("filing_purposes", lang), (purposes,)),
        Section(word("filing_counts", lang), counts),
        Section(word("filing_security", lang), (_bullets(dossier.get("security_measures"),
                                                         lang),)),
        Section(word("filing_rules", lang), (_bullets(dossier.get("processing_rules"), lang),)),
        Section(word("filing_assessments", lang), (pias,)),
    )
    title = word("filing_title", lang)
    layout = Layout(
        kind="filing", lang=lang, title=title,
        meta_title=f"{plain(title)}: {_s(op.get('name'))}", lead=lead, sections=sections,
        rules_line=_rules_line(pack, ("filing.threshold", "pia.before-use",
                                      "security.controls"), lang),
    )
    return _document(layout)


def _lines(values: Any) -> Cell:
    items = tuple(_s(v) for v in _list(values))
    return Lines(items) if items else DASH


def _bullets(values: Any, lang: str) -> Block:
    items = tuple(_s(v) for v in _list(values))
    return Bullets(items) if items else Para(word("none", lang))


def deletion_receipt(receipt: Json, lang: str) -> Document:
    """The receipt for a withdrawal (``consent.withdraw``) or a deletion request
    (``rights.delete``): what was deleted, where, when. It names the person by pseudonym only."""
    check_lang(lang)
    deleted = _map(receipt.get("deleted"))
    templates = _list(deleted.get("templates"))
    operation = receipt.get("operation")
    lead = (
        Para(word("receipt_intro", lang)),
        Fields((
            (word("operation", lang), Lines((label(OPERATIONS, operation, lang),
                                             _code(operation)))),
            (word("subject", lang), _code(receipt.get("subject"))),
            (word("at", lang), _s(receipt.get("at"))),
            (word("deployments", lang), _codes(_list(receipt.get("deployments")))),
        )),
    )
    what = Fields((
        (word("templates", lang), str(len(templates))),
        (word("template_ids", lang), _codes(templates)),
        (word("index_entries", lang), _number(deleted.get("index_entries"))),
        (word("key_destroyed", lang), _yes_no(deleted.get("key_destroyed"), lang)),
        (word("identity_deleted", lang), _yes_no(deleted.get("identity_deleted"), lang)),
        (word("key_rotated", lang), _yes_no(deleted.get("key_rotated"), lang)),
    ))
    sections = (
        Section(word("receipt_deleted", lang), (what,)),
        Section(word("receipt_integrity", lang), (Fields((
            (word("sha256", lang), _code(receipt.get("sha256"))),
        )),)),
    )
    rules = [str(r) for r in _list(receipt.get("rules"))] or [
        "consent.withdraw" if operation == "consent.withdraw" else "rights.delete"]
    title = word("receipt_title", lang)
    layout = Layout(
        kind="receipt", lang=lang, title=title,
        meta_title=f"{plain(title)}: {_s(receipt.get('subject'))}", lead=lead,
        sections=sections, rules_line=_rules_line(receipt.get("rule_pack"), rules, lang),
    )
    return _document(layout)
