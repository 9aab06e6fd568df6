"""The filing dossier for the cyberspace authority (``filing.threshold``).

The manifests' and the assessments' texts are picked in the document's language
(``documents.localized``); why filing is required is told in words, not as the reason codes
the filing status carries (``"persons"``, ``"public_place:<deployment>"``)."""

from __future__ import annotations

from datetime import tzinfo
from typing import Any

from facegate.documents.localized import Picker
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
)
from facegate.documents.render import (
    Document,
    Json,
    _code,
    _days,
    _document,
    _list,
    _location,
    _map,
    _number,
    _rules_line,
    _s,
    _when,
)
from facegate.documents.text import (
    AUTHORITIES,
    DASH,
    MODES,
    PACKS,
    PURPOSES,
    WORDS,
    Bi,
    check_lang,
    label,
    pick,
    plain,
    word,
)
from facegate.localtime import DEFAULT_ZONE


def filing_dossier(dossier: Json, lang: str, *, draft: bool = False,
                   tz: tzinfo = DEFAULT_ZONE) -> Document:
    """The filing dossier for the cyberspace authority (``filing.threshold``): operator
    details, purposes and methods, counts, security measures, processing rules and the impact
    assessments; times in ``tz`` with its offset."""
    check_lang(lang)
    t = Picker(lang)
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
                (Lines((Code(_s(d.get("id"))),
                        t(f"deployments[{d.get('id')}].name", d.get("name")))),
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
             Lines((_s(due), word("due_note", lang),
                    *((word("due_provisional", lang),) if dossier.get("due_provisional")
                      else ()))) if due else DASH),
            (word("reasons", lang), _reasons(dossier.get("reasons"), deployments, lang, t)),
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
                 t(f"assessments[{a.get('deployment')}].assessor", a.get("assessor")),
                 t(f"assessments[{a.get('deployment')}].conclusion", a.get("conclusion")),
                 _s(a.get("keep_until")))
                for a in assessments
            ),
            widths=(2.4, 1.4, 1.8, 1.8, 3.6, 1.7),
        )
    else:
        pias = Para(DASH)

    operator = t("operator.name", op.get("name"))
    sections = (
        Section(word("filing_operator", lang), (Fields((
            (word("operator_name", lang), operator),
            (word("contact", lang), t("operator.contact", op.get("contact"))),
        )),)),
        Section(word("filing_purposes", lang), (purposes,)),
        Section(word("filing_counts", lang), counts),
        Section(word("filing_security", lang), (_bullets(dossier.get("security_measures"),
                                                         lang),)),
        Section(word("filing_rules", lang), (_bullets(dossier.get("processing_rules"), lang),)),
        Section(word("filing_assessments", lang), (pias,)),
        Section(word("filing_checkpoint", lang), _checkpoint(dossier.get("checkpoint"), lang, tz)),
    )
    title = word("filing_title", lang)
    layout = Layout(
        kind="filing", lang=lang, title=title,
        meta_title=f"{plain(title)}: {plain(operator)}", lead=(*lead, *t.note()),
        sections=sections,
        rules_line=_rules_line(pack, ("filing.threshold", "pia.before-use",
                                      "security.controls"), lang),
        draft=draft,
    )
    return _document(layout, t.fallbacks)


def _checkpoint(value: Any, lang: str, tz: tzinfo) -> tuple[Block, ...]:
    """The audit trail's signed checkpoint at the dossier's making (``security.controls``)."""
    cp = _map(value)
    if not cp:
        return (Para(DASH),)
    return (Para(word("checkpoint_note", lang)), Fields((
        (word("checkpoint_size", lang), _number(cp.get("size"))),
        (word("signed_at", lang), _when(cp.get("at"), tz)),
        (word("root_hash", lang), Code(_s(cp.get("root")))),
        (word("public_key", lang), Code(_s(cp.get("public_key")))),
        (word("signature", lang), Code(_s(cp.get("signature")))),
    )))


def _reasons(values: Any, deployments: list[Json], lang: str, t: Picker) -> Cell:
    """Why filing is required, in words: the person count, or a deployment (by its name, in
    the document's language, and its id) in a public place; any other reason as given."""
    names = {str(d.get("id")): d.get("name") for d in deployments}
    items: list[Cell] = []
    for reason in _list(values):
        code = _s(reason)
        if code == "persons":
            items.append(word("reason_persons", lang))
        elif code.startswith("public_place:"):
            dep = code.removeprefix("public_place:")
            if names.get(dep) is None:
                items.append(word("reason_public_place", lang, id=dep))
                continue
            name = t(f"deployments[{dep}].name", names[dep])
            zh, en = (name.zh, name.en) if isinstance(name, Bi) else (name, name)
            wording = WORDS["reason_public_place_named"]
            items.append(pick(lang, wording[0].format(name=zh, id=dep),
                              wording[1].format(name=en, id=dep)))
        else:
            items.append(code)
    return Lines(tuple(items)) if items else DASH


def _bullets(values: Any, lang: str) -> Block:
    items = tuple(_s(v) for v in _list(values))
    return Bullets(items) if items else Para(word("none", lang))
