"""The deletion receipt for a withdrawal (``consent.withdraw``) or a deletion request
(``rights.delete``)."""

from __future__ import annotations

from datetime import tzinfo

from facegate.documents.model import Fields, Layout, Lines, Para, Section
from facegate.documents.render import (
    Document,
    Json,
    _code,
    _codes,
    _document,
    _list,
    _map,
    _number,
    _rules_line,
    _s,
    _when,
    _yes_no,
)
from facegate.documents.text import OPERATIONS, check_lang, label, plain, word
from facegate.localtime import DEFAULT_ZONE


def deletion_receipt(receipt: Json, lang: str, *, draft: bool = False,
                     tz: tzinfo = DEFAULT_ZONE) -> Document:
    """The receipt for a withdrawal (``consent.withdraw``) or a deletion request
    (``rights.delete``): what was deleted, where, when (in ``tz``, with its offset). It names
    the person by pseudonym only."""
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
            (word("at", lang), _when(receipt.get("at"), tz)),
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
        draft=draft,
    )
    return _document(layout)
