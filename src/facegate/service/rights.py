"""The person's rights: what face data is held about them (``rights.access``), its deletion
(``rights.delete``) and withdrawal (``consent.withdraw``), asked through the operator or from
the public rights page.

The public page never carries a request out at once. A reference and a birth date are not
proof of control: references are often known to colleagues and guessable, and a century of
birth dates is only some 36,500 guesses. So every request from the page, whatever its kind,
waits for the officer, who verifies the requester's identity out of band (``rights.handle``)
before anything is deleted, reported or withdrawn. Access reveals data and deletion destroys
it; withdrawal too is routed to the officer, because it erases the person's templates and ends
their recognition-based entry, which a stranger guessing the birth date must not be able to do
blindly, and because one path for all kinds keeps the page's answers identical.

The page's answer is the same, "received", whether or not the reference exists or the birth
date matches; the match is only recorded for the officer in the audit trail. Requests are
rate-limited per client address, per reference (its keyed digest) and per deployment
(``service/ratelimit.py``, ``security.controls``); a refusal is audited without the reference
in clear and without the birth date."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select

from facegate.errors import BadInput, Conflict, NotFound, TooManyRequests
from facegate.localtime import iso_local
from facegate.policy import Decision, Facts, SubjectFacts
from facegate.service import records
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.consents import Consents
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.identities import Identities
from facegate.service.ratelimit import RateLimiter
from facegate.service.subjects import Subjects
from facegate.service.views import consent_view, template_view
from facegate.store.models import Consent, Deployment, RightsRequest, Subject

RIGHTS_KINDS = ("withdraw", "access", "delete")
RIGHTS_RULES = {"withdraw": "consent.withdraw", "access": "rights.access",
                "delete": "rights.delete"}


@dataclass(frozen=True, kw_only=True)
class Rights:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    identities: Identities
    subjects: Subjects
    consents: Consents
    limiter: RateLimiter = field(default_factory=RateLimiter)

    def _check(self, actor: Actor, operation: str, subject_id: str, requester_verified: bool
               ) -> Decision:
        with self.uow() as uow:
            records.subject(uow.session, subject_id)
        return self.gate.check(actor, Facts(operation=operation, pack=self.gate.rule_pack,
                                            on=self.clock.today(), **actor.facts(),
                                            subject=SubjectFacts(subject_id),
                                            requester_verified=requester_verified),
                               subject=subject_id)

    def access(self, actor: Actor, subject_id: str, requester_verified: bool
               ) -> dict[str, Any]:
        """What face data is held about a person, for which purposes and deployments; the
        request and its answer are audited. No template vector leaves."""
        decision = self._check(actor, "rights.access", subject_id, requester_verified)
        with self.uow() as uow:
            s = uow.session
            templates = uow.templates.metadata(decision.permit(), subject_id)
            consents = [(c, self.identities.guardian(s, c)) for c in s.execute(
                select(Consent).where(Consent.subject_id == subject_id)
                .order_by(Consent.granted_at)).scalars()]
            deps = {c.deployment_id: s.get(Deployment, c.deployment_id) for c, _ in consents}
            self.audit.record(s, actor, "rights.access", "allowed", decision.rules,
                              subject=subject_id, detail={"template_count": len(templates)})
            uow.commit()
        return {
            "subject": subject_id, "decision": decision.to_dict(),
            "deployments": [{"id": d.id, "name": d.name, "purpose": d.purpose, "mode": d.mode,
                             "operator": (d.manifest.get("operator") or None)}
                            for d in deps.values() if d is not None],
            "consents": [consent_view(c, g, tz=self.clock.tz) for c, g in consents],
            "templates": [template_view(t, tz=self.clock.tz) for t in templates],
            "images_kept": 0,
            "how_to_delete": "ask the operator to delete your face data (rights.delete), or "
                             "withdraw your consent (consent.withdraw)",
        }

    def delete(self, actor: Actor, subject_id: str, requester_verified: bool
               ) -> dict[str, Any]:
        """The person asks for their face data to be deleted: everything goes, with a receipt.
        """
        self._check(actor, "rights.delete", subject_id, requester_verified)
        out = self.subjects.delete(actor, subject_id)
        return {**out, "request": "rights.delete"}

    # ---- requests from the public pages ------------------------------------------------

    def submit(self, deployment_id: str, kind: str, ref: str, birth_date: date | None,
               contact: str, client: str = "") -> dict[str, Any]:
        """A person's request from the public rights page. It always waits for the officer
        (see the module's docstring) and the answer is always "received": it tells nothing
        about the reference or the birth date. ``client`` is the requester's address, for the
        rate limits; over a limit the request is refused (``TooManyRequests``) and audited."""
        if kind not in RIGHTS_KINDS:
            raise BadInput(f"kind must be one of {', '.join(RIGHTS_KINDS)}")
        ref, contact = ref.strip(), contact.strip()
        if not ref or len(ref) > 200 or len(contact) > 200:
            raise BadInput("give your reference (at most 200 characters)")
        keyring = self.identities.keyring
        public = Actor("public:rights-page", "person")
        self.gate.role(public, "rights.request", deployment=deployment_id)
        with self.uow() as uow:
            records.deployment(uow.session, deployment_id)
        digest = keyring.ref_digest(ref)
        verdict = self.limiter.hit({"address": client or "unknown", "reference": digest,
                                    "deployment": deployment_id})
        if not verdict.allowed:
            self.audit.alone(public, "rights.request", "refused", ["security.controls"],
                             deployment=deployment_id,
                             detail={"kind": kind, "limit": verdict.scope,
                                     "retry_after_s": verdict.retry_after_s})
            raise TooManyRequests("too many rights requests; try again later",
                                  rules=["security.controls"],
                                  details={"retry_after_s": verdict.retry_after_s})
        rid = "req_" + uuid.uuid4().hex[:20]
        with self.uow() as uow:
            s = uow.session
            ident = self.identities.find(s, ref)
            subject = ident.subject_id if ident else None
            matched = False
            if ident is not None and birth_date is not None:
                _, birth = self.identities.open(s, ident.subject_id)
                matched = birth == birth_date
            s.add(RightsRequest(id=rid, deployment_id=deployment_id, kind=kind,
                                ref_digest=digest,
                                contact_sealed=keyring.seal_contact(rid, contact)
                                if contact else None, status="pending",
                                subject_id=subject, created_at=self.clock.now()))
            self.audit.record(s, public, "rights.request", "allowed", [RIGHTS_RULES[kind]],
                              subject=subject, deployment=deployment_id,
                              detail={"request": rid, "kind": kind,
                                      "birth_date_matched": matched})
            uow.commit()
        return {"id": rid, "status": "received", "kind": kind}

    def all(self, actor: Actor, status: str | None = None) -> list[dict[str, Any]]:
        """Requests from the public pages, newest first, with the sealed contact opened."""
        self.gate.role(actor, "rights.read")
        keyring = self.identities.keyring
        with self.uow() as uow:
            q = select(RightsRequest).order_by(RightsRequest.created_at.desc())
            if status:
                q = q.where(RightsRequest.status == status)
            out = []
            for r in uow.session.execute(q).scalars():
                contact = (keyring.open_contact(r.id, r.contact_sealed)
                           if r.contact_sealed else None)
                out.append({"id": r.id, "deployment": r.deployment_id, "kind": r.kind,
                            "status": r.status, "subject": r.subject_id, "contact": contact,
                            "created_at": iso_local(r.created_at, self.clock.tz),
                            "handled_at": iso_local(r.handled_at, self.clock.tz),
                            "handled_by": r.handled_by, "outcome": r.outcome})
            return out

    def handle(self, actor: Actor, request_id: str, verified: bool) -> dict[str, Any]:
        """The officer checked the requester's identity (or could not): carry it out or
        reject it."""
        return self._complete(actor, request_id, verified)

    def _gone(self, subject_id: str) -> bool:
        with self.uow() as uow:
            sub = uow.session.get(Subject, subject_id)
            return sub is None or sub.deleted_at is not None

    def _complete(self, actor: Actor, request_id: str, verified: bool) -> dict[str, Any]:
        with self.uow() as uow:
            r = uow.session.get(RightsRequest, request_id)
            if r is None:
                raise NotFound(f"no rights request {request_id!r}")
            if r.status != "pending":
                raise Conflict(f"request {request_id} is already {r.status}")
            kind, subject, dep = r.kind, r.subject_id, r.deployment_id
        result: dict[str, Any] = {}
        if not verified:
            status, outcome = "rejected", "the requester's identity could not be verified"
        elif subject is None:
            status, outcome = "done", "no face data is held under this reference"
        elif kind in ("access", "delete") and self._gone(subject):
            # deleted since the request came (by another request, or the officer)
            status, outcome = "done", "no face data is held any more: the subject was deleted"
        elif kind == "access":
            result = self.access(actor, subject, True)
            status, outcome = "done", f"{len(result['templates'])} template(s) reported"
        elif kind == "delete":
            result = self.delete(actor, subject, True)
            status, outcome = "done", f"deleted; receipt {result['sha256']}"
        else:
            try:
                result = self.consents.withdraw(actor, subject, dep)
                status, outcome = "done", f"withdrawn; receipt {result['sha256']}"
            except NotFound:
                status, outcome = "done", "no active consent at this deployment"
        with self.uow() as uow:
            r = uow.session.get(RightsRequest, request_id)
            assert r is not None
            r.status, r.outcome, r.handled_at, r.handled_by = status, outcome, \
                self.clock.now(), actor.name
            self.audit.record(uow.session, actor, "rights.request.handle", "allowed",
                              [RIGHTS_RULES[kind]], subject=subject, deployment=dep,
                              detail={"request": request_id, "status": status})
            uow.commit()
        return {"id": request_id, "kind": kind, "status": status, "outcome": outcome,
                "result": result}
