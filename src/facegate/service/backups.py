"""Backups and restores that cannot bring a deleted subject back (``consent.withdraw``,
``rights.delete``).

``create`` writes an archive of every table except the subject keys, and the current wrapped
keys to the vault beside it (``store/backup.py``). Deleting or replacing a key removes it from
every vault as the deleting transaction commits, so the keys a restore can find are only those
of subjects still alive with the same key. ``restore`` fills an empty database from an archive
and takes each subject's key from the vault; a subject whose key is not there (deleted since,
or its key replaced at a withdrawal) stays gone: its templates, identity and guardians'
references are dropped, its consents are withdrawn, and the restore's audit record names it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from sqlalchemy import delete, func, select

from facegate.crypto import KeyRing
from facegate.errors import BadInput, Conflict, FacegateError
from facegate.localtime import iso_local
from facegate.service.actors import Actor
from facegate.service.audit_log import AuditLog, UowFactory
from facegate.service.clock import Clock
from facegate.service.gatekeeper import Gatekeeper
from facegate.store import db
from facegate.store.backup import (
    VAULT,
    ArchiveError,
    KeyVault,
    Vaults,
    load_archive,
    read_header,
    write_archive,
)
from facegate.store.models import (
    ApiKey,
    AuditRecord,
    Consent,
    Deployment,
    Identity,
    IndexChange,
    Subject,
    SubjectKey,
    Template,
)

RULES = ["consent.withdraw", "rights.delete"]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True, kw_only=True)
class Backups:
    uow: UowFactory
    gate: Gatekeeper
    audit: AuditLog
    clock: Clock
    keyring: KeyRing
    vaults: Vaults
    # Signs a checkpoint over the restored trail, whose records another installation's key
    # may have signed (AuditQueries.adopt).
    adopt: Callable[[Actor, str], dict[str, Any] | None] | None = None

    def create(self, actor: Actor, out_dir: Path) -> dict[str, Any]:
        """Write an archive (no subject keys) and the vault of keys into ``out_dir``."""
        self.gate.role(actor, "backup")
        out_dir = out_dir.resolve()
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        stamp = self.clock.now().astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        archive = out_dir / f"facegate-{stamp}.fgbackup"
        vault = KeyVault(out_dir / VAULT)
        self.vaults.add(vault.path)  # from now on, deletions reach this vault
        self.vaults.forget(())  # and those that were out of reach at a deletion, if back now
        with self.uow() as uow:
            conn = uow.session.connection()
            header = {"created_at": self.clock.now().isoformat(),
                      "revision": db.revision(conn),
                      "master_key": self.keyring.fingerprint}
            fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                counts = write_archive(conn, fh, header)
            keys = [(k.subject_id, k.wrapped)
                    for k in uow.session.execute(select(SubjectKey)).scalars()]
        vault.replace(keys)
        with self.uow() as uow:  # a key deleted while the vault was written leaves it now
            live = {k.subject_id: k.wrapped
                    for k in uow.session.execute(select(SubjectKey)).scalars()}
            dropped = vault.keep_only(live)
            out = {"archive": str(archive), "sha256": _sha256(archive),
                   "vault": str(vault.path), "rows": counts, "keys": len(keys) - dropped,
                   "vaults_out_of_reach": sorted(self.vaults.pending())}
            self.audit.record(uow.session, actor, "backup.create", "allowed", RULES,
                              detail={"archive": archive.name, "sha256": out["sha256"],
                                      "rows": sum(counts.values()), "keys": out["keys"]})
            uow.commit()
        return out

    def restore(self, actor: Actor, archive: Path, vault: Path | None = None
                ) -> dict[str, Any]:
        """Fill this empty installation from ``archive`` with keys from ``vault`` (default:
        the vault beside the archive)."""
        self.gate.role(actor, "backup")
        try:
            header = read_header(archive)
        except ArchiveError as e:
            raise BadInput(str(e)) from None
        if header["master_key"] != self.keyring.fingerprint:
            raise BadInput("the archive was made under another master key (fingerprint "
                           f"{header['master_key']}); set FACEGATE_MASTER_KEY or "
                           "FACEGATE_KEY_FILE to that key before restoring")
        vault_path = vault or archive.parent / VAULT
        if not vault_path.exists():
            raise BadInput(f"no key vault at {vault_path}: without it nothing sealed in the "
                           "archive can be opened")
        keys = KeyVault(vault_path).keys()
        now = self.clock.now()
        with self.uow() as uow:
            s = uow.session
            if db.revision(s.connection()) != header["revision"]:
                raise BadInput(f"the archive has schema revision {header['revision']}; this "
                               f"installation has {db.revision(s.connection())}")
            for model in (AuditRecord, Subject, Deployment, ApiKey):
                if s.execute(select(func.count()).select_from(model)).scalar_one():
                    raise Conflict("a restore needs an empty database: use a new data "
                                   "directory (or database) and do not run 'facegate init'")
            try:
                counts = load_archive(s.connection(), archive)
            except (ArchiveError, ValueError, KeyError, TypeError) as e:
                raise BadInput(f"{archive.name} could not be restored: {e}") from None
            restored, gone = 0, []
            for sub in s.execute(select(Subject).where(Subject.deleted_at.is_(None))
                                 .order_by(Subject.id)).scalars().all():
                if self._opens(s.get(Identity, sub.id), sub.id, keys.get(sub.id)):
                    s.add(SubjectKey(subject_id=sub.id, wrapped=keys[sub.id], created_at=now))
                    restored += 1
                    continue
                gone.append(sub.id)
                s.execute(delete(Template).where(Template.subject_id == sub.id))
                s.execute(delete(IndexChange).where(IndexChange.subject_id == sub.id))
                s.execute(delete(Identity).where(Identity.subject_id == sub.id))
                for c in s.execute(select(Consent).where(Consent.subject_id == sub.id)
                                   ).scalars():
                    c.guardian_sealed = None
                    c.withdrawn_at = c.withdrawn_at or now
                sub.deleted_at = now
            out = {"archive": str(archive),
                   "created_at": iso_local(header.get("created_at"), self.clock.tz),
                   "rows": counts,
                   "subjects_restored": restored, "subjects_gone": gone}
            self.audit.record(s, actor, "backup.restore", "allowed", RULES,
                              detail={"archive": archive.name, "sha256": _sha256(archive),
                                      "made_at": header["created_at"],
                                      "subjects_restored": restored, "subjects_gone": gone})
            uow.commit()
            uow.shred()
        if self.adopt is not None:
            self.adopt(actor, "restore")
        return out

    def _opens(self, ident: Identity | None, subject_id: str, wrapped: bytes | None) -> bool:
        """Whether ``wrapped`` is the key the subject's identity was sealed with."""
        if ident is None or wrapped is None:
            return False
        try:
            dek = self.keyring.unwrap(subject_id, wrapped)
            self.keyring.open(dek, ident.ref_sealed, f"ref:{subject_id}")
        except (InvalidTag, FacegateError):
            return False
        return True
