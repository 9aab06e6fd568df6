"""Sealing and opening identity data (``storage.separate-identity``): the external reference
and birth date live apart from templates, sealed with the subject's own key, which is stored
only wrapped by the master key. Replacing that key shreds every old copy (``consent.withdraw``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from facegate.crypto import KeyRing
from facegate.errors import NotFound
from facegate.store.models import Identity, SubjectKey


class Identities:
    def __init__(self, keyring: KeyRing) -> None:
        self.keyring = keyring

    def dek(self, s: Session, subject_id: str) -> bytes:
        """The subject's data key, unwrapped."""
        key = s.get(SubjectKey, subject_id)
        return self.keyring.unwrap(subject_id, key.wrapped if key else None)

    def open(self, s: Session, subject_id: str) -> tuple[str, date | None]:
        """The subject's reference and birth date."""
        ident = s.get(Identity, subject_id)
        if ident is None:
            raise NotFound(f"subject {subject_id!r} has no identity record")
        dek = self.dek(s, subject_id)
        ref = self.keyring.open(dek, ident.ref_sealed, f"ref:{subject_id}").decode()
        birth = None
        if ident.birth_sealed is not None:
            birth = date.fromisoformat(
                self.keyring.open(dek, ident.birth_sealed, f"birth:{subject_id}").decode())
        return ref, birth

    def find(self, s: Session, ref: str) -> Identity | None:
        """The identity whose reference is ``ref`` (looked up by its keyed digest)."""
        return s.execute(select(Identity).where(
            Identity.ref_digest == self.keyring.ref_digest(ref))).scalar_one_or_none()

    def seal(self, dek: bytes, subject_id: str, ref: str, birth_date: date | None
             ) -> Identity:
        """A new identity record, sealed with ``dek``."""
        return Identity(
            subject_id=subject_id, ref_digest=self.keyring.ref_digest(ref),
            ref_sealed=self.keyring.seal(dek, ref.encode(), f"ref:{subject_id}"),
            birth_sealed=self.keyring.seal(dek, birth_date.isoformat().encode(),
                                           f"birth:{subject_id}") if birth_date else None)

    def reseal(self, s: Session, subject_id: str, old: bytes, new: bytes) -> None:
        """Seal the identity again under the subject's new key."""
        ident = s.get(Identity, subject_id)
        if ident is None:
            return
        ident.ref_sealed = self.keyring.seal(
            new, self.keyring.open(old, ident.ref_sealed, f"ref:{subject_id}"),
            f"ref:{subject_id}")
        if ident.birth_sealed is not None:
            ident.birth_sealed = self.keyring.seal(
                new, self.keyring.open(old, ident.birth_sealed, f"birth:{subject_id}"),
                f"birth:{subject_id}")
