"""Unit of work: one session, one transaction, the template repository bound to it."""

from __future__ import annotations

from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from facegate.crypto import KeyRing
from facegate.store.repository import TemplateRepository


class UnitOfWork:
    def __init__(self, factory: sessionmaker[Session], keyring: KeyRing) -> None:
        self._factory = factory
        self._keyring = keyring

    def __enter__(self) -> UnitOfWork:
        self.session = self._factory()
        self.templates = TemplateRepository(self.session, self._keyring)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc_type is not None:
                self.session.rollback()
        finally:
            self.session.close()

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()
