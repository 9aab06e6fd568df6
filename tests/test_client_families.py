"""Every family of operations through the Python client against a real service over HTTP:
liveness, keys, rules, deployments and their documents and engines, assessments, the filing
duty, the person's requests, faces in batches, reviews and the audit trail. Lists follow the
service's pages."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import ASSESSMENT, ID02, JOLIE, SHARED, office_manifest, photo
from tests.test_client import Served, serve

from facegate.client import Client, NotFound, Refused, Unauthorised
from facegate.service import Facegate


@pytest.fixture()
def served(sqlite_service: Facegate) -> Iterator[Served]:
    yield from serve(sqlite_service)


def test_liveness_keys_and_rules(served: Served) -> None:
    with Client(served.base, None) as anonymous:
        assert anonymous.health()["status"] == "live"
        deadline = time.monotonic() + 30
        while not (ready := anonymous.ready())["ready"] and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ready["ready"] is True and ready["store"] is True
    with served.client("admin") as admin:
        made = admin.keys.create("door-7", "operator")
        with Client(served.base, made["key"]) as door:
            assert door.keys.whoami() == {"name": "key:door-7", "role": "operator",
                                          "deployment": None, "device": None}
        listed = admin.keys.list(limit=2)  # five keys: three pages
        assert len(listed) == 5 and len({k["id"] for k in listed}) == 5
        assert made["id"] in {k["id"] for k in listed}
        assert admin.keys.revoke(made["id"])["revoked"] is True
        with Client(served.base, made["key"]) as door, pytest.raises(Unauthorised):
            door.keys.whoami()
    with served.client("auditor") as aud:
        ids = {r["id"] for r in aud.rules.list(pack="cn-2025")}
        assert "storage.on-device" in ids and "devices.annual-test" not in ids


def test_deployments_documents_engines_and_assessments(served: Served, tmp_path: Path) -> None:
    with served.client("officer") as off:
        assert off.deployments.check(office_manifest())["allowed"] is True
        yaml_text = (SHARED / "examples" / "office-door.yaml").read_bytes()
        assert off.deployments.check(yaml_text)["operation"] == "deployment.apply"
        dep = off.deployments.apply(SHARED / "examples" / "office-door.yaml")["id"]
        off.deployments.apply(office_manifest(id="side-door"))
        pages = list(off.deployments.pages(limit=1))
        assert [len(p.items) for p in pages] == [1, 1]
        assert pages[0].next_cursor is not None and pages[-1].next_cursor is None
        assert [d["id"] for d in off.deployments.list(limit=1)] == sorted([dep, "side-door"])
        assert off.deployments.get(dep)["manifest"]["id"] == dep
        assert off.deployments.notice(dep)["version"] == 1
        notice = off.deployments.document(dep, "notice", lang="en", format="html", draft=True)
        assert notice.media_type == "text/html" and "<html" in notice.text.lower()
        sign = off.deployments.document(dep, "sign", size="A3", draft=True)
        assert sign.media_type == "application/pdf" and sign.content.startswith(b"%PDF")
        assert sign.filename is not None and sign.filename.startswith("sign-zh")
        assert sign.save(tmp_path / "sign.pdf").read_bytes() == sign.content
        status = off.engine.status()
        assert [d["deployment"] for d in status["deployments"]] == sorted([dep, "side-door"])
        rekeyed = off.deployments.rekey(dep)
        assert rekeyed["epoch"] == rekeyed["previous_epoch"] + 1

        assert off.assessments.record(dep, ASSESSMENT)["version"] == 1
        assert [a["version"] for a in off.assessments.list(dep)] == [1]
        with pytest.raises(Refused) as kept:
            off.assessments.delete(dep, 1)
        assert kept.value.rules == ["pia.before-use"]
        assert off.assessments.incident(dep, "badge reader breached")["stale"] is True
        ended = off.deployments.terminate("side-door")
        assert ended["deployment"] == "side-door" and len(ended["sha256"]) == 64


def test_the_filing_duty_and_the_persons_requests(served: Served) -> None:
    with served.client("officer") as off, served.client("operator") as op:
        dep = off.deployments.apply(office_manifest(mode="identify"))["id"]
        off.assessments.record(dep, ASSESSMENT)
        (mine,) = off.compliance.filing()["operators"]
        assert mine["deployments"] == [dep] and mine["required"] is False
        with pytest.raises(NotFound):  # nothing to file under the threshold
            off.compliance.record_filing(dt.date(2026, 1, 5), "REF-1")
        dossier = off.compliance.dossier(lang="en", format="html")
        assert dossier.media_type == "text/html"
        assert off.compliance.housekeeping()["expired_templates"] == 0

        sid = off.subjects.add("E-77", birth_date=dt.date(1990, 5, 1))["id"]
        found = off.subjects.find("E-77")
        assert found is not None and found["id"] == sid
        assert off.subjects.find("E-nobody") is None
        assert [s["id"] for s in off.subjects.list()] == [sid]
        off.consents.grant(sid, dep, "access_control")
        assert [c["subject"] for c in off.consents.list(deployment=dep, limit=1)] == [sid]
        other = off.subjects.add("E-78")["id"]
        off.consents.grant(other, dep, "access_control")
        batch = op.faces.enrol_batch(dep, {sid: [photo(JOLIE[0]), photo(JOLIE[1])],
                                           other: photo(ID02[0])})
        assert (batch["enrolled"], batch["failed"]) == (2, 0)
        assert [len(i["result"]["templates"]) for i in batch["items"] if i["result"]] == [2, 1]
        faces = op.faces.detect(photo(JOLIE[2]))["faces"]
        assert len(faces) == 1 and faces[0]["box"]["right"] > faces[0]["box"]["left"]
        assert op.faces.decline(dep, transaction="t-1")["recorded"] is True
        reviewed = op.faces.review(dep, "t-2", staff="Li Wei", outcome="confirmed")
        assert reviewed["approved"] is True and reviewed["staff"] == "Li Wei"

        with pytest.raises(Refused) as unverified:
            off.rights.access(sid)
        assert unverified.value.rules == ["rights.access"]
        access = off.rights.access(sid, requester_verified=True)
        assert len(access["templates"]) == 2 and access["deployments"][0]["id"] == dep
        exported = off.rights.export(sid, basis="PIPL Art. 13")
        assert len(exported["templates"]) == 2 and exported["basis"] == "PIPL Art. 13"
        erased = off.rights.delete(sid, requester_verified=True)
        assert len(erased["deleted"]["templates"]) == 2
        receipt = off.compliance.receipt(erased, lang="en", format="html")
        assert receipt.media_type == "text/html" and erased["sha256"] in receipt.text
        gone = off.subjects.delete(other)
        assert gone["subject"] == other and len(gone["deleted"]["templates"]) == 1


def test_the_audit_trail(served: Served) -> None:
    with served.client("officer") as off, served.client("auditor") as aud:
        for n in range(3):
            off.subjects.add(f"E-{n}")
        latest = aud.audit.records(limit=2)
        assert len(latest) == 2 and latest[0]["seq"] < latest[1]["seq"]
        adds = aud.audit.records(operation="subject.add")
        assert len(adds) == 3 and {r["operation"] for r in adds} == {"subject.add"}
        pages = list(aud.audit.pages(limit=2))
        seqs = [r["seq"] for page in reversed(pages) for r in page.items]
        assert seqs == list(range(1, len(seqs) + 1)) and len(pages) >= 2
        trail = off.audit.trail()
        lines = [json.loads(line) for line in trail.decode().splitlines() if line]
        assert [r["seq"] for r in lines][:len(seqs)] == seqs
        mark = off.audit.checkpoint()
        assert mark["size"] >= len(seqs) and mark["signature"]
        assert aud.audit.checkpoints(limit=1) == [mark]
        proof = aud.audit.proof(1, size=mark["size"])
        assert proof["root"] == mark["root"] and proof["seq"] == 1
        assert aud.audit.verify()["ok"] is True
