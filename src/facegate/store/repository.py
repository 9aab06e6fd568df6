"""The template repository: the only way to the template table, and every call needs a permit
from the policy gate (``facegate.policy.Permit``). Every change of a deployment's templates
writes its row of the indexes' change log (``IndexChange``) in the same transaction
(``record_change``)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from facegate.crypto import KeyRing
from facegate.policy import Permit
from facegate.store.models import Consent, Deployment, IndexChange, Template

READ_OPS = ("verify", "identify", "subject.read", "subject.delete", "consent.withdraw",
            "rights.access", "rights.delete", "export")


def _aad(t: Template) -> str:
    return f"template:{t.id}:{t.subject_id}:{t.deployment_id}:{t.engine}:{t.model_version}"


# Templates opened per batch when an index is rebuilt from the store.
INDEX_BATCH = 8192


@dataclass(frozen=True)
class IndexBatch:
    """Templates opened for an index: ``vectors[i]`` is template ``ids[i]`` of subject
    ``subject_ids[i]``."""

    ids: list[str]
    subject_ids: list[str]
    vectors: NDArray[np.float32]

    def __len__(self) -> int:
        return len(self.ids)


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

    def add(self, permit: Permit, *, subject_id: str, deployment_id: str, consent_id: str,
            engine: str, model_version: str, vector: NDArray[np.float32],
            quality: dict[str, Any], dek: bytes, now: datetime, expires_at: datetime) -> str:
        (tid,) = self.add_many(permit, subject_id=subject_id, deployment_id=deployment_id,
                               consent_id=consent_id, engine=engine,
                               model_version=model_version, vectors=[vector],
                               qualities=[quality], dek=dek, now=now, expires_at=expires_at)
        return tid

    def add_many(self, permit: Permit, *, subject_id: str, deployment_id: str,
                 consent_id: str, engine: str, model_version: str,
                 vectors: Sequence[NDArray[np.float32]], qualities: Sequence[dict[str, Any]],
                 dek: bytes, now: datetime, expires_at: datetime) -> list[str]:
        """One enrolment's templates of one subject, sealed under the subject's key, with one
        row in the indexes' change log for all of them."""
        self._check(permit, subject_id, deployment_id, "enrol")
        if len(vectors) != len(qualities):
            raise ValueError("one quality record per template")
        ids: list[str] = []
        for vector, quality in zip(vectors, qualities, strict=True):
            v = np.asarray(vector, dtype=np.float32).reshape(-1)
            t = Template(id="tpl_" + uuid.uuid4().hex[:20], subject_id=subject_id,
                         deployment_id=deployment_id, consent_id=consent_id, engine=engine,
                         model_version=model_version, dim=int(v.shape[0]), sealed=b"",
                         quality=quality, created_at=now, expires_at=expires_at)
            t.sealed = self._keys.seal(dek, v.tobytes(), _aad(t))
            self._s.add(t)
            ids.append(t.id)
        if ids:
            record_change(self._s, deployment_id, "add", now,
                          engine=f"{engine}/{model_version}", subject_id=subject_id,
                          template_ids=ids)
        return ids

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
                       model_version: str, deks: Mapping[str, bytes], now: datetime,
                       batch: int = INDEX_BATCH) -> Iterator[IndexBatch]:
        """Every unexpired template of the deployment whose consent stands (for the 1:N
        index, which an enrolment there also searches for possible duplicates;
        ``retention.minimum``), opened in batches of at most ``batch`` templates.

        The permit is checked at the call, before the first batch is asked for. Only the
        columns needed are fetched, as plain rows streamed from the database (no ORM objects),
        and each subject's cipher is set up once: a million templates open in seconds, not
        minutes. Opened vectors stay in memory."""
        self._check(permit, None, deployment_id, "identify", "enrol", "index.load")
        q = (select(Template.id, Template.subject_id, Template.sealed)
             .join(Consent, Consent.id == Template.consent_id).where(
                 Template.deployment_id == deployment_id, Template.engine == engine,
                 Template.model_version == model_version, Consent.withdrawn_at.is_(None),
                 Template.expires_at > now))
        rows = self._s.execute(q, execution_options={"yield_per": batch})
        return self._index_batches(rows.partitions(), deks,
                                   f":{deployment_id}:{engine}:{model_version}")

    def _index_batches(self, parts: Iterable[Sequence[Any]], deks: Mapping[str, bytes],
                       aad_tail: str) -> Iterator[IndexBatch]:
        openers: dict[str, Callable[[bytes, bytes], bytes]] = {}
        for part in parts:
            ids: list[str] = []
            subjects: list[str] = []
            raw: list[bytes] = []
            for template_id, subject_id, sealed in part:
                open_one = openers.get(subject_id)
                if open_one is None:
                    dek = deks.get(subject_id)
                    if dek is None:
                        continue
                    open_one = openers[subject_id] = self._keys.opener(dek)
                # the AAD of ``_aad``: template, subject, deployment, engine, model version
                aad = f"template:{template_id}:{subject_id}{aad_tail}".encode()
                raw.append(open_one(sealed, aad))
                ids.append(template_id)
                subjects.append(subject_id)
            if ids:
                vectors = np.frombuffer(b"".join(raw), dtype=np.float32)
                yield IndexBatch(ids, subjects, vectors.reshape(len(ids), -1).copy())

    def open_given(self, permit: Permit, deployment_id: str, engine: str, model_version: str,
                   template_ids: Sequence[str], deks: Mapping[str, bytes], now: datetime
                   ) -> list[StoredTemplate]:
        """Those of ``template_ids`` that ``open_for_index`` would open (the deployment's, of
        this engine, unexpired, their consent standing): the templates an index adds when it
        applies the change log's additions, without opening the rest."""
        self._check(permit, None, deployment_id, "identify", "enrol", "index.load")
        wanted = list(dict.fromkeys(template_ids))
        out: list[StoredTemplate] = []
        for i in range(0, len(wanted), 500):
            rows = self._s.execute(
                select(Template).join(Consent, Consent.id == Template.consent_id).where(
                    Template.id.in_(wanted[i:i + 500]), Template.deployment_id == deployment_id,
                    Template.engine == engine, Template.model_version == model_version,
                    Consent.withdrawn_at.is_(None), Template.expires_at > now)).scalars()
            out += [self._open(t, deks[t.subject_id]) for t in rows if t.subject_id in deks]
        return out

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
        self._delete(gone, "remove_subject")
        return gone

    def retire(self, permit: Permit, subject_id: str, deployment_id: str, engine: str,
               model_version: str) -> list[Template]:
        """Delete a subject's templates of one engine at a deployment, once a template of the
        engine it moves to was added under an enrolment permit (engine migration)."""
        self._check(permit, subject_id, deployment_id, "enrol")
        gone = list(self._s.execute(select(Template).where(
            Template.subject_id == subject_id, Template.deployment_id == deployment_id,
            Template.engine == engine, Template.model_version == model_version)).scalars())
        self._delete(gone, "remove_templates")
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
        self._delete(gone, "remove_templates")
        return gone

    def delete_deployment(self, permit: Permit, deployment_id: str) -> list[Template]:
        """Delete every template of a deployment that ends face recognition
        (``filing.deregister``, ``retention.minimum``)."""
        self._check(permit, None, deployment_id, "deployment.terminate")
        gone = list(self._s.execute(select(Template).where(
            Template.deployment_id == deployment_id)).scalars())
        self._delete(gone, "rebuild")
        return gone

    def _delete(self, gone: list[Template], kind: str) -> None:
        """Delete ``gone`` and log the change, per deployment: ``remove_subject`` (every
        template of one subject there), ``remove_templates`` (these) or ``rebuild`` (all)."""
        if not gone:
            return
        self._s.execute(delete(Template).where(Template.id.in_([t.id for t in gone])))
        now = datetime.now(UTC)
        for dep in sorted({t.deployment_id for t in gone}):  # one lock order: no deadlock
            here = [t for t in gone if t.deployment_id == dep]
            if kind == "remove_subject":
                record_change(self._s, dep, kind, now, subject_id=here[0].subject_id)
            elif kind == "remove_templates":
                record_change(self._s, dep, kind, now, template_ids=[t.id for t in here])
            else:
                record_change(self._s, dep, kind, now)

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


def record_change(session: Session, deployment_id: str, kind: str, now: datetime, *,
                  engine: str | None = None, subject_id: str | None = None,
                  template_ids: Sequence[str] = ()) -> None:
    """Append a row to the indexes' change log, in the caller's transaction.

    The deployment's row is locked first (``FOR NO KEY UPDATE`` on PostgreSQL, which template
    inserts' foreign-key locks do not conflict with; SQLite has one writer anyway), and the row
    takes its sequence number after the lock: a deployment's changes are numbered in the order
    they commit, so a reader that has seen change ``n`` has seen every earlier change of that
    deployment, and the log has no gaps to fall into."""
    session.execute(select(Deployment.id).where(Deployment.id == deployment_id)
                    .with_for_update(key_share=True))
    session.add(IndexChange(deployment_id=deployment_id, engine=engine, kind=kind,
                            subject_id=subject_id, template_ids=json.dumps(list(template_ids)),
                            created_at=now))


def prune_changes(session: Session, before: datetime) -> int:
    """Forget the change log's rows older than ``before``, per deployment; returns the rows
    deleted. The newest of them stays as a ``horizon`` row, with no template ids and no
    subject: a process whose index had not applied it missed changes that are gone, and
    rebuilds its index from the store (every process rebuilds at a kind it does not apply,
    ``facegate.service.indexes``); a process that had applied it never reads it again."""
    tops = session.execute(select(IndexChange.deployment_id, func.max(IndexChange.seq))
                           .where(IndexChange.created_at < before)
                           .group_by(IndexChange.deployment_id)).all()
    n = 0
    for deployment_id, top in tops:
        gone = session.execute(delete(IndexChange).where(
            IndexChange.deployment_id == deployment_id, IndexChange.seq < top))
        n += int(getattr(gone, "rowcount", 0) or 0)
        session.execute(update(IndexChange).where(IndexChange.seq == top).values(
            kind="horizon", engine=None, subject_id=None, template_ids="[]"))
    return n


def changes_after(session: Session, deployment_id: str, seq: int) -> list[IndexChange]:
    """The deployment's changes after ``seq``, in order."""
    return list(session.execute(select(IndexChange).where(
        IndexChange.deployment_id == deployment_id, IndexChange.seq > seq)
        .order_by(IndexChange.seq)).scalars())


def last_change(session: Session, deployment_id: str) -> int:
    """The deployment's latest change (0: none yet)."""
    found = session.execute(select(func.max(IndexChange.seq)).where(
        IndexChange.deployment_id == deployment_id)).scalar_one()
    return int(found or 0)
