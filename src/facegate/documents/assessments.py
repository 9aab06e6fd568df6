"""The personal information protection impact assessment (``pia.before-use``).

Its sections, assessor and conclusion are picked in the document's language like the
manifest's texts (``documents.localized``): one only in the other language, or written in the
other script, is named in the document's language note."""

from __future__ import annotations

from facegate.documents.localized import Picker
from facegate.documents.model import Fields, Layout, Para, Section
from facegate.documents.render import (
    Document,
    Json,
    _code,
    _days,
    _document,
    _location,
    _map,
    _other_lang,
    _rules_line,
    _s,
)
from facegate.documents.text import MODES, PURPOSES, check_lang, label, plain, word

_PIA_SECTIONS = (
    ("lawfulness", "pia_lawfulness"),
    ("impact", "pia_impact"),
    ("risks", "pia_risks"),
    ("protections", "pia_protections"),
)


def impact_assessment(assessment: Json, manifest: Json, lang: str, *,
                      draft: bool = False) -> Document:
    """The personal information protection impact assessment (``pia.before-use``), with its
    four sections, each headed in both languages."""
    check_lang(lang)
    t = Picker(lang)
    op = _map(manifest.get("operator"))
    loc = _map(manifest.get("location"))
    texts = _map(assessment.get("sections"))
    purpose = assessment.get("purpose") or manifest.get("purpose")
    mode = assessment.get("mode") or manifest.get("mode")
    name = t("name", manifest.get("name"))
    subject = Fields((
        (word("deployment_id", lang), _code(assessment.get("deployment") or manifest.get("id"))),
        (word("deployment_name", lang), name),
        (word("operator", lang), t("operator.name", op.get("name"))),
        (word("contact", lang), t("operator.contact", op.get("contact"))),
        (word("purpose", lang), label(PURPOSES, purpose, lang)),
        (word("mode", lang), label(MODES, mode, lang)),
        (word("location", lang), _location(loc, lang)),
        (word("capture_area", lang), t("location.capture_area", loc.get("capture_area"))),
        (word("retention", lang), _days(manifest.get("retention_days"), lang)),
        (word("legal_basis", lang), _s(manifest.get("legal_basis"))),
        *(((word("public_security_necessity", lang),
             t("location.public_security_necessity", loc["public_security_necessity"])),)
          if loc.get("public_security_necessity") else ()),
    ))
    record = (
        Fields((
            (word("version", lang), _s(assessment.get("version"))),
            (word("assessed_on", lang), _s(assessment.get("assessed_on"))),
            (word("assessor", lang), t("assessor", assessment.get("assessor"))),
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
            *_other_lang(heading, lang), Para(t(f"sections.{key}", texts.get(key))),
        )))
    sections.append(Section(word("conclusion", lang), (
        Para(t("conclusion", assessment.get("conclusion"))),)))
    title = word("pia_title", lang)
    layout = Layout(
        kind="pia", lang=lang, title=title,
        meta_title=f"{plain(title)}: {plain(name)}",
        lead=(Para(word("pia_basis", lang), note=True), *t.note()), sections=tuple(sections),
        rules_line=_rules_line(manifest.get("rule_pack"), ("pia.before-use",), lang),
        draft=draft,
    )
    return _document(layout, t.fallbacks)
