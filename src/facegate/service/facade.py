"""The service the interfaces use: it builds the collaborators once (store, keys, clock, gate,
audit, engine, indexes) and composes the use cases from them, e.g.
``fg.consents.withdraw(actor, subject_id)``. One per process; thread-safe."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import sessionmaker

from facegate import __version__
from facegate.crypto import KeyRing, load_master_key
from facegate.crypto.signing import (
    checkpoint_dir,
    load_signing_key,
    public_key_b64,
    signing_key_file,
)
from facegate.engine import Engine
from facegate.service.actors import Actor
from facegate.service.assessments import Assessments
from facegate.service.audit_log import AuditLog
from facegate.service.audit_queries import AuditQueries
from facegate.service.backups import Backups
from facegate.service.clock import Clock
from facegate.service.config import Settings
from facegate.service.consents import Consents
from facegate.service.dashboard import Dashboard
from facegate.service.deployments import Deployments
from facegate.service.documents import Documents
from facegate.service.engines import Engines
from facegate.service.exports import Exports
from facegate.service.faces import Recogniser
from facegate.service.facts import FactBuilder
from facegate.service.filing import Filing
from facegate.service.gatekeeper import Gatekeeper
from facegate.service.housekeeping import Housekeeping
from facegate.service.identification import Identification
from facegate.service.identities import Identities
from facegate.service.indexes import IndexRegistry
from facegate.service.keys import Keys
from facegate.service.kiosk import Kiosk
from facegate.service.matching import Matching
from facegate.service.migration import EngineMigration
from facegate.service.readiness import Readiness
from facegate.service.reviews import Reviews
from facegate.service.rights import Rights
from facegate.service.subjects import Subjects
from facegate.service.verification import Verification
from facegate.store import db
from facegate.store.backup import Vaults
from facegate.store.uow import UnitOfWork

UPGRADE = Actor("system:upgrade", "admin")


class Facegate:
    """The use cases of one installation, by what a user does."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.db = db.make_engine(settings.database_url or db.sqlite_url(settings.data_dir))
        self._sessions = sessionmaker(self.db, expire_on_commit=False)
        self.keyring = KeyRing(load_master_key(settings.data_dir))
        self.vaults = Vaults(settings.data_dir)
        clock = Clock(settings.clock, settings.tz)
        uow = self.uow
        signing = load_signing_key(settings.data_dir)
        audit = AuditLog(uow, clock, key=signing)
        gate = Gatekeeper(audit, clock, settings.rule_pack)
        self.recogniser = Recogniser(settings, engine)
        identities = Identities(self.keyring)
        indexes = IndexRegistry(self.keyring, clock, settings.index_backend,
                                settings.milvus_uri, settings.milvus_token)
        common: dict[str, Any] = {"uow": uow, "gate": gate, "audit": audit, "clock": clock}

        self.filing = Filing(**common, keyring=self.keyring, settings=settings)
        facts = FactBuilder(identities, clock, self.filing.overdue)
        self.deployments = Deployments(**common, recogniser=self.recogniser, indexes=indexes,
                                       filing=self.filing, public_url=settings.public_url)
        self.subjects = Subjects(**common, identities=identities, indexes=indexes,
                                 filing=self.filing)
        self.consents = Consents(**common, facts=facts, identities=identities,
                                 indexes=indexes, filing=self.filing)
        identification = Identification(**common, facts=facts, recogniser=self.recogniser,
                                        indexes=indexes)
        migration = EngineMigration(**common, facts=facts, identities=identities,
                                    recogniser=self.recogniser)
        verification = Verification(**common, facts=facts, identities=identities,
                                    recogniser=self.recogniser, indexes=indexes,
                                    migration=migration)
        self.matching = Matching(**common, facts=facts, identities=identities,
                                 recogniser=self.recogniser, indexes=indexes,
                                 filing=self.filing, identification=identification,
                                 verification=verification)
        self.rights = Rights(**common, identities=identities, subjects=self.subjects,
                             consents=self.consents)
        self.assessments = Assessments(**common)
        self.housekeeping = Housekeeping(**common, indexes=indexes, filing=self.filing)
        self.reviews = Reviews(**common, facts=facts)
        self.exports = Exports(**common, identities=identities)
        self.audit = AuditQueries(**common,
                                  signer=lambda: signing,
                                  folder=lambda: checkpoint_dir(settings.data_dir))
        self.keys = Keys(**common)
        self.backups = Backups(**common, keyring=self.keyring, vaults=self.vaults,
                               adopt=self.audit.adopt)
        self.engines = Engines(uow=uow, gate=gate, audit=audit, recogniser=self.recogniser,
                               migration=migration, indexes=indexes)
        self.documents = Documents(uow=uow, gate=gate, clock=clock,
                                   deployments=self.deployments, filing=self.filing,
                                   checkpoint=self.audit.checkpoint)
        self.readiness = Readiness(uow=uow, reader=self.reader, gate=gate, audit=audit,
                                   facts=facts,
                                   recogniser=self.recogniser, indexes=indexes)
        self.dashboard = Dashboard(uow=uow, gate=gate, clock=clock, facts=facts)
        self.kiosk = Kiosk(**common, facts=facts, identities=identities, matching=self.matching,
                           consents=self.consents, public_url=settings.public_url)

    @staticmethod
    def initialise(settings: Settings) -> dict[str, Any]:
        """Create the data directory, the master and signing keys (outside it) and the schema.
        Idempotent."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.data_dir.chmod(0o700)
        master = load_master_key(settings.data_dir, create=True)
        signing = load_signing_key(settings.data_dir, create=True)
        engine = db.make_engine(settings.database_url or db.sqlite_url(settings.data_dir))
        try:
            db.upgrade(engine)
            with UnitOfWork(sessionmaker(engine), KeyRing(master)) as uow:
                if Identities(uow.keyring).seal_plain_guardians(uow.session):
                    uow.commit()
                    uow.shred()  # no plain copy stays in the database's files
        finally:
            engine.dispose()
        service = Facegate(settings)
        try:  # records written before records were signed: a checkpoint vouches for them
            service.audit.adopt(UPGRADE, "upgrade")
        finally:
            service.close()
        return {"data_dir": str(settings.data_dir.resolve()), "master_key": master.source,
                "signing_key": str(signing_key_file(settings.data_dir)),
                "public_key": public_key_b64(signing),
                "database": "sqlite" if not settings.database_url else "external",
                "rule_pack": settings.rule_pack, "version": __version__}

    @property
    def engine(self) -> Engine:
        """The face engine (built on first use)."""
        return self.recogniser.engine

    def uow(self) -> UnitOfWork:
        """A unit of work: one session, one transaction."""
        return UnitOfWork(self._sessions, self.keyring, self.vaults)

    def reader(self) -> UnitOfWork:
        """A unit of work that only reads (it never holds up the writers)."""
        return UnitOfWork(self._sessions, self.keyring, self.vaults, read_only=True)

    def close(self) -> None:
        self.db.dispose()
