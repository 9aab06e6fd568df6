"""The kiosk at the point of capture (``/kiosk/{deployment}``), signed in with a device key: one
transaction per person.

1. ``start``: a new transaction and the short notice the person reads before any camera starts
   (``notice.required``): operator, purpose, retention, that no image is kept, how to withdraw;
   and the two choices, face or the manifest's alternative (``alternative.required``).
2. ``choose_face``: the person's explicit choice for this transaction
   (``coercion.prohibited``); refused once the person declined in it (no re-prompt).
3. ``match``: one frame, verified against the claimed reference (1:1) or identified (1:N),
   with ``choice=face`` only where the person's choice was recorded in the transaction. The
   answer says only matched or not, never who nor a score: the screen faces the public. A
   claim no subject holds is told as "not matched" (the kiosk tells no one which references
   exist). At a major-interest deployment the match decides nothing: staff confirm
   (``major-interest.manual-review``).
4. ``decline``: the alternative, recorded for the transaction; the face path ends there.

Each step leaves an audit record naming the transaction and the device."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from facegate.documents.text import ALTERNATIVES, PURPOSES, Pair, label, plain
from facegate.errors import BadInput, NotFound, Refused
from facegate.policy.facts import Manifest
from facegate.policy.packs import get_pack
from facegate.policy.texts import in_lang
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.consents import Consents
from facegate.service.documents import unreachable
from facegate.service.facts import FactBuilder
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities
from facegate.service.matching import Matching
from facegate.store.models import TransactionRecord

CLAIM_MAX = 100
CHOSE_FACE = "chose_face"  # the transaction record of the person's choice
# Refusals about the claimed person's own records (no consent here, withdrawn, retention
# over): to the screen these are "not matched", as an unknown claim is; the audit keeps why.
PERSONAL = frozenset({"consent.separate", "purpose.bound", "consent.guardian-under-14",
                      "consent.withdraw", "consent.lawful-basis", "retention.minimum",
                      "notice.required"})


def both(value: Any) -> dict[str, str | None]:
    """A manifest text (plain or ``{zh, en}``) in both languages."""
    return {"zh": in_lang(value, "zh"), "en": in_lang(value, "en")}


def _pair(table: Mapping[str, Pair], code: str | None) -> dict[str, str | None]:
    """A closed-list code's label in both languages (``documents.text.label``)."""
    return {lang: plain(label(table, code, lang)) if code else None for lang in ("zh", "en")}


def short_notice(m: Manifest, major_interest: bool, rights_url: str | None
                 ) -> dict[str, Any]:
    """What the kiosk shows before the camera starts, in Chinese and English."""
    alt = m.alternative
    return {
        "deployment": m.id, "name": both(m.name or m.id), "mode": m.mode,
        "operator": both(m.operator.name), "contact": both(m.operator.contact),
        "purpose": _pair(PURPOSES, m.purpose), "retention_days": m.retention_days,
        "capture_area": both(m.location.capture_area),
        "alternative": {"method": _pair(ALTERNATIVES, alt.method) if alt else None,
                        "description": both(alt.description) if alt else None},
        "major_interest": major_interest, "rights_url": rights_url,
        "accessible": both(m.accessibility.notice) if m.accessibility else None,
    }


@dataclass(frozen=True, kw_only=True)
class Kiosk:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    facts: FactBuilder
    identities: Identities
    matching: Matching
    consents: Consents
    public_url: str

    def _check(self, actor: Actor, deployment_id: str, transaction: str | None = None
               ) -> tuple[Manifest, list[str], bool]:
        """The gate on the kiosk itself: a device key of this deployment, registered in its
        manifest, in a transaction the person has not declined. Also whether the person
        chose face in the transaction (its record)."""
        with self.uow() as uow:
            s = uow.session
            dep, manifest = records.deployment(s, deployment_id)
            facts = self.facts.at_deployment(s, actor, "kiosk", dep, manifest,
                                              transaction=transaction)
            chose = records.transaction_event(s, deployment_id, transaction, CHOSE_FACE)
        decision = self.gate.check(actor, facts, deployment=deployment_id,
                                   detail={"transaction": transaction, "device": actor.device})
        return manifest, decision.rules, chose

    def _major(self, m: Manifest) -> bool:
        """A major-interest deployment: a match decides nothing, staff confirm."""
        pack = get_pack(m.rule_pack or self.gate.rule_pack)
        return bool(set(m.transactions) & set(pack.params["major_interest_transactions"]))

    def start(self, actor: Actor, deployment_id: str) -> dict[str, Any]:
        """A new transaction, and the short notice shown before any camera starts."""
        transaction = "kiosk-" + secrets.token_hex(8)
        manifest, rules, _ = self._check(actor, deployment_id)
        rights: str | None = f"{self.public_url.rstrip('/')}/rights/{deployment_id}"
        if unreachable(self.public_url):  # an address no person can reach is not shown
            rights = None
        self.audit.alone(actor, "kiosk.notice", "allowed", [*rules, "notice.required"],
                         deployment=deployment_id, purpose=manifest.purpose,
                         detail={"transaction": transaction, "device": actor.device})
        return {"transaction": transaction,
                **short_notice(manifest, self._major(manifest), rights)}

    def choose_face(self, actor: Actor, deployment_id: str, transaction: str) -> dict[str, Any]:
        """The person chose face for this transaction; refused once they declined in it."""
        _transaction(transaction)
        manifest, rules, chose = self._check(actor, deployment_id, transaction)
        with self.uow() as uow:
            if not chose:
                uow.session.add(TransactionRecord(
                    deployment_id=deployment_id, transaction=transaction, event=CHOSE_FACE,
                    at=self.clock.now()))
            self.audit.record(uow.session, actor, "kiosk.choice", "allowed",
                              [*rules, "coercion.prohibited"], deployment=deployment_id,
                              purpose=manifest.purpose,
                              detail={"transaction": transaction, "choice": "face",
                                      "device": actor.device})
            uow.commit()
        return {"transaction": transaction, "choice": "face"}

    def match(self, actor: Actor, deployment_id: str, image: bytes, transaction: str,
              claim: str | None = None) -> dict[str, Any]:
        """One frame: 1:1 against the claim, or 1:N. Matched or not, and whether staff decide;
        nothing about who."""
        _transaction(transaction)
        manifest, _, chose = self._check(actor, deployment_id, transaction)  # not declined
        choice = "face" if chose else None  # the gate sees the choice the person recorded
        if manifest.mode == "identify":
            found = self.matching.identify(actor, deployment_id, image, 1,
                                           transaction=transaction, choice=choice)
            return self._told(bool(found["candidates"]), manifest, transaction)
        if claim is None or not claim.strip() or len(claim) > CLAIM_MAX:
            raise BadInput(f"enter your badge number or reference (1 to {CLAIM_MAX} "
                           "characters)", message_zh="请输入工牌号或编号")
        with self.uow() as uow:
            ident = self.identities.find(uow.session, claim.strip())
        if ident is None:
            self.audit.alone(actor, "verify", "refused", ["purpose.bound"],
                             deployment=deployment_id, purpose=manifest.purpose,
                             detail={"transaction": transaction, "claim": "unknown",
                                     "device": actor.device})
            return self._told(False, manifest, transaction)
        try:
            out = self.matching.verify(actor, ident.subject_id, deployment_id, image,
                                       transaction=transaction, choice=choice)
        except NotFound:  # no template here: the refusal or error is in the trail already
            return self._told(False, manifest, transaction)
        except Refused as e:
            if set(e.rules) <= PERSONAL:
                return self._told(False, manifest, transaction)
            raise
        return self._told(bool(out["match"]), manifest, transaction)

    def _told(self, matched: bool, m: Manifest, transaction: str) -> dict[str, Any]:
        return {"transaction": transaction, "outcome": "matched" if matched else "not_matched",
                "staff_confirm": matched and self._major(m)}

    def decline(self, actor: Actor, deployment_id: str, transaction: str) -> dict[str, Any]:
        """The alternative, recorded for the transaction: no face is offered in it again."""
        _transaction(transaction)
        self._check(actor, deployment_id)  # a registered device of this deployment
        out = self.consents.decline(actor, deployment_id, None, transaction)
        return {"transaction": transaction, "recorded": out["recorded"],
                "alternative": out["alternative"]}


def _transaction(value: str | None) -> str:
    if not value or not value.startswith("kiosk-") or len(value) > 40:
        raise BadInput("the kiosk's transaction is missing or malformed; start again",
                       message_zh="本次业务编号缺失或有误，请重新开始")
    return value
