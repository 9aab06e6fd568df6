"""Batch enrolment: worker processes, consents from a file, rejected images with reasons,
resumable and idempotent. Real photos (copied into a temporary folder), real dlib, real store."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ID02, ID03, JOLIE, OPERATOR, photo

from facegate.service import Actor, Facegate
from facegate.service.batch import enrol_batch

ADMIN = Actor("batch-admin", "admin")  # records subjects and consents, and enrols


def folder(tmp: Path) -> Path:
    root = tmp / "staff"
    for ref, photos in (("E-1", JOLIE[:2]), ("E-2", ID02[:1]), ("E-3", ID03[:1]),
                        ("E-9", ID03[1:2])):
        (root / ref).mkdir(parents=True)
        for i, p in enumerate(photos):
            (root / ref / f"{i}.jpg").write_bytes(photo(p))
    (root / "E-2" / "blank.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root


def test_batch_enrolment_is_parallel_resumable_and_idempotent(service: Facegate, door: str,
                                                              tmp_path: Path) -> None:
    root = folder(tmp_path)
    consents = tmp_path / "consents.csv"
    consents.write_text("ref,birth_date,method\nE-1,1980-01-02,written\nE-2,,electronic\n"
                        "E-3,1975-05-05,written\n")
    out = enrol_batch(service, ADMIN, root, door, consents, workers=2)
    assert out["enrolled"] == 3 and out["templates"] == 4
    assert out["no_consent_record"] == ["E-9"]
    (bad,) = out["rejected"]
    assert bad["ref"] == "E-2" and bad["image"] == "blank.png" and bad["error"]
    sid = service.subjects.find(ADMIN, "E-1")
    assert len(service.subjects.show(ADMIN, sid)["templates"]) == 2
    assert service.consents.all(ADMIN, sid)[0]["method"] == "written"
    # a rerun (after an interruption, or by mistake) changes nothing
    again = enrol_batch(service, ADMIN, root, door, consents, workers=2)
    assert again["enrolled"] == 0 and again["skipped_done"] == 3
    assert len(service.subjects.show(ADMIN, sid)["templates"]) == 2
    # a new consent record later: only that subject is enrolled
    consents.write_text(consents.read_text() + "E-9,,written\n")
    last = enrol_batch(service, ADMIN, root, door, consents, workers=1)
    assert last["enrolled"] == 1 and last["skipped_done"] == 3
    probe = photo(JOLIE[2])
    assert service.matching.identify(OPERATOR, door, probe)["candidates"][0]["subject"] == sid
