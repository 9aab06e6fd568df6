"""The 1:N index backend is chosen per installation (``FACEGATE_INDEX``) and may be chosen per
deployment (the manifest's ``index``); whichever proposes candidates, the store decides, so a
withdrawn subject never matches (``consent.withdraw``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine import Engine
from facegate.errors import BadInput
from facegate.index import ExactIndex, IvfIndex
from facegate.service import Facegate, Settings


def inner_kinds(service: Facegate, dep: str) -> list[type]:
    return [type(index.inner) for index in service.matching.indexes.held(dep)]


def enrolled(service: Facegate, dep: str, ref: str, photos: list[str]) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [photo(p) for p in photos])
    return sid


def test_an_unknown_backend_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FACEGATE_INDEX", "annoy")
    with pytest.raises(BadInput, match="FACEGATE_INDEX"):
        Settings.from_env(tmp_path)
    monkeypatch.setenv("FACEGATE_INDEX", "ivf")
    assert Settings.from_env(tmp_path).index_backend == "ivf"


def test_the_installation_chooses_ivf_and_the_store_still_decides(
        data_dir: Path, engine: Engine) -> None:
    settings = Settings(data_dir=data_dir, index_backend="ivf")
    Facegate.initialise(settings)
    svc = Facegate(settings, engine)
    try:
        door = assessed(svc, office_manifest(mode="identify"))
        jolie = enrolled(svc, door, "E-1", JOLIE[:2])
        other = enrolled(svc, door, "E-2", ID02[:2])
        out = svc.matching.identify(OPERATOR, door, photo(JOLIE[2]))
        assert [c["subject"] for c in out["candidates"]][:1] == [jolie]
        assert inner_kinds(svc, door) == [IvfIndex]
        svc.consents.withdraw(OFFICER, jolie)
        out = svc.matching.identify(OPERATOR, door, photo(JOLIE[2]))
        assert jolie not in [c["subject"] for c in out["candidates"]]
        out = svc.matching.identify(OPERATOR, door, photo(ID02[2]))
        assert [c["subject"] for c in out["candidates"]][:1] == [other]
    finally:
        svc.close()


def test_a_deployment_may_choose_its_own_backend(service: Facegate) -> None:
    big = assessed(service, office_manifest(id="big-hall", mode="identify", index="ivf"))
    small = assessed(service, office_manifest(mode="identify"))
    for dep in (big, small):
        enrolled(service, dep, f"E-{dep}", JOLIE[:1])
        service.matching.identify(OPERATOR, dep, photo(JOLIE[2]))
    assert inner_kinds(service, big) == [IvfIndex]
    assert inner_kinds(service, small) == [ExactIndex]
    with pytest.raises(BadInput):
        service.deployments.apply(OFFICER, office_manifest(id="odd", index="annoy"))
