"""Database engine and migrations. SQLite by default (a file in the data directory);
any SQLAlchemy URL (e.g. ``postgresql+psycopg://...``) in ``FACEGATE_DATABASE_URL``. A SQLite
file and its ``-wal``/``-shm`` companions are readable by their owner only (0600)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlite_url(data_dir: Path) -> str:
    return f"sqlite:///{(data_dir / 'facegate.db').resolve()}"


def owner_only(url: str) -> None:
    """Create a SQLite database file 0600 (SQLite gives its -wal and -shm files the same mode)
    and bring an existing one, and its companions, to 0600."""
    name = make_url(url).database
    if not name or name == ":memory:" or name.startswith("file:"):
        return
    path = Path(name)
    if not path.parent.is_dir():
        return  # SQLite reports the missing directory itself
    os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
        if p.exists():
            p.chmod(0o600)


# How long a connection waits for SQLite's write lock.
BUSY_TIMEOUT_MS = 30000
# The execution option of a read-only unit of work's connection (``UnitOfWork``).
READ_ONLY = "facegate_read_only"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        owner_only(url)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA secure_delete=ON")  # deleted templates are overwritten
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            cur.execute("PRAGMA temp_store=MEMORY")  # sorts and temporary tables: no file
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Take the write lock at BEGIN: no lost updates between concurrent processes. A
            # read-only unit of work (``UnitOfWork(read_only=True)``) reads a snapshot of the
            # write-ahead log without the lock, so writers go on meanwhile.
            if conn.get_execution_options().get(READ_ONLY):
                conn.exec_driver_sql("BEGIN DEFERRED")
            else:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        # Let SQLAlchemy's own BEGIN through to our listener (pysqlite's legacy mode off).
        @event.listens_for(engine, "connect")
        def _autocommit(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        return engine
    return create_engine(url, pool_pre_ping=True)


def _alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration."""
    command.upgrade(_alembic_config(engine), "head")


def revision(conn: Connection) -> str | None:
    """The schema revision the database is at."""
    return MigrationContext.configure(conn).get_current_revision()


def schema_is_current(engine: Engine) -> bool:
    script = ScriptDirectory.from_config(_alembic_config(engine))
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current == script.get_current_head()
