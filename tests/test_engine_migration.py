"""Deployments and their engines: each deployment's templates are matched by the engine that
made them; a deployment moves to another engine one verification at a time, without keeping
any image (the new template comes from the same live image, under the same consent; the old
one is deleted once the new one exists; every step audited), and identify searches both
galleries meanwhile. Real dlib and YuNet + SFace models on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine.dlib_engine import DlibEngine
from facegate.errors import Conflict, Refused
from facegate.service import Facegate, Settings
from facegate.store import db

SFACE = "sface/face_recognition_sface_2021dec_int8bq"
DLIB = "dlib/dlib_face_recognition_resnet_model_v1"


def enrolled(service: Facegate, dep: str, ref: str, photos: list[str]) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [photo(p) for p in photos])
    return sid


def engines_of(service: Facegate, sid: str) -> list[str]:
    return sorted(f"{t['engine']}/{t['model_version']}"
                  for t in service.subjects.show(OFFICER, sid)["templates"])


def operations(service: Facegate, op: str) -> list[dict[str, Any]]:
    return [r for r in service.audit.tail(OFFICER, 200) if r["operation"] == op]


@pytest.fixture(scope="module")
def dlib() -> DlibEngine:
    return DlibEngine()


@pytest.fixture()
def service(data_dir: Path, dlib: DlibEngine, backend: str | None) -> Iterator[Facegate]:
    """An installation that ran dlib (``FACEGATE_ENGINE=dlib``) and can run YuNet + SFace."""
    settings = Settings(data_dir=data_dir, database_url=backend)
    Facegate.initialise(settings)
    svc = Facegate(settings, dlib)
    yield svc
    svc.close()


@pytest.fixture()
def door(service: Facegate) -> str:
    dep = assessed(service, office_manifest(mode="identify"))
    assert service.deployments.get(OFFICER, dep)["engine"] == DLIB  # the installation's
    return dep


def test_verification_moves_each_person_and_then_the_deployment(service: Facegate,
                                                                door: str) -> None:
    jolie = enrolled(service, door, "E-1", JOLIE[:2])
    other = enrolled(service, door, "E-2", ID02[:1])
    started = service.engines.migrate(OFFICER, door, SFACE)
    assert started == {"deployment": door, "engine": DLIB, "from": DLIB,
                       "migrating_to": SFACE, "remaining": 3, "switched": False}

    # someone else's face does not move anybody
    wrong = service.matching.verify(OPERATOR, jolie, door, photo(ID02[1]))
    assert not wrong["match"] and wrong["migration"] is None
    assert engines_of(service, jolie) == [DLIB, DLIB]

    ok = service.matching.verify(OPERATOR, jolie, door, photo(JOLIE[2]))
    assert ok["match"] and ok["engine"] == DLIB
    assert ok["migration"]["moved"] and ok["migration"]["retired"] == 2
    assert ok["migration"]["remaining"] == 1 and not ok["migration"]["switched"]
    assert engines_of(service, jolie) == [SFACE]  # the old templates are gone
    (step,) = operations(service, "engine.migrate")[-1:]
    assert step["subject"] == jolie and step["detail"]["to"] == SFACE
    assert len(step["detail"]["retired"]) == 2 and step["detail"]["added"]

    again = service.matching.verify(OPERATOR, jolie, door, photo(JOLIE[0]))
    assert again["match"] and again["engine"] == SFACE and again["migration"] is None
    assert again["threshold"] == pytest.approx(0.3582)  # SFace's own calibration

    # meanwhile identify searches both galleries, each at its own threshold
    found = service.matching.identify(OPERATOR, door, photo(JOLIE[2]))
    assert [g["engine"] for g in found["engines"]] == [DLIB, SFACE]
    assert found["candidates"][0]["subject"] == jolie
    assert found["candidates"][0]["engine"] == SFACE
    found = service.matching.identify(OPERATOR, door, photo(ID02[2]))
    assert [(c["subject"], c["engine"]) for c in found["candidates"]] == [(other, DLIB)]

    status = service.engines.status(OFFICER)
    (at_door,) = status["deployments"]
    assert at_door["progress"] == {"subjects_moved": 1, "subjects_left": 1, "share": 0.5}

    last = service.matching.verify(OPERATOR, other, door, photo(ID02[1]))
    assert last["match"] and last["migration"]["switched"]
    view = service.deployments.get(OFFICER, door)
    assert view["engine"] == SFACE and view["migrating_to"] is None
    (switch,) = operations(service, "engine.switch")
    assert switch["detail"] == {"from": DLIB, "to": SFACE}
    assert service.audit.verify(OFFICER)["ok"]

    # new enrolments, verification and identification now run on SFace alone
    third = enrolled(service, door, "E-3", ["id03/img8.jpg"])
    assert engines_of(service, third) == [SFACE]
    found = service.matching.identify(OPERATOR, door, photo("id03/img9.jpg"))
    assert [g["engine"] for g in found["engines"]] == [SFACE]
    assert found["candidates"][0]["subject"] == third


def test_migration_needs_the_officer_and_a_calibrated_engine(service: Facegate,
                                                             door: str) -> None:
    with pytest.raises(Refused) as refused:
        service.engines.migrate(OPERATOR, door, SFACE)
    assert list(refused.value.rules) == ["security.controls"]
    with pytest.raises(Conflict, match="already uses"):
        service.engines.migrate(OFFICER, door, DLIB)
    with pytest.raises(Exception, match="calibrat"):
        service.engines.migrate(OFFICER, door, "nobody/v0")
    # a deployment without templates switches at once
    assert service.engines.migrate(OFFICER, door, SFACE)["switched"]
    assert service.deployments.get(OFFICER, door)["engine"] == SFACE


def test_enrolment_during_migration_uses_the_new_engine(service: Facegate, door: str) -> None:
    enrolled(service, door, "E-1", JOLIE[:1])
    service.engines.migrate(OFFICER, door, SFACE)
    newcomer = enrolled(service, door, "E-2", ID02[:1])
    assert engines_of(service, newcomer) == [SFACE]
    assert service.matching.verify(OPERATOR, newcomer, door, photo(ID02[1]))["engine"] == SFACE


def test_an_old_data_directory_keeps_its_engine(tmp_path: Path, dlib: DlibEngine,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Deployments registered before engines were recorded take their templates' engine when
    the schema is upgraded; one without templates takes the installation's at first use."""
    monkeypatch.setenv("FACEGATE_KEY_FILE", str(tmp_path / "keys" / "master.key"))
    settings = Settings(data_dir=tmp_path / "data")
    Facegate.initialise(settings)
    service = Facegate(settings, dlib)
    try:
        door = assessed(service, office_manifest())
        empty = assessed(service, office_manifest(id="side-door"))
        sid = enrolled(service, door, "E-1", JOLIE[:1])
        cfg = Config()
        cfg.set_main_option("script_location", str(db.MIGRATIONS))
        cfg.attributes["engine"] = service.db
        command.downgrade(cfg, "0003")  # as an older facegate left it
        command.upgrade(cfg, "head")
        with service.db.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, engine FROM deployments")).all())
        assert rows == {door: DLIB, empty: None}
        assert service.matching.verify(OPERATOR, sid, door, photo(JOLIE[1]))["match"]
        later = enrolled(service, empty, "E-2", ID02[:1])
        assert engines_of(service, later) == [DLIB]
        assert service.deployments.get(OFFICER, empty)["engine"] == DLIB
    finally:
        service.close()


def test_engines_over_http(service: Facegate, door: str) -> None:
    import httpx
    from tests.conftest import running

    from facegate.api.app import create_app
    from facegate.service import Actor

    admin = Actor("admin", "admin")
    off = {"X-API-Key": service.keys.create(admin, "off", "officer")["key"]}
    op = {"X-API-Key": service.keys.create(admin, "op", "operator")["key"]}
    sid = enrolled(service, door, "E-1", JOLIE[:1])
    for base in running(create_app(service, housekeeping_every_s=0)):
        with httpx.Client(base_url=base, timeout=120) as c:
            r = c.post(f"/v1/deployments/{door}/engine", json={"to": SFACE}, headers=op)
            assert r.status_code == 403 and r.json()["rules"] == ["security.controls"]
            r = c.post(f"/v1/deployments/{door}/engine", json={"to": SFACE}, headers=off)
            assert r.status_code == 200, r.text
            assert r.json() == {"deployment": door, "engine": DLIB, "from": DLIB,
                                "migrating_to": SFACE, "remaining": 1, "switched": False}
            r = c.get("/v1/engine", headers=off)
            assert r.status_code == 200 and r.json() == service.engines.status(OFFICER)
            (at_door,) = r.json()["deployments"]
            assert at_door["progress"] == {"subjects_moved": 0, "subjects_left": 1,
                                           "share": 0.0}
            r = c.post("/v1/verify", data={"subject": sid, "deployment": door},
                       files={"image": ("p.jpg", photo(JOLIE[1]), "image/jpeg")}, headers=op)
            assert r.status_code == 200 and r.json()["migration"]["switched"], r.text
            assert c.get(f"/v1/deployments/{door}", headers=off).json()["engine"] == SFACE
            r = c.post(f"/v1/deployments/{door}/engine", json={"to": "nobody/v0"}, headers=off)
            assert r.status_code == 422 and "calibrat" in r.json()["message"]
