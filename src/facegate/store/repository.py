"""The template repository: the only way to the template table, and every call needs a permit
from the policy gate (``facegate.policy.Permit``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from facegate.crypto import KeyRing
from facegate.policy import Permit
from facegate.store.models import Consent, IndexState, Template

READ_OPS = ("verify", "identify", "subject.read", "subject.delete", "consent.withdraw",
            "rights.access", "rights.delete", "export")


def _aad(t: Template) -> str:
    return f"template:{t.id}:{t.subject_id}:{t.deployment_id}:{t.engine}:{t.model_version}"


@dataclass(frozen=True)
class StoredTemplate:
    id: str
    subject_id: str
    deployment_id: str
    engine: str
    model_version: str
    vector: NDArray[np.float32]
    expires_at: datetime


class TemplateRepository:
    def __init__(self, session: Session, keyring: KeyRing) -> None:
        self._s = session
        self._keys = keyring

    def _check(self, permit: Permit, subject_id: str | None, deployment_id: str | None,
               *operations: str) -> None:
        permit.require(*operations)
        if subject_id is not None and permit.subject_id not in (None, subject_id):
            raise PermissionError("the permit was issued for another subject")
        if deployment_id is not None and permit.deployment_id not in (None, deployment_id):
            raise PermissionError("the permit was issued for another deployment")

    def _bump(self, deployment_ids: set[str]) -> None:
        for dep in deployment_ids:
            state = self._s.get(IndexState, dep, with_for_update=True)
            if state is None:
                self._s.add(IndexState(deployment_id=dep, generation=1))
            else:
                state.generation += 1

    def add(self, permit: Permit, *, subject_id: str, deployment_id: str, consent_id: str,
            engine: str, model_version: str, vector: NDArray[np.float32],
            quality: dict[str, Any], dek: bytes, now: datetime, expires_at: datetime) -> str:
        self._check(permit, subject_id, deployment_id, "enrol")
        v = np.asarray(vector, dtype=np.float32).reshape(-1)
        t = Template(id="tpl_" + uuid.uuid4().hex[:20], subject_id=subject_id,
                     deployment_id=deployment_id, consent_id=consent_id, engine=engine,
                     model_version=model_version, dim=int(v.shape[0]), sealed=b"",
                     quality=quality, created_at=now, expires_at=expires_at)
        t.sealed = self._keys.seal(dek, v.tobytes(), _aad(t))
        self._s.add(t)
        self._bump({deployment_id})
        return t.id

    def metadata(self, permit: Permit, subject_id: str) -> list[Template]:
        """Template rows without opening them (for access reports)."""
        self._check(permit, subject_id, None, *READ_OPS)
        return list(self._s.execute(select(Template).where(Template.subject_id == subject_id)
                                    .order_by(Template.created_at)).scalars())

    def open_for_subject(self, permit: Permit, dek: bytes, subject_id: str, deployment_id: str,
                         engine: str, model_version: str) -> list[StoredTemplate]:
        self._check(permit, subject_id, deployment_id, "verify")
        rows = self._s.execute(select(Template).where(
            Template.subject_id == subject_id, Template.deployment_id == deployment_id,
            Template.engine == engine, Template.model_version == model_version)).scalars()
        return [self._open(t, dek) for t in rows]

    def open_for_enrolment(self, permit: Permit, dek: bytes, subject_id: str, engine: str,
                           model_version: str, now: datetime) -> list[StoredTemplate]:
        """The subject's own unexpired templates whose consent stands, at every deployment,
        for an enrolment the gate allowed to compare its new face with: the new template must
        be the same person's (PIPL Art. 8, accuracy). The one read beyond the permit's
        deployment, and only for that comparison: these templates are matched against the
        same subject's new face, never against anyone else (``purpose.bound``)."""
        self._check(permit, subject_id, None, "enrol")
        rows = self._s.execute(
            select(Template).join(Consent, Consent.id == Template.consent_id).where(
                Template.subject_id == subject_id, Template.engine == engine,
                Template.model_version == model_version, Consent.withdrawn_at.is_(None),
                Template.expires_at > now)
        ).scalars()
        return [self._open(t, dek) for t in rows]

    def open_for_index(self, permit: Permit, deployment_id: str, engine: str,
                       model_version: str, deks: dict[str, bytes],
                       now: datetime) -> list[StoredTemplate]:
        """Every unexpired template of the deployment whose consent stands (for the 1:N
        index, which an enrolment there also searches for possible duplicates;
        ``retention.minimum``)."""
        self._check(permit, None, deployment_id, "identify", "enrol")
        rows = self._s.execute(
            select(Template).join(Consent, Consent.id == Template.consent_id).where(
                Template.deployment_id == deployment_id, Template.engine == engine,
                Template.model_version == model_version, Consent.withdrawn_at.is_(None),
                Template.expires_at > now)
        ).scalars()
        return [self._open(t, deks[t.subject_id]) for t in rows if t.subject_id in deks]

    def open_for_export(self, permit: Permit, dek: bytes, subject_id: str
                        ) -> list[StoredTemplate]:
        """A subject's templates, opened for an export the gate allowed
        (``storage.on-device``)."""
        self._check(permit, subject_id, None, "export")
        rows = self._s.execute(select(Template).where(Template.subject_id == subject_id)
                               .order_by(Template.created_at)).scalars()
        return [self._open(t, dek) for t in rows]

    def _open(self, t: Template, dek: bytes) -> StoredTemplate:
        raw = self._keys.open(dek, t.sealed, _aad(t))
        return StoredTemplate(t.id, t.subject_id, t.deployment_id, t.engine, t.model_version,
                              np.frombuffer(raw, dtype=np.float32).copy(), aware(t.expires_at))

    def reseal(self, permit: Permit, subject_id: str, old: bytes, new: bytes) -> int:
        """Re-encrypt a subject's remaining templates under a new key (after a withdrawal)."""
        self._check(permit, subject_id, None, "consent.withdraw", "subject.delete")
        n = 0
        for t in self._s.execute(select(Template).where(Template.subject_id == subject_id)
                                 ).scalars():
            t.sealed = self._keys.seal(new, self._keys.open(old, t.sealed, _aad(t)), _aad(t))
            n += 1
        return n

    def delete(self, permit: Permit, subject_id: str,
               deployment_ids: list[str] | None = None) -> list[Template]:
        """Delete a subject's templates (of some deployments, or all); returns what went."""
        self._check(permit, subject_id, None, "consent.withdraw", "subject.delete")
        q = select(Template).where(Template.subject_id == subject_id)
        if deployment_ids is not None:
            q = q.where(Template.deployment_id.in_(deployment_ids))
        gone = list(self._s.execute(q).scalars())
        self._delete(gone)
        return gone

    def retire(self, permit: Permit, subject_id: str, deployment_id: str, engine: str,
               model_version: str) -> list[Template]:
        """Delete a subject's templates of one engine at a deployment, once a template of the
        engine it moves to was added under an enrolment permit (engine migration)."""
        self._check(permit, subject_id, deployment_id, "enrol")
        gone = list(self._s.execute(select(Template).where(
            Template.subject_id == subject_id, Template.deployment_id == deployment_id,
            Template.engine == engine, Template.model_version == model_version)).scalars())
        self._delete(gone)
        return gone

    def count(self, permit: Permit, deployment_id: str, engine: str, model_version: str
              ) -> int:
        """How many templates of one engine a deployment holds (an engine migration is
        complete when the old engine has none)."""
        self._check(permit, None, deployment_id, "enrol", "engine.migrate", "engine.read")
        return int(self._s.execute(select(func.count()).select_from(Template).where(
            Template.deployment_id == deployment_id, Template.engine == engine,
            Template.model_version == model_version)).scalar_one())

    def delete_expired(self, permit: Permit, now: datetime) -> list[Template]:
        """Delete every template whose retention ended (``retention.minimum``)."""
        self._check(permit, None, None, "housekeeping")
        gone = list(self._s.execute(select(Template).where(Template.expires_at <= now))
                    .scalars())
        self._delete(gone)
        return gone

    def delete_deployment(self, permit: Permit, deployment_id: str) -> list[Template]:
        """Delete every template of a deployment that ends face recognition
        (``filing.deregister``, ``retention.minimum``)."""
        self._check(permit, None, deployment_id, "deployment.terminate")
        gone = list(self._s.execute(select(Template).where(
            Template.deployment_id == deployment_id)).scalars())
        self._delete(gone)
        return gone

    def _delete(self, gone: list[Template]) -> None:
        if gone:
            self._s.execute(delete(Template).where(Template.id.in_([t.id for t in gone])))
            self._bump({t.deployment_id for t in gone})

    def engines_in_use(self, permit: Permit) -> list[tuple[str, str, str, str, int]]:
        """(subject, deployment, engine, model version, templates) for every stored template
        group: which subjects need re-enrolment after an engine change."""
        self._check(permit, None, None, "engine.read")
        rows = self._s.execute(select(Template.subject_id, Template.deployment_id,
                                      Template.engine, Template.model_version,
                                      func.count()).group_by(
            Template.subject_id, Template.deployment_id, Template.engine,
            Template.model_version).order_by(Template.subject_id))
        return [(a, b, c, d, int(n)) for a, b, c, d, n in rows]

    def persons(self, permit: Permit, deployments: Sequence[str] | None = None) -> int:
        """Distinct persons with stored face data, the count the filing duty is about: at
        every deployment, or at ``deployments`` (one operator's)."""
        self._check(permit, None, None, "filing.read", "enrol")
        q = select(func.count(func.distinct(Template.subject_id)))
        if deployments is not None:
            q = q.where(Template.deployment_id.in_(list(deployments)))
        return int(self._s.execute(q).scalar_one())


def aware(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time facegate stores is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def generation(session: Session, deployment_id: str) -> int:
    state = session.get(IndexState, deployment_id)
    return state.generation if state else 0
