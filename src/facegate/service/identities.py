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
from facegate.store.models import Consent, Identity, SubjectKey


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

    def seal_guardian(self, dek: bytes, consent_id: str, ref: str | None) -> bytes | None:
        """A guardian's reference, sealed with the child's key like other identity data."""
        return None if ref is None else self.keyring.seal(dek, ref.encode(),
                                                          f"guardian:{consent_id}")

    def guardian(self, s: Session, c: Consent) -> str | None:
        """The guardian's reference of a consent; None when there is none, or when the
        subject's key is gone (deleted: the reference is shredded with it)."""
        if c.guardian_sealed is None:
            return c.guardian_ref
        key = s.get(SubjectKey, c.subject_id)
        if key is None:
            return None
        dek = self.keyring.unwrap(c.subject_id, key.wrapped)
        return self.keyring.open(dek, c.guardian_sealed, f"guardian:{c.id}").decode()

    def seal_plain_guardians(self, s: Session) -> int:
        """Seal guardians' references recorded in plain text before migration 0006 and
        empty the plain column; returns how many. A subject without a key (deleted) keeps
        no reference at all."""
        n = 0
        for c in s.execute(select(Consent).where(Consent.guardian_ref.is_not(None))).scalars():
            key = s.get(SubjectKey, c.subject_id)
            if key is not None:
                dek = self.keyring.unwrap(c.subject_id, key.wrapped)
                c.guardian_sealed = self.seal_guardian(dek, c.id, c.guardian_ref)
            c.guardian_ref = None
            n += 1
        return n

    def reseal(self, s: Session, subject_id: str, old: bytes, new: bytes) -> None:
        """Seal the identity, and the guardians' references of every consent, again under
        the subject's new key."""
        for c in s.execute(select(Consent).where(Consent.subject_id == subject_id,
                                                 Consent.guardian_sealed.is_not(None))
                           ).scalars():
            assert c.guardian_sealed is not None
            aad = f"guardian:{c.id}"
            c.guardian_sealed = self.keyring.seal(
                new, self.keyring.open(old, c.guardian_sealed, aad), aad)
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
