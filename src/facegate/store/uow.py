"""Unit of work: one session, one transaction, the template repository bound to it; and, as
a transaction that deleted or replaced subject keys commits, those keys leave the backup vaults
too (``consent.withdraw``, ``rights.delete``)."""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session, sessionmaker

from facegate.crypto import KeyRing
from facegate.store.backup import Vaults
from facegate.store.db import BUSY_TIMEOUT_MS, READ_ONLY
from facegate.store.models import SubjectKey
from facegate.store.repository import TemplateRepository

# How long a deletion waits for readers to leave the write-ahead log before it is emptied.
SHRED_WAIT_S = 5.0


class UnitOfWork:
    def __init__(self, factory: sessionmaker[Session], keyring: KeyRing,
                 vaults: Vaults | None = None, *, read_only: bool = False) -> None:
        """``read_only``: a transaction that only reads; on SQLite it does not take the write
        lock at its start (``facegate.store.db``), so a long read (an index rebuilt from a
        million templates) never holds up the writers."""
        self._factory = factory
        self.keyring = keyring
        self._vaults = vaults
        self._read_only = read_only

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        if self._read_only:
            self.session.connection(execution_options={READ_ONLY: True})
        self.templates = TemplateRepository(self.session, self.keyring)
        self._destroyed: set[str] = set()
        event.listen(self.session, "after_flush", self._keys_destroyed)
        return self

    def _keys_destroyed(self, session: Session, _context: Any) -> None:
        """Note each subject whose key this transaction deletes or replaces."""
        for obj in session.deleted:
            if isinstance(obj, SubjectKey):
                self._destroyed.add(obj.subject_id)
        for obj in session.dirty:
            if isinstance(obj, SubjectKey) and inspect(obj).attrs.wrapped.history.deleted:
                self._destroyed.add(obj.subject_id)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is not None:
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()
        if self._destroyed and self._vaults is not None:
            gone, self._destroyed = self._destroyed, set()
            try:
                self._vaults.forget(gone)
            except Exception:  # the deletion stands; the next backup rewrites the vault
                logging.getLogger("facegate").exception(
                    "a deleted subject key could not be removed from a backup vault")

    def rollback(self) -> None:
        self.session.rollback()

    def shred(self) -> None:
        """After a committed deletion, leave no copy of the deleted rows in any file. SQLite
        (``secure_delete`` zeroes freed pages in the database file) also keeps every page it
        wrote, old contents included, in its write-ahead log until a checkpoint: copy the log
        into the database and truncate it to nothing. PostgreSQL keeps old row versions until
        VACUUM and in its own WAL: the operator's configuration covers those (README)."""
        engine = self.session.get_bind().engine
        if engine.dialect.name != "sqlite":
            return
        raw = engine.raw_connection()  # outside any transaction: a checkpoint needs none open
        sqlite = raw.driver_connection
        assert sqlite is not None
        try:
            deadline = time.monotonic() + SHRED_WAIT_S
            # Each try waits briefly, not the connection's busy timeout: a long read (an index
            # loading) may hold the log far longer than a deletion's answer may wait.
            sqlite.execute("PRAGMA busy_timeout=50")
            while True:  # another connection's read can hold the log for a moment
                busy, _, _ = sqlite.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    return
                if time.monotonic() > deadline:
                    break
                time.sleep(0.02)
        finally:
            sqlite.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            raw.close()
        # The deletion is committed and its answer must not say otherwise. The log keeps the
        # old pages (ciphertext whose key is already destroyed) until the next deletion's
        # checkpoint, or the last connection's close, empties it.
        logging.getLogger("facegate").error(
            "the write-ahead log stayed busy for %.0f s after a deletion; it is emptied at "
            "the next deletion or when the service stops", SHRED_WAIT_S)
