"""The notice shown before capture (``notice.required``, ``notice.accessible``)."""

from __future__ import annotations

from collections.abc import Mapping

from facegate.documents.localized import Picker
from facegate.documents.model import Block, Bullets, Fields, Layout, Para, Section
from facegate.documents.render import (
    Document,
    Json,
    _code,
    _days,
    _document,
    _map,
    _rules_line,
    _s,
)
from facegate.documents.text import (
    ALTERNATIVES,
    DASH,
    METHODS,
    PURPOSES,
    WORDS,
    Bi,
    Text,
    check_lang,
    label,
    pick,
    plain,
    word,
)


def _method(content: Json, lang: str) -> Text:
    method, mode = content.get("method"), content.get("mode")
    for code, (zh, en) in METHODS.items():
        if method in (code, en) or (not method and mode == code):
            return pick(lang, zh, en)
    return _s(method)


def _right_contact(contact: Text, lang: str) -> Text:
    if isinstance(contact, Bi):  # each language's wording with that language's contact
        zh, en = WORDS["right_contact"]
        return Bi(zh.format(contact=contact.zh), en.format(contact=contact.en))
    return word("right_contact", lang, contact=contact)


def notice(content: Json, lang: str, *, draft: bool = False) -> Document:
    """The notice shown before capture (``notice.required``), in large accessible type
    (``notice.accessible``): operator and contact; purpose, method and retention; necessity and
    impact; the alternative; how to exercise each right; the notice version and digest."""
    check_lang(lang)
    t = Picker(lang)
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
            (word("alt_description", lang), t("alternative.description", alt.get("description"))),
        ))
    else:
        alternative = Fields(((word("alternative", lang), DASH),))

    contact = t("operator.contact", op.get("contact"))
    title = word("notice_title", lang)
    sections = (
        Section(word("notice_who", lang), (Fields((
            (word("operator_name", lang), t("operator.name", op.get("name"))),
            (word("contact", lang), contact),
        )),)),
        Section(word("notice_what", lang), (Fields((
            (word("purpose", lang), label(PURPOSES, content.get("purpose"), lang)),
            (word("method", lang), _method(content, lang)),
            (word("capture_area", lang),
             t("location.capture_area", content.get("capture_area"))),
            (word("retention", lang), _days(content.get("retention_days"), lang)),
            (word("images_kept", lang), images_text),
        )),)),
        Section(word("notice_why", lang), (Fields((
            (word("necessity", lang), t("necessity", content.get("necessity"))),
            (word("impact", lang), t("least_impact", content.get("least_impact"))),
        )),)),
        Section(word("notice_choice", lang), (
            Para(word("notice_choice_text", lang)), alternative,
        )),
        Section(word("notice_rights", lang), (
            Para(rights_text),
            Bullets(tuple(word(k, lang) for k in (
                "right_withdraw", "right_access", "right_delete", "right_alternative"))),
            Para(_right_contact(contact, lang)),
        )),
        Section(word("notice_version", lang), (Fields((
            (word("version", lang), _s(content.get("version"))),
            (word("digest", lang), _code(content.get("digest"))),
            (word("notice_url", lang), _code(content.get("url"))),
        )),)),
    )
    name = t("name", content.get("name"))
    lead: tuple[Block, ...] = (
        Para(word("notice_intro", lang)),
        Fields((
            (word("deployment_name", lang), name),
            (word("deployment_id", lang), _code(content.get("deployment"))),
            (word("notice_version", lang), _s(content.get("version"))),
        )),
        *t.note(),
    )
    rules = ("notice.required", "notice.accessible", "alternative.required",
             "consent.withdraw", "rights.access", "rights.delete", "retention.minimum")
    layout = Layout(
        kind="notice", lang=lang, title=title, meta_title=f"{plain(title)}: {plain(name)}",
        lead=lead, sections=sections,
        rules_line=_rules_line(content.get("rule_pack"), rules, lang), accessible=True,
        draft=draft,
    )
    return _document(layout, t.fallbacks)
