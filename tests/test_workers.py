"""Several processes on one PostgreSQL store agree: each keeps its 1:N indexes in step through
the store's index change log (applied before every search, no full rebuild per change), and
a withdrawn subject is never returned by any of them, not even once. First two services in
this process (two processes' worth of indexes), then ``facegate serve --workers 2``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from stress.common import Api, Server, identified
from tests.conftest import ID02, ID03, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo

from facegate.engine import Engine
from facegate.service import Facegate, Settings
from facegate.service.indexes import IndexRegistry

pytestmark = pytest.mark.postgres

# Three people: a photo to enrol, another of the same person to search with.
PEOPLE = [(JOLIE[0], JOLIE[1]), (ID02[0], ID02[1]), (ID03[0], ID03[1])]


@pytest.fixture()
def pair(data_dir: Path, engine: Engine, postgres_url: str) -> Iterator[tuple[Facegate, Facegate]]:
    """Two services on one PostgreSQL database, each with its own indexes (two processes)."""
    settings = Settings(data_dir=data_dir, database_url=postgres_url)
    Facegate.initialise(settings)
    a, b = Facegate(settings, engine), Facegate(settings, engine)
    yield a, b
    a.close()
    b.close()


def registry(service: Facegate) -> IndexRegistry:
    return service.matching.identification.indexes


def enrol(service: Facegate, dep: str, ref: str, rel: str) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [photo(rel)])
    return sid


def found(service: Facegate, dep: str, rel: str) -> set[str]:
    out = service.matching.identify(OPERATOR, dep, photo(rel), top=100)
    return {str(c["subject"]) for f in out["faces"] for c in f["candidates"]}


def test_another_process_applies_the_change_log(pair: tuple[Facegate, Facegate]) -> None:
    a, b = pair
    dep = assessed(a, office_manifest(mode="identify"))
    first = enrol(a, dep, "W-0", JOLIE[0])
    assert first in found(b, dep, JOLIE[1])  # B builds its index once
    reg = registry(b)
    (held,) = reg.held(dep)
    rebuilds = reg.rebuilds
    assert rebuilds == 1

    second = enrol(a, dep, "W-1", ID02[0])
    assert second not in held.subjects()  # not yet applied in B
    assert second in found(b, dep, ID02[1])
    assert second in held.subjects()
    (again,) = reg.held(dep)
    assert again is held and reg.rebuilds == rebuilds  # applied, not rebuilt

    a.consents.withdraw(OFFICER, first)
    assert first in held.subjects()  # B has not searched since
    assert first not in found(b, dep, JOLIE[1])
    assert first not in held.subjects() and second in held.subjects()
    assert reg.held(dep)[0] is held and reg.rebuilds == rebuilds


def test_alternating_withdrawals_are_never_returned(pair: tuple[Facegate, Facegate]) -> None:
    a, b = pair
    services = (a, b)
    dep = assessed(a, office_manifest(mode="identify"))
    # 20 subjects from three people's photos: the store knows them as 20 different subjects.
    subjects: list[tuple[str, int]] = []
    for i in range(20):
        person = i % len(PEOPLE)
        subjects.append((enrol(services[i % 2], dep, f"ALT-{i}", PEOPLE[person][0]), person))
    for s in services:
        found(s, dep, PEOPLE[0][1])  # each holds its index now
    rebuilds = [registry(s).rebuilds for s in services]

    withdrawn: set[str] = set()
    for i, (sid, person) in enumerate(subjects):
        here, there = services[i % 2], services[(i + 1) % 2]
        here.consents.withdraw(OFFICER, sid)
        withdrawn.add(sid)
        seen = found(there, dep, PEOPLE[person][1])
        assert not seen & withdrawn, f"step {i}: a withdrawn subject was returned"
        same = {s for s, p in subjects if p == person} - withdrawn
        assert seen >= same, f"step {i}: a subject still enrolled was not found"
        (index,) = registry(there).held(dep)
        assert not index.subjects() & withdrawn  # the removal was applied there
    assert [registry(s).rebuilds for s in services] == rebuilds  # no full rebuild


def test_two_workers_never_return_a_withdrawn_subject(postgres_url: str, tmp_path: Path
                                                      ) -> None:
    with Server(tmp_path / "served", workers=2, database_url=postgres_url) as server:
        keys = server.init()
        server.start()
        # One client per worker's worth of traffic, a new connection for every call: the two
        # workers share the listening socket, so both serve.
        apis = [Api(server.base, keys), Api(server.base, keys)]
        for api in apis:
            api.client = httpx.Client(base_url=server.base, timeout=60,
                                      limits=httpx.Limits(max_keepalive_connections=0))
        try:
            dep = apis[0].register()
            for api in apis:
                api.deployment = dep
            subjects: list[tuple[str, int]] = []
            for i in range(6):
                api, person = apis[i % 2], i % len(PEOPLE)
                r = api.add_subject(f"SRV-{i}")
                assert r.status_code == 201, r.text
                sid = str(r.json()["id"])
                assert api.grant(sid).status_code == 201
                r = api.enrol(sid, photo(PEOPLE[person][0]))
                assert r.status_code in (200, 201), r.text
                subjects.append((sid, person))
            withdrawn: set[str] = set()
            for i, (sid, person) in enumerate(subjects):
                r = apis[i % 2].withdraw(sid)
                assert r.status_code == 200, r.text
                withdrawn.add(sid)
                for api in (apis[(i + 1) % 2], apis[i % 2]):  # the other client first
                    r = api.identify(photo(PEOPLE[person][1]), top=100)
                    assert r.status_code == 200, r.text
                    seen = identified(r.json())
                    assert not seen & withdrawn, f"step {i}: a withdrawn subject returned"
                    assert seen >= {s for s, p in subjects if p == person} - withdrawn
        finally:
            for api in apis:
                api.close()


def test_several_workers_refuse_sqlite(tmp_path: Path) -> None:
    with Server(tmp_path / "lite", workers=2) as server:
        done = server.cli("serve", "--workers", "2", timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    message = done.stdout + done.stderr
    assert "PostgreSQL" in message and "FACEGATE_DATABASE_URL" in message
