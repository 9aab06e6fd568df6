"""The governed core end to end: real dlib models, real photos, a real store (each test runs
on SQLite and on PostgreSQL)."""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import inspect, text
from tests.conftest import (
    AUDITOR,
    ID02,
    ID03,
    JOLIE,
    OFFICER,
    OPERATOR,
    assessed,
    office_manifest,
    photo,
)

from facegate.errors import (
    BadInput,
    Conflict,
    KeyShredded,
    NoFace,
    NotFound,
    Refused,
    TooManyFaces,
)
from facegate.service import Facegate
from facegate.store.models import SubjectKey, Template


def database_dump(service: Facegate) -> bytes:
    """Every row of every table, as the database hands it out: what a stolen dump would hold."""
    out = []
    with service.db.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                out.append(repr(tuple(row)).encode())
    return b"\n".join(out)


def enrolled(service: Facegate, door: str, ref: str, photos: list[str],
             birth: date | None = None) -> str:
    sid = service.subjects.add(OFFICER, ref, birth)["id"]
    service.consents.grant(OFFICER, sid, door, "access_control")
    out = service.matching.enrol(OPERATOR, sid, door, [photo(p) for p in photos])
    assert len(out["templates"]) == len(photos), out["rejected"]
    return str(sid)


def test_same_person_verifies_and_others_do_not(service: Facegate, door: str) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:2])
    same = service.matching.verify(OPERATOR, jolie, door, photo("id01_angelina_jolie/img5.jpg"))
    assert same["match"] and same["score"] >= same["threshold"]
    other = service.matching.verify(OPERATOR, jolie, door, photo(ID02[0]))
    assert not other["match"] and other["score"] < other["threshold"]


def test_identify_finds_the_right_subject(service: Facegate, door: str) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:2])
    p2 = enrolled(service, door, "staff-002", ID02[:2])
    out = service.matching.identify(OPERATOR, door, photo("id01_angelina_jolie/img6.jpg"), top=3)
    assert out["candidates"] and out["candidates"][0]["subject"] == jolie
    assert all(c["score"] >= out["threshold"] for c in out["candidates"])
    out = service.matching.identify(OPERATOR, door, photo(ID02[2]))
    assert [c["subject"] for c in out["candidates"]][:1] == [p2]
    # a stranger: nobody above the threshold
    assert service.matching.identify(OPERATOR, door, photo(ID03[0]))["candidates"] == []


def test_enrol_refused_without_consent(service: Facegate, door: str) -> None:
    sid = service.subjects.add(OFFICER, "staff-009")["id"]
    with pytest.raises(Refused) as e:
        service.matching.enrol(OPERATOR, sid, door, [photo(JOLIE[0])])
    assert e.value.rules == ["consent.separate", "consent.lawful-basis"]
    tail = service.audit.tail(OFFICER, 1)[0]
    assert tail["operation"] == "enrol" and tail["decision"] == "refused"
    assert tail["rules"] == ["consent.separate", "consent.lawful-basis"]


def test_consent_for_another_purpose_is_refused(service: Facegate, door: str) -> None:
    sid = service.subjects.add(OFFICER, "staff-010")["id"]
    with pytest.raises(Refused) as e:
        service.consents.grant(OFFICER, sid, door, "attendance")
    assert e.value.rules == ["purpose.bound"]


def test_template_used_only_where_consented(service: Facegate, door: str) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:1])
    other = assessed(service, office_manifest(id="canteen", mode="identify"))
    with pytest.raises(Refused) as e:
        service.matching.verify(OPERATOR, jolie, other, photo(JOLIE[1]))
    assert "consent.separate" in e.value.rules
    assert service.matching.identify(OPERATOR, other, photo(JOLIE[1]))["candidates"] == []


def test_identify_refused_at_a_verify_only_deployment(service: Facegate) -> None:
    assessed(service, office_manifest())
    with pytest.raises(Refused) as e:
        service.matching.identify(OPERATOR, "hq-office-door", photo(JOLIE[0]))
    assert e.value.rules == ["purpose.bound"]


def test_guardian_consent_under_14(service: Facegate) -> None:
    door = assessed(service, office_manifest(id="school-gate", minors_rules="minors-v1"))
    today = service.settings.today()
    child = service.subjects.add(OFFICER, "pupil-1",
                                date(today.year - 14, today.month, today.day)
                                + timedelta(days=1))["id"]
    with pytest.raises(Refused) as e:
        service.consents.grant(OFFICER, child, door, "access_control")
    assert e.value.rules == ["consent.guardian-under-14"]
    service.consents.grant(OFFICER, child, door, "access_control",
                          guardian_ref="parent-77", guardian_relationship="mother")
    out = service.matching.enrol(OPERATOR, child, door, [photo(ID03[0])])
    assert "consent.guardian-under-14" in out["decision"]["rules"]


def test_private_space_and_missing_alternative_refused(service: Facegate) -> None:
    m = office_manifest(id="changing")
    m["location"] = m["location"] | {"type": "changing_room"}
    with pytest.raises(Refused) as e:
        service.deployments.apply(OFFICER, m)
    assert e.value.rules == ["place.private-space"] and e.value.http_status == 403
    m = office_manifest(id="no-alt")
    del m["alternative"]
    with pytest.raises(Refused) as e:
        service.deployments.apply(OFFICER, m)
    assert e.value.rules == ["alternative.required", "alternative.building-access"]
    assert service.deployments.all(OFFICER) == []


def test_sensitive_attributes_refused_and_audited(service: Facegate, door: str) -> None:
    with pytest.raises(Refused) as e:
        service.matching.detect(OPERATOR, photo(JOLIE[0]), ["ethnicity"])
    assert e.value.rules == ["attributes.sensitive"]
    rec = service.audit.tail(OFFICER, 1)[0]
    assert rec["rules"] == ["attributes.sensitive"] and rec["decision"] == "refused"


def test_withdrawal_deletes_everywhere_and_shreds(service: Facegate, door: str) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:2])
    enrolled(service, door, "staff-002", ID02[:1])
    probe = photo("id01_angelina_jolie/img6.jpg")
    assert service.matching.identify(OPERATOR, door, probe)["candidates"][0]["subject"] == jolie
    with service.uow() as uow:
        stolen = [(t.id, t.sealed) for t in uow.session.query(Template)
                  .filter_by(subject_id=jolie)]
        old_wrapped = uow.session.get(SubjectKey, jolie).wrapped
    receipt = service.consents.withdraw(OFFICER, jolie, door)
    assert sorted(receipt["deleted"]["templates"]) == sorted(t for t, _ in stolen)
    assert receipt["deleted"]["index_entries"] == 2 and len(receipt["sha256"]) == 64
    # never returned again, not even once
    assert all(c["subject"] != jolie
               for c in service.matching.identify(OPERATOR, door, probe, top=10)["candidates"])
    with pytest.raises(Refused):
        service.matching.verify(OPERATOR, jolie, door, probe)
    with service.uow() as uow:
        assert uow.session.query(Template).filter_by(subject_id=jolie).count() == 0
        new_wrapped = uow.session.get(SubjectKey, jolie).wrapped
    # a copy of the ciphertext (a backup) no longer decrypts: the key it needs is gone
    assert new_wrapped != old_wrapped
    new_dek = service.keyring.unwrap(jolie, new_wrapped)
    for tid, sealed in stolen:
        with pytest.raises(InvalidTag):
            service.keyring.open(new_dek, sealed, f"template:{tid}:{jolie}:{door}:dlib:"
                                 "dlib_face_recognition_resnet_model_v1")


def test_fresh_process_index_forgets_withdrawn_subject(service: Facegate, door: str,
                                                       engine) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:1])
    other = Facegate(service.settings, engine)  # a second process on the same store
    probe = photo("id01_angelina_jolie/img6.jpg")
    assert other.matching.identify(OPERATOR, door, probe)["candidates"][0]["subject"] == jolie
    service.consents.withdraw(OFFICER, jolie)
    assert other.matching.identify(OPERATOR, door, probe)["candidates"] == []
    other.close()


def test_delete_subject_returns_receipt(service: Facegate, door: str) -> None:
    sid = enrolled(service, door, "staff-001", JOLIE[:1])
    receipt = service.subjects.delete(OFFICER, sid)
    assert receipt["deleted"]["key_destroyed"] and receipt["deleted"]["identity_deleted"]
    with service.uow() as uow:
        assert uow.session.get(SubjectKey, sid) is None
    with pytest.raises(KeyShredded):
        service.keyring.unwrap(sid, None)
    with pytest.raises(NotFound):
        service.subjects.show(OFFICER, sid)


def test_decline_is_recorded_with_the_alternative(service: Facegate, door: str) -> None:
    out = service.consents.decline(OPERATOR, door)
    assert out["recorded"] and out["alternative"]["method"] == "badge_at_guard_desk"
    assert service.audit.tail(OFFICER, 1)[0]["operation"] == "decline"


def test_bad_images(service: Facegate, door: str) -> None:
    sid = service.subjects.add(OFFICER, "staff-011")["id"]
    service.consents.grant(OFFICER, sid, door, "access_control")
    with pytest.raises(BadInput):
        service.matching.enrol(OPERATOR, sid, door, [b"not an image"])
    with pytest.raises(BadInput):
        service.matching.enrol(OPERATOR, sid, door, [photo(JOLIE[0])[:5000]])
    import io

    from PIL import Image
    blank = io.BytesIO()
    Image.new("RGB", (400, 400), (128, 128, 128)).save(blank, "PNG")
    with pytest.raises(NoFace):
        service.matching.enrol(OPERATOR, sid, door, [blank.getvalue()])
    # two people in one picture where one is required
    a = Image.open(io.BytesIO(photo(JOLIE[2]))).convert("RGB").resize((600, 400))
    b = Image.open(io.BytesIO(photo(ID02[0]))).convert("RGB").resize((600, 800))
    group = Image.new("RGB", (1200, 800))
    group.paste(a, (0, 200))
    group.paste(b, (600, 0))
    buf = io.BytesIO()
    group.save(buf, "JPEG")
    with pytest.raises(TooManyFaces):
        service.matching.enrol(OPERATOR, sid, door, [buf.getvalue()])
    # several images: the good one is enrolled, the bad one reported
    out = service.matching.enrol(OPERATOR, sid, door, [photo(JOLIE[0]), blank.getvalue()])
    assert len(out["templates"]) == 1 and out["rejected"][0]["error"] == "no_face"


def test_roles_are_enforced(service: Facegate, door: str) -> None:
    with pytest.raises(Refused) as e:
        service.subjects.add(AUDITOR, "x")
    assert e.value.rules == ["security.controls"]
    with pytest.raises(Refused):
        service.deployments.apply(OPERATOR, office_manifest(id="x"))
    assert service.audit.verify(AUDITOR)["ok"]


def test_duplicate_reference_conflicts(service: Facegate) -> None:
    service.subjects.add(OFFICER, "staff-001")
    with pytest.raises(Conflict):
        service.subjects.add(OFFICER, "staff-001")


def test_identity_is_sealed_and_apart(service: Facegate, door: str) -> None:
    sid = enrolled(service, door, "staff-secret-42", JOLIE[:1], date(1990, 5, 1))
    dump = database_dump(service)
    assert b"staff-secret-42" not in dump and b"1990-05-01" not in dump
    assert sid.encode() in dump  # the dump is real: the pseudonym is there
    db = service.settings.data_dir / "facegate.db"
    if service.db.dialect.name == "sqlite":
        service.close()
        raw = db.read_bytes()
        assert b"staff-secret-42" not in raw and b"1990-05-01" not in raw
    else:
        assert not db.exists()  # nothing beside the data when the store is PostgreSQL
    shown = service.subjects.show(OFFICER, sid)
    assert shown["ref"] == "staff-secret-42" and shown["birth_date"] == "1990-05-01"
    assert "vector" not in str(shown["templates"])


def test_audit_chain_detects_an_edited_record(service: Facegate, door: str) -> None:
    enrolled(service, door, "staff-001", JOLIE[:1])
    assert service.audit.verify(AUDITOR)["ok"]
    with service.db.connect() as conn:
        with pytest.raises(Exception, match="append-only"):
            conn.execute(text("UPDATE audit_records SET actor='x' WHERE seq=2"))
        conn.rollback()
    # an attacker with raw database access drops the trigger and edits a record
    with service.db.begin() as conn:
        if service.db.dialect.name == "sqlite":
            conn.execute(text("DROP TRIGGER audit_records_no_update"))
        else:
            conn.execute(text("DROP TRIGGER audit_records_append_only ON audit_records"))
        conn.execute(text("UPDATE audit_records SET decision='refused' WHERE seq=3"))
    report = service.audit.verify(AUDITOR)
    assert not report["ok"] and report["first_broken"] == 3


def test_no_image_bytes_reach_the_data_directory(service: Facegate, door: str) -> None:
    sid = enrolled(service, door, "staff-001", JOLIE[:2])
    service.matching.verify(OPERATOR, sid, door, photo(JOLIE[2]))
    service.matching.identify(OPERATOR, door, photo(JOLIE[2]))
    signatures = [b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"RIFF", b"WEBP"]
    samples = [photo(p)[2000:2064] for p in JOLIE]
    blobs = {"database rows": database_dump(service)}
    service.close()
    for path in Path(service.settings.data_dir).rglob("*"):
        if path.is_file():
            blobs[str(path)] = path.read_bytes()
    assert len(blobs) > 1 or service.db.dialect.name != "sqlite"
    for where, blob in blobs.items():
        for sig in signatures + samples:
            assert sig not in blob, f"{where} holds image data"
    # the master key lives outside the data directory
    key_file = Path(os.environ["FACEGATE_KEY_FILE"])
    assert key_file.is_file() and service.settings.data_dir not in key_file.parents
    assert not any(p.name.endswith(".key") for p in service.settings.data_dir.rglob("*"))


def test_finding_a_subject_by_reference_is_audited(service: Facegate) -> None:
    sid = service.subjects.add(OFFICER, "staff-077")["id"]
    assert service.subjects.find(OFFICER, "staff-077") == sid
    rec = service.audit.tail(OFFICER, 1)[0]
    assert rec["operation"] == "subject.find" and rec["subject"] == sid
    assert "staff-077" not in str(rec)
