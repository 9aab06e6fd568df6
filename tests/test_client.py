"""The Python client against a real service over HTTP: a person's journey from a manifest to
the withdrawal of their consent, and every kind of error answer arriving as its exception
with its status, code, messages and rule ids."""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from tests.conftest import ASSESSMENT, DEEPFACE, ID02, JOLIE, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.client import (
    ApiError,
    BadRequest,
    Client,
    Conflict,
    NotFound,
    Refused,
    TooManyRequests,
    Unauthorised,
)
from facegate.service import Actor, Facegate

ADMIN = Actor("t", "admin")
ROLES = ("officer", "operator", "auditor", "admin")


@dataclass
class Served:
    """A served service and a key of each role."""

    base: str
    keys: dict[str, str]

    def client(self, role: str) -> Client:
        return Client(self.base, self.keys[role], timeout=120)


def serve(service: Facegate) -> Iterator[Served]:
    """The service served over HTTP on loopback, with a key of each role."""
    keys = {role: service.keys.create(ADMIN, f"sdk-{role}", role)["key"] for role in ROLES}
    for base in running(create_app(service, housekeeping_every_s=0)):
        yield Served(base, keys)


@pytest.fixture()
def served(sqlite_service: Facegate) -> Iterator[Served]:
    yield from serve(sqlite_service)


def test_a_journey_from_a_manifest_to_a_withdrawal(served: Served) -> None:
    probe = photo(JOLIE[2])
    with served.client("officer") as off, served.client("operator") as op:
        applied = off.deployments.apply(office_manifest(mode="identify"))
        dep = applied["id"]
        assert applied["created"] is True and applied["decision"]["allowed"] is True
        assert off.assessments.record(dep, ASSESSMENT)["version"] == 1
        sid = off.subjects.add("E-2002")["id"]
        granted = off.consents.grant(sid, dep, "access_control")
        assert granted["active"] is True and granted["subject"] == sid

        # the three ways of giving an image: a path, bytes, a binary file object
        enrolled = op.faces.enrol(sid, dep, [DEEPFACE / JOLIE[0], photo(JOLIE[1])])
        assert [t["image"] for t in enrolled["templates"]] == [0, 1]
        assert enrolled["rejected"] == []
        verified = op.faces.verify(sid, dep, io.BytesIO(probe))
        assert verified["match"] is True and verified["score"] >= verified["threshold"]
        assert op.faces.verify(sid, dep, photo(ID02[0]))["match"] is False
        found = op.faces.identify(dep, probe, top=3)
        assert [c["subject"] for c in found["candidates"]] == [sid]

        receipt = off.consents.withdraw(sid)
        assert len(receipt["deleted"]["templates"]) == 2 and len(receipt["sha256"]) == 64
        assert op.faces.identify(dep, probe)["candidates"] == []
        held = off.subjects.get(sid)
        assert held["templates"] == [] and held["consents"][0]["active"] is False
        assert off.audit.verify()["ok"] is True


def test_a_refusal_raises_refused_with_the_rule_ids(served: Served) -> None:
    with served.client("officer") as off, served.client("operator") as op:
        with pytest.raises(Refused) as role:  # the operator's role may not
            op.deployments.apply(office_manifest())
        assert (role.value.status, role.value.code) == (403, "refused")
        assert role.value.rules == ["security.controls"]

        sauna = office_manifest(id="sauna")
        sauna["location"]["type"] = "public_bath"
        with pytest.raises(Refused) as gate:
            off.deployments.apply(sauna)
        assert gate.value.code == "refused"
        assert gate.value.rules == ["place.private-space"]
        assert gate.value.decision is not None and gate.value.decision["findings"]
        assert gate.value.message and gate.value.message_zh
        assert "place.private-space" in str(gate.value)

        dep = off.deployments.apply(office_manifest())["id"]
        sid = off.subjects.add("E-1")["id"]
        with pytest.raises(Refused) as unassessed:  # no assessment, no consent
            op.faces.enrol(sid, dep, photo(JOLIE[0]))
        assert {"consent.separate", "pia.before-use"} <= set(unassessed.value.rules)
        with pytest.raises(Refused) as sensitive:
            op.faces.attributes(["race"])
        assert sensitive.value.rules == ["attributes.sensitive"]


def test_a_missing_or_unknown_key_is_unauthorised_then_too_many(served: Served) -> None:
    for key in (None, "fg_wrong"):
        with Client(served.base, key) as anonymous, pytest.raises(Unauthorised) as no:
            anonymous.deployments.list()
        assert (no.value.status, no.value.code) == (401, "unauthorised")
        assert no.value.rules == ["security.controls"] and no.value.message_zh
    with Client(served.base, "fg_wrong") as wrong:
        with pytest.raises(ApiError) as last:
            for _ in range(20):  # the address is locked out after repeated failures
                try:
                    wrong.keys.whoami()
                except Unauthorised:
                    continue
        assert isinstance(last.value, TooManyRequests)
        assert last.value.status == 429 and last.value.code == "too_many_failures"
        assert last.value.retry_after is not None and last.value.retry_after > 0


def test_bad_input_is_bad_request_with_its_problems(served: Served) -> None:
    with served.client("officer") as off, served.client("operator") as op:
        with pytest.raises(BadRequest) as empty:
            off.subjects.add("")
        assert (empty.value.status, empty.value.code) == (422, "bad_input")
        assert any(p.startswith("body.ref") for p in empty.value.problems)
        with pytest.raises(BadRequest) as pack:
            off.rules.list(pack="no-such-pack")
        assert pack.value.status == 422 and "no-such-pack" in pack.value.message
        nopurpose = office_manifest(id="np")
        del nopurpose["purpose"]
        with pytest.raises(BadRequest) as manifest:  # a rule's refusal as bad input
            off.deployments.apply(nopurpose)
        assert manifest.value.rules == ["purpose.declared"]
        with pytest.raises(BadRequest) as not_image:
            op.faces.detect(b"hello, not a photo")
        assert not_image.value.status == 415


def test_what_is_not_there_or_in_conflict(served: Served) -> None:
    with served.client("officer") as off:
        with pytest.raises(NotFound) as missing:
            off.subjects.get("sub_nobody")
        assert (missing.value.status, missing.value.code) == (404, "not_found")
        with pytest.raises(NotFound):
            off.deployments.get("no-such-door")
        dep = off.deployments.apply(office_manifest())["id"]
        with pytest.raises(Conflict) as sign:  # no public address for the QR code yet
            off.deployments.document(dep, "sign")
        assert sign.value.status == 409 and sign.value.rules == ["notice.required"]
        with pytest.raises(Conflict):  # it already uses the installation's engine
            off.deployments.migrate_engine(dep)
        for empty in ("", ".."):  # never GET /v1/subjects/ or /v1/ by accident
            with pytest.raises(ValueError, match="must not be"):
                off.subjects.get(empty)
