"""The indexes' change log is pruned by housekeeping: rows older than ``INDEX_LOG_KEEP`` go,
the newest of them stays as a ``horizon`` row, and a process whose index had not applied it
rebuilds from the store, so it never keeps a withdrawn subject it missed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, photo

from facegate.engine import Engine
from facegate.service import Actor, Facegate
from facegate.service import housekeeping as housekeeping_module
from facegate.store.models import IndexChange

ADMIN = Actor("log-admin", "admin")


@pytest.fixture()
def second(service: Facegate, engine: Engine) -> Iterator[Facegate]:
    """Another process on the same store and master key."""
    other = Facegate(service.settings, engine)
    yield other
    other.close()


def _enrol(service: Facegate, dep: str, ref: str, rel: str) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [photo(rel)])
    return sid


def _log(service: Facegate, dep: str) -> list[tuple[str, str | None]]:
    with service.uow() as uow:
        rows = uow.session.execute(select(IndexChange).where(IndexChange.deployment_id == dep)
                                   .order_by(IndexChange.seq)).scalars()
        return [(r.kind, r.subject_id) for r in rows]


def test_a_pruned_log_makes_a_lagging_process_rebuild(service: Facegate, second: Facegate,
                                                      door: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    jolie = _enrol(service, door, "LOG-1", JOLIE[0])
    other = _enrol(service, door, "LOG-2", ID02[0])
    assert second.matching.identify(OPERATOR, door, photo(JOLIE[1]))["candidates"][0][
        "subject"] == jolie
    (held,) = second.matching.indexes.held(door)
    assert held.subjects() == {jolie, other}
    rebuilds = second.matching.indexes.rebuilds

    service.consents.withdraw(OFFICER, jolie, door)
    assert [k for k, _ in _log(service, door)] == ["add", "add", "remove_subject"]

    # Nothing is old enough yet: the log stays whole.
    assert service.housekeeping.run(ADMIN)["index_log_pruned"] == 0
    assert len(_log(service, door)) == 3
    # A day later (here: a keep of zero), every row but a horizon goes, and no identifier.
    monkeypatch.setattr(housekeeping_module, "INDEX_LOG_KEEP", timedelta(0))
    report = service.housekeeping.run(ADMIN)
    assert report["index_log_pruned"] == 2
    assert _log(service, door) == [("horizon", None)]
    trail = [r for r in service.audit.tail(OFFICER, 20) if r["operation"] == "housekeeping"]
    assert trail[-1]["detail"]["index_log_pruned"] == 2
    assert service.housekeeping.run(ADMIN)["index_log_pruned"] == 0  # idempotent

    # The second process never applied the withdrawal: it rebuilds, and its index itself
    # (not only the store's confirmation) no longer holds the subject.
    assert second.matching.identify(OPERATOR, door, photo(JOLIE[1]))["candidates"] == []
    assert second.matching.indexes.rebuilds == rebuilds + 1
    (held,) = second.matching.indexes.held(door)
    assert held.subjects() == {other}
    # Once applied, the horizon costs nothing more.
    second.matching.identify(OPERATOR, door, photo(ID02[1]))
    assert second.matching.indexes.rebuilds == rebuilds + 1
