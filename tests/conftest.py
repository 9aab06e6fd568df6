"""Shared fixtures: real photos from ../shared/data, a real store in a temporary directory."""

from __future__ import annotations

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


@pytest.fixture()
def service(data_dir: Path, engine: Engine) -> Iterator[Facegate]:
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    yield svc
    svc.close()


@pytest.fixture()
def door(service: Facegate) -> str:
    """The reference office door, switched to 1:N so both verify and identify can run."""
    return str(service.apply_deployment(OFFICER, office_manifest(mode="identify"))["id"])


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
