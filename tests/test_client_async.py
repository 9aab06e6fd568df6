"""The asynchronous Python client against a real service over HTTP: the journey from a
manifest to a withdrawal with requests in flight together, the error answers as exceptions,
lists followed page by page, documents and the audit trail."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import pytest
from tests.conftest import ASSESSMENT, DEEPFACE, ID02, JOLIE, office_manifest, photo
from tests.test_client import Served, serve

from facegate.client import AsyncClient, BadRequest, NotFound, Refused, Unauthorised
from facegate.service import Facegate


@pytest.fixture()
def served(sqlite_service: Facegate) -> Iterator[Served]:
    yield from serve(sqlite_service)


def clients(served: Served) -> tuple[AsyncClient, AsyncClient]:
    return (AsyncClient(served.base, served.keys["officer"], timeout=120),
            AsyncClient(served.base, served.keys["operator"], timeout=120))


def test_a_journey_with_requests_in_flight_together(served: Served) -> None:
    probe, stranger = photo(JOLIE[2]), photo(ID02[0])

    async def journey() -> None:
        off, op = clients(served)
        async with off, op:
            dep = (await off.deployments.apply(office_manifest(mode="identify")))["id"]
            await off.assessments.record(dep, ASSESSMENT)
            sid = (await off.subjects.add("E-3003"))["id"]
            assert (await off.consents.grant(sid, dep, "access_control"))["active"] is True
            with (DEEPFACE / JOLIE[0]).open("rb") as first:
                enrolled = await op.faces.enrol(sid, dep, [first, DEEPFACE / JOLIE[1]])
            assert len(enrolled["templates"]) == 2
            same, other, found = await asyncio.gather(
                op.faces.verify(sid, dep, io.BytesIO(probe)),
                op.faces.verify(sid, dep, stranger),
                op.faces.identify(dep, probe, top=3))
            assert same["match"] is True and other["match"] is False
            assert [c["subject"] for c in found["candidates"]] == [sid]
            receipt = await off.consents.withdraw(sid, dep)
            assert len(receipt["deleted"]["templates"]) == 2
            assert (await op.faces.identify(dep, probe))["candidates"] == []
            assert (await off.audit.verify())["ok"] is True

    asyncio.run(journey())


def test_error_answers_raise_their_exceptions(served: Served) -> None:
    async def errors() -> None:
        off, op = clients(served)
        async with off, op, AsyncClient(served.base, "fg_wrong") as wrong:
            with pytest.raises(Refused) as role:
                await op.deployments.apply(office_manifest())
            assert role.value.status == 403 and role.value.rules == ["security.controls"]
            sauna = office_manifest(id="sauna")
            sauna["location"]["type"] = "public_bath"
            with pytest.raises(Refused) as gate:
                await off.deployments.apply(sauna)
            assert gate.value.rules == ["place.private-space"] and gate.value.message_zh
            with pytest.raises(Unauthorised) as unknown:
                await wrong.keys.whoami()
            assert unknown.value.status == 401
            with pytest.raises(BadRequest) as bad:
                await off.subjects.add("")
            assert bad.value.status == 422 and bad.value.problems
            with pytest.raises(NotFound) as missing:
                await off.deployments.notice("no-such-door")
            assert missing.value.status == 404

    asyncio.run(errors())


def test_lists_documents_and_the_trail(served: Served) -> None:
    async def lists() -> None:
        off, _ = clients(served)
        async with off, AsyncClient(served.base, served.keys["admin"]) as admin:
            for door in ("a-door", "b-door", "c-door"):
                await off.deployments.apply(office_manifest(id=door))
            pages = [p async for p in off.deployments.pages(limit=2)]
            assert [[d["id"] for d in p.items] for p in pages] == [["a-door", "b-door"],
                                                                   ["c-door"]]
            assert len(await off.deployments.list(limit=1)) == 3
            assert len(await admin.keys.list(limit=3)) == 4
            assert (await off.subjects.find("E-none")) is None
            notice = await off.deployments.document("a-door", "notice", format="html",
                                                    draft=True)
            assert notice.media_type == "text/html"
            assert (await off.health())["status"] == "live"
            latest = await off.audit.records(limit=2)
            assert len(latest) == 2 and latest[0]["seq"] < latest[1]["seq"]
            walked = [r["seq"] async for p in off.audit.pages(limit=2) for r in p.items]
            assert sorted(walked) == list(range(1, len(walked) + 1)) and len(walked) > 3
            mark = await off.audit.checkpoint()
            assert (await off.audit.checkpoints()) == [mark]

    asyncio.run(lists())
