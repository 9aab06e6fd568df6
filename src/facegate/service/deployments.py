"""Registering deployments from their manifests (``purpose.declared``, ``place.*``,
``alternative.required`` ...), their public notice, and ending face recognition at one
(``filing.deregister``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from facegate.errors import BadInput, Conflict, NotFound
from facegate.localtime import iso_local
from facegate.policy import Decision, Facts, Manifest, decide
from facegate.policy.packs import PACKS
from facegate.policy.texts import one_line
from facegate.service import records
from facegate.service.actors import NOBODY, Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.faces import Recogniser
from facegate.service.facts import assessment_facts
from facegate.service.filing import Filing, operator_of
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.indexes import IndexRegistry
from facegate.service.views import deployment_view, digest_of, notice_content
from facegate.store.models import Consent, Deployment, Notice

MAX_VERSION = 2**31 - 1  # version columns are 32-bit integers; larger is never stored


def parse_manifest(raw: dict[str, Any]) -> Manifest:
    try:
        return Manifest.model_validate(raw)
    except ValidationError as e:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                    for err in e.errors()]
        raise BadInput("the manifest is not valid: " + "; ".join(problems),
                       details={"problems": problems}) from None


@dataclass(frozen=True, kw_only=True)
class Deployments:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    recogniser: Recogniser
    indexes: IndexRegistry
    filing: Filing
    public_url: str

    parse = staticmethod(parse_manifest)

    def check(self, raw: dict[str, Any], pack: str | None = None,
              actor: Actor | None = None) -> Decision:
        """The gate's decision on a manifest, rule by rule; nothing is stored. An unknown
        ``pack`` is bad input."""
        if pack is not None and pack not in PACKS:
            raise BadInput(f"unknown rule pack {pack!r}; known: {', '.join(PACKS)}")
        m = parse_manifest(raw)
        return decide(Facts(operation="deployment.apply",
                            pack=pack or m.rule_pack or self.gate.rule_pack,
                            on=self.clock.today(),
                            **(actor.facts() if actor else NOBODY), deployment=m))

    def apply(self, actor: Actor, raw: dict[str, Any]) -> dict[str, Any]:
        """Register a deployment, or change it; a new notice version when its text changed."""
        m = parse_manifest(raw)
        pack = m.rule_pack or self.gate.rule_pack
        decision = self.gate.check(actor, Facts(operation="deployment.apply", pack=pack,
                                                on=self.clock.today(), **actor.facts(),
                                                deployment=m),
                                   deployment=m.id, purpose=m.purpose, detail={"pack": pack})
        self.recogniser.threshold_at(m)  # a deployment's fmr_target must be a calibrated one
        now = self.clock.now()
        content = notice_content(m)
        with self.uow() as uow:
            s = uow.session
            dep = s.get(Deployment, m.id)
            created = dep is None
            if dep is not None and dep.status == "terminated":
                raise Conflict(f"deployment {m.id} ended face recognition; register a new id",
                               rules=["filing.deregister"])
            changed = [] if dep is None else [
                k for k, old, new in (("purpose", dep.purpose, m.purpose or ""),
                                      ("mode", dep.mode, m.mode)) if old != new]
            manifest_json = m.model_dump(mode="json")
            if dep is None:  # a new deployment's templates are the installation's engine's
                dep = Deployment(id=m.id, created_at=now, notice_version=0,
                                 engine=self.recogniser.key)
                s.add(dep)
            dep.name, dep.rule_pack, dep.purpose = one_line(m.name), pack, m.purpose or ""
            dep.mode, dep.status, dep.manifest, dep.updated_at = m.mode, "active", \
                manifest_json, now
            current = s.execute(select(Notice).where(
                Notice.deployment_id == m.id, Notice.version == dep.notice_version)
            ).scalar_one_or_none()
            digest = digest_of(content)
            if current is None or current.digest != digest:
                dep.notice_version += 1
                s.add(Notice(deployment_id=m.id, version=dep.notice_version, content=content,
                             digest=digest, created_at=now))
            s.flush()
            if changed:  # a substantive change (filing.change; makes the PIA stale)
                self.filing.event(s, "change", f"{m.id}: {', '.join(changed)} changed",
                                  operator_of(dep.manifest))
            if m.location.public_place:
                self.filing.track(s)
            self.audit.record(s, actor, "deployment.apply", "allowed", decision.rules,
                              deployment=m.id, purpose=m.purpose,
                              detail={"pack": pack, "created": created,
                                      "notice_version": dep.notice_version,
                                      "changed": changed,
                                      "manifest_sha256": digest_of(manifest_json)})
            uow.commit()
            assessment = assessment_facts(s, dep)
            return {"id": m.id, "status": dep.status, "created": created, "pack": pack,
                    "notice_version": dep.notice_version, "changed": changed,
                    "assessment": None if assessment is None else {
                        "version": assessment.version, "stale": assessment.stale,
                        "stale_reason": assessment.stale_reason},
                    "decision": decision.to_dict()}

    def all(self, actor: Actor) -> list[dict[str, Any]]:
        self.gate.role(actor, "deployment.read")
        with self.uow() as uow:
            deps = uow.session.execute(select(Deployment).order_by(Deployment.id)).scalars()
            return [deployment_view(d, tz=self.clock.tz) for d in deps]

    def get(self, actor: Actor, deployment_id: str) -> dict[str, Any]:
        self.gate.role(actor, "deployment.read")
        with self.uow() as uow:
            dep, _ = records.deployment(uow.session, deployment_id)
            out = deployment_view(dep, tz=self.clock.tz)
            out["manifest"] = dep.manifest
            return out

    def notice(self, deployment_id: str, version: int | None = None) -> dict[str, Any]:
        """The public notice (no personal data)."""
        if version is not None and not 1 <= version <= MAX_VERSION:
            raise NotFound(f"deployment {deployment_id!r} has no notice version {version}")
        with self.uow() as uow:
            dep, _ = records.deployment(uow.session, deployment_id)
            n = uow.session.execute(select(Notice).where(
                Notice.deployment_id == deployment_id,
                Notice.version == (version or dep.notice_version))).scalar_one_or_none()
            if n is None:
                raise NotFound(f"deployment {deployment_id!r} has no notice version {version}")
            return {"version": n.version, "digest": n.digest, **n.content}

    def notice_url(self, deployment_id: str) -> str:
        """Where people read the notice (a sign's QR code points here)."""
        return f"{self.public_url.rstrip('/')}/notice/{deployment_id}"

    def terminate(self, actor: Actor, deployment_id: str) -> dict[str, Any]:
        """End face recognition at a deployment: its templates are deleted, its consents
        closed, and (cn-2025) a deregistration filing clock starts (``filing.deregister``)."""
        decision = self.gate.role(actor, "deployment.terminate", deployment=deployment_id)
        now = self.clock.now()
        with self.uow() as uow, self.indexes.lock:
            s = uow.session
            dep, _ = records.deployment(s, deployment_id)
            if dep.status == "terminated":
                raise Conflict(f"{deployment_id} was already terminated")
            gone = uow.templates.delete_deployment(decision.permit(), deployment_id)
            consents = list(s.execute(select(Consent).where(
                Consent.deployment_id == deployment_id, Consent.withdrawn_at.is_(None)))
                .scalars())
            for c in consents:
                c.withdrawn_at = now
            dep.status, dep.terminated_at, dep.updated_at = "terminated", now, now
            self.filing.event(s, "deregister", f"{deployment_id} ended face recognition",
                              operator_of(dep.manifest))
            self.indexes.forget(deployment_id)
            deleted = {"templates": len(gone), "subjects": len({t.subject_id for t in gone}),
                       "consents_closed": len(consents)}
            body: dict[str, Any] = {
                "operation": "deployment.terminate", "deployment": deployment_id,
                "at": iso_local(now, self.clock.tz), "deleted": deleted,
                "rules": ["filing.deregister", "retention.minimum"]}
            receipt = {**body, "sha256": digest_of(body)}
            self.audit.record(s, actor, "deployment.terminate", "allowed",
                              [*decision.rules, "filing.deregister", "retention.minimum"],
                              deployment=deployment_id,
                              detail={"receipt_sha256": receipt["sha256"],
                                      "template_count": deleted["templates"],
                                      "subject_count": deleted["subjects"],
                                      "consents_closed": deleted["consents_closed"]})
            self.indexes.commit_or_invalidate(uow)
        return receipt
