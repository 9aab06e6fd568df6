"""Matching a gate can trust, on real photos with the real dlib engine (SQLite and
PostgreSQL): enrolment checks the new face is the subject's, warns of possible duplicates at a
1:N deployment, identification searches every face, verification takes one person at a time,
and boxes are reported in the upload's own pixels."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from tests.conftest import (
    ASSESSMENT,
    ID02,
    JOLIE,
    OFFICER,
    OPERATOR,
    assessed,
    office_manifest,
    photo,
    running,
)

from facegate.api.app import create_app
from facegate.errors import IdentityMismatch, SeveralFaces
from facegate.images import ImageLimits, decode_image_scaled
from facegate.policy import Manifest
from facegate.service import Actor, Facegate
from facegate.service.identification import MAX_FACES
from facegate.service.verification import SECOND_FACE_AREA


def enrolled(service: Facegate, dep: str, ref: str, photos: list[str]) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    out = service.matching.enrol(OPERATOR, sid, dep, [photo(p) for p in photos])
    assert len(out["templates"]) == len(photos), out["rejected"]
    return sid


def jpeg(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def side_by_side(left: str, right: str, right_scale: float) -> bytes:
    """Two people in one picture: ``left`` at its own size, ``right`` scaled."""
    a = Image.open(io.BytesIO(photo(left))).convert("RGB")
    b = Image.open(io.BytesIO(photo(right))).convert("RGB")
    b = b.resize((round(b.width * right_scale), round(b.height * right_scale)))
    canvas = Image.new("RGB", (a.width + b.width, max(a.height, b.height)), (255, 255, 255))
    canvas.paste(a, (0, 0))
    canvas.paste(b, (a.width, 0))
    return jpeg(canvas)


def grid(paths: list[str], cols: int = 4, cell: tuple[int, int] = (400, 533)) -> bytes:
    """Several people in one picture, one per cell."""
    w, h = cell
    canvas = Image.new("RGB", (cols * w, -(-len(paths) // cols) * h), (255, 255, 255))
    for k, p in enumerate(paths):
        im = Image.open(io.BytesIO(photo(p))).convert("RGB")
        s = min(w / im.width, h / im.height)
        canvas.paste(im.resize((int(im.width * s), int(im.height * s))),
                     ((k % cols) * w, (k // cols) * h))
    return jpeg(canvas)


def door_threshold(service: Facegate) -> float:
    """The threshold at the ``door`` fixture's deployment."""
    return service.recogniser.threshold_at(
        Manifest.model_validate(office_manifest(mode="identify")))[0]


# Jolie (img6, face 373 px) beside id02 (img12) at 2.4x (face ~310 px: a second person next to
# her) or at 0.75x (face ~105 px: someone further back).
SIDE_BY_SIDE = ("id01_angelina_jolie/img6.jpg", "id02/img12.jpg")


# ---- 1. enrolment checks identity -----------------------------------------------------------


def test_enrolling_another_persons_photo_is_refused(service: Facegate, door: str) -> None:
    """Before: the subject enrolled with Jolie's photos accepted id02's photo (201), and
    verify then matched id02 as the subject. Now the enrolment is refused and audited."""
    jolie = enrolled(service, door, "staff-001", JOLIE[:2])
    with pytest.raises(IdentityMismatch) as e:
        service.matching.enrol(OPERATOR, jolie, door, [photo(ID02[0])])
    err = e.value
    assert err.http_status == 409 and err.code == "identity_mismatch" and err.exit_code == 2
    assert err.details["subject"] == jolie and err.details["image_positions"] == [0]
    assert err.details["threshold"] == door_threshold(service)
    assert err.details["score"] < err.details["threshold"] and jolie in err.message
    rec = service.audit.tail(OFFICER, 1)[0]
    assert rec["operation"] == "enrol" and rec["decision"] == "error"
    assert rec["subject"] == jolie and rec["detail"]["error"] == "identity_mismatch"
    assert rec["detail"]["score"] == err.details["score"]
    assert rec["detail"]["templates_compared"] == 2
    assert set(rec["detail"]) == {"error", "image_positions", "score", "threshold",
                                  "templates_compared"}
    assert len(service.subjects.show(OFFICER, jolie)["templates"]) == 2  # nothing was added
    # so id02 is still not taken for the subject
    assert not service.matching.verify(OPERATOR, jolie, door, photo(ID02[1]))["match"]
    # one wrong photo among right ones: the whole request is refused
    with pytest.raises(IdentityMismatch) as e:
        service.matching.enrol(OPERATOR, jolie, door, [photo(JOLIE[2]), photo(ID02[1])])
    assert e.value.details["image_positions"] == [1]
    assert len(service.subjects.show(OFFICER, jolie)["templates"]) == 2
    # the same person's new photo is enrolled
    out = service.matching.enrol(OPERATOR, jolie, door, [photo(JOLIE[2])])
    assert len(out["templates"]) == 1


def test_templates_at_other_deployments_are_compared(service: Facegate, door: str) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:1])
    canteen = assessed(service, office_manifest(id="canteen"))  # 1:1 only
    service.consents.grant(OFFICER, jolie, canteen, "access_control")
    with pytest.raises(IdentityMismatch) as e:
        service.matching.enrol(OPERATOR, jolie, canteen, [photo(ID02[0])])
    assert e.value.details["subject"] == jolie
    out = service.matching.enrol(OPERATOR, jolie, canteen, [photo(JOLIE[1])])
    assert len(out["templates"]) == 1 and out["possible_duplicates"] == []


# ---- 2. possible duplicates at a 1:N deployment ---------------------------------------------


def test_possible_duplicates_are_reported_not_refused(service: Facegate, door: str) -> None:
    first = enrolled(service, door, "staff-001", JOLIE[:2])
    second = str(service.subjects.add(OFFICER, "staff-002")["id"])
    service.consents.grant(OFFICER, second, door, "access_control")
    out = service.matching.enrol(OPERATOR, second, door, [photo(JOLIE[2])])
    assert len(out["templates"]) == 1
    (dup,) = out["possible_duplicates"]
    assert dup["subject"] == first and dup["score"] >= door_threshold(service)
    rec = service.audit.tail(OFFICER, 1)[0]
    assert rec["operation"] == "enrol" and rec["decision"] == "allowed"
    assert rec["detail"]["possible_duplicates"] == out["possible_duplicates"]
    # someone else: no warning
    other = str(service.subjects.add(OFFICER, "staff-003")["id"])
    service.consents.grant(OFFICER, other, door, "access_control")
    assert service.matching.enrol(OPERATOR, other, door,
                                  [photo(ID02[0])])["possible_duplicates"] == []
    # a withdrawn subject is never named
    service.consents.withdraw(OFFICER, first)
    third = str(service.subjects.add(OFFICER, "staff-004")["id"])
    service.consents.grant(OFFICER, third, door, "access_control")
    out = service.matching.enrol(OPERATOR, third, door, [photo(JOLIE[0])])
    assert [d["subject"] for d in out["possible_duplicates"]] == [second]


def test_no_duplicate_search_at_a_verify_deployment(service: Facegate) -> None:
    dep = assessed(service, office_manifest())  # mode: verify
    enrolled(service, dep, "staff-001", JOLIE[:1])
    sid = str(service.subjects.add(OFFICER, "staff-002")["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    assert service.matching.enrol(OPERATOR, sid, dep,
                                  [photo(JOLIE[1])])["possible_duplicates"] == []


# ---- 3. several faces -----------------------------------------------------------------------


def test_identify_searches_every_face(service: Facegate, door: str) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:2])
    p2 = enrolled(service, door, "staff-002", ID02[:2])
    group = side_by_side(*SIDE_BY_SIDE, 2.4)
    width = Image.open(io.BytesIO(group)).width
    out = service.matching.identify(OPERATOR, door, group, top=3)
    assert out["faces_detected"] == 2 and len(out["faces"]) == 2
    assert out["candidates"] == out["faces"][0]["candidates"]  # the largest face's
    by_subject = {f["candidates"][0]["subject"]: f["box"] for f in out["faces"]}
    assert set(by_subject) == {jolie, p2}
    assert by_subject[jolie]["right"] <= width * 0.45 < by_subject[p2]["left"]
    assert all(c["score"] >= out["threshold"] for f in out["faces"] for c in f["candidates"])
    rec = service.audit.tail(OFFICER, 1)[0]
    assert sorted(s for f in rec["detail"]["faces"] for s in f) == sorted([jolie, p2])
    # each candidate passes the gate on its own consent
    service.consents.withdraw(OFFICER, p2)
    out = service.matching.identify(OPERATOR, door, group, top=3)
    assert [c["subject"] for f in out["faces"] for c in f["candidates"]] == [jolie]


def test_identify_searches_at_most_the_largest_faces(service: Facegate, door: str) -> None:
    people = ["id01_angelina_jolie/img1.jpg", "id02/img3.jpg", "id03/img47.jpg",
              "id04/img15.jpg", "id05/img61.jpg", "id06/img18.jpg", "id07/img20.jpg",
              "id08/img22.jpg", "id09/img24.jpg", "id10/img26.jpg", "id11/img33.jpg",
              "id13/img39.jpg"]
    out = service.matching.identify(OPERATOR, door, grid(people))
    assert out["faces_detected"] == 12 and len(out["faces"]) == MAX_FACES == 10
    areas = [(f["box"]["right"] - f["box"]["left"]) * (f["box"]["bottom"] - f["box"]["top"])
             for f in out["faces"]]
    assert areas == sorted(areas, reverse=True)
    assert all(f["candidates"] == [] for f in out["faces"])  # nobody is enrolled


def test_verify_takes_one_person_at_a_time(service: Facegate, door: str) -> None:
    jolie = enrolled(service, door, "staff-001", JOLIE[:2])
    with pytest.raises(SeveralFaces) as e:
        service.matching.verify(OPERATOR, jolie, door, side_by_side(*SIDE_BY_SIDE, 2.4))
    err = e.value
    assert err.http_status == 422 and err.code == "several_faces"
    assert "one person at a time" in err.message and err.details["faces"] == 2
    assert err.details["area_share"] >= SECOND_FACE_AREA
    rec = service.audit.tail(OFFICER, 1)[0]
    assert rec["operation"] == "verify" and rec["decision"] == "error"
    assert rec["detail"]["error"] == "several_faces" and rec["subject"] == jolie
    # someone much smaller (further back) does not stop the check of the person in front
    out = service.matching.verify(OPERATOR, jolie, door, side_by_side(*SIDE_BY_SIDE, 0.75))
    assert out["faces_detected"] == 2 and out["match"]


# ---- 4. coordinates in the upload's own pixels ----------------------------------------------


def test_boxes_are_in_the_uploads_pixels(service: Facegate, door: str) -> None:
    original = photo("id01_angelina_jolie/img6.jpg")  # 750 x 1050: decoded at its own size
    small = service.matching.detect(OPERATOR, original)
    assert (small["width"], small["height"]) == (750, 1050)
    im = Image.open(io.BytesIO(original)).convert("RGB")
    big = im.resize((4000, round(im.height * 4000 / im.width)), Image.Resampling.BICUBIC)
    data = jpeg(big)
    assert len(data) <= service.settings.image_limits.max_bytes
    out = service.matching.detect(OPERATOR, data)
    assert (out["width"], out["height"]) == big.size
    (face,) = out["faces"]
    # the box found at the photo's own size, scaled up: the detector works on a pyramid of
    # scales, so the two boxes differ by up to one pyramid step, not more
    k = 4000 / 750
    expected = {side: v * k for side, v in small["faces"][0]["box"].items()}
    got = face["box"]
    for side, extent in (("left", 4000), ("right", 4000), ("top", big.height),
                         ("bottom", big.height)):
        assert abs(got[side] - expected[side]) <= 0.05 * extent, (side, got, expected)
    assert iou(got, expected) >= 0.7, (got, expected)
    # identify reports the same frame
    enrolled(service, door, "staff-001", JOLIE[:1])
    (found,) = service.matching.identify(OPERATOR, door, data)["faces"]
    assert found["box"] == face["box"] and found["candidates"]


def iou(a: dict[str, float], b: dict[str, float]) -> float:
    w = min(a["right"], b["right"]) - max(a["left"], b["left"])
    h = min(a["bottom"], b["bottom"]) - max(a["top"], b["top"])
    inter = max(w, 0) * max(h, 0)

    def area(x: dict[str, float]) -> float:
        return (x["right"] - x["left"]) * (x["bottom"] - x["top"])

    return inter / (area(a) + area(b) - inter)


def test_decoded_scale_follows_the_exif_orientation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, shown portrait
    buf = io.BytesIO()
    Image.new("RGB", (50, 30), (120, 80, 40)).save(buf, "JPEG", exif=exif.tobytes())
    scaled = decode_image_scaled(buf.getvalue())
    assert scaled.array.shape == (50, 30, 3)
    assert (scaled.width, scaled.height, scaled.scale) == (30, 50, 1.0)
    scaled = decode_image_scaled(buf.getvalue(), ImageLimits(max_side=25))
    assert scaled.array.shape[:2] == (25, 15)
    assert (scaled.width, scaled.height, scaled.scale) == (30, 50, 2.0)


# ---- over HTTP and the CLI ------------------------------------------------------------------


@pytest.fixture()
def api(service: Facegate) -> Iterator[tuple[str, dict[str, str]]]:
    admin = Actor("test-admin", "admin")
    keys = {role: service.keys.create(admin, f"k-{role}", role)["key"]
            for role in ("officer", "operator")}
    for base in running(create_app(service)):
        yield base, keys


def test_refusals_over_http(api: tuple[str, dict[str, str]]) -> None:
    base, keys = api
    off, op = {"X-API-Key": keys["officer"]}, {"X-API-Key": keys["operator"]}
    with httpx.Client(base_url=base, timeout=120) as c:
        dep = c.post("/v1/deployments", json=office_manifest(mode="identify"),
                     headers=off).json()["id"]
        c.post(f"/v1/deployments/{dep}/assessments", json=ASSESSMENT, headers=off)
        sid = c.post("/v1/subjects", json={"ref": "E-1"}, headers=off).json()["id"]
        c.post("/v1/consents", json={"subject": sid, "deployment": dep,
                                     "purpose": "access_control"}, headers=off)
        form = {"subject": sid, "deployment": dep}
        r = c.post("/v1/enrol", data=form, headers=op,
                   files=[("images", ("a.jpg", photo(JOLIE[0]), "image/jpeg"))])
        assert r.status_code == 201 and r.json()["possible_duplicates"] == []
        r = c.post("/v1/enrol", data=form, headers=op,
                   files=[("images", ("b.jpg", photo(ID02[0]), "image/jpeg"))])
        assert r.status_code == 409 and r.json()["error"] == "identity_mismatch"
        assert r.json()["subject"] == sid and r.json()["score"] < r.json()["threshold"]
        group = side_by_side(*SIDE_BY_SIDE, 2.4)
        r = c.post("/v1/verify", data=form, headers=op,
                   files={"image": ("g.jpg", group, "image/jpeg")})
        assert r.status_code == 422 and r.json()["error"] == "several_faces"
        r = c.post("/v1/identify", data={"deployment": dep}, headers=op,
                   files={"image": ("g.jpg", group, "image/jpeg")})
        assert r.status_code == 200 and len(r.json()["faces"]) == 2
        assert r.json()["faces"][0]["candidates"] == r.json()["candidates"]


def test_cli_prints_each_face(service: Facegate, door: str, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    from facegate.cli.common import STATE
    from facegate.cli.main import main

    jolie = enrolled(service, door, "staff-001", JOLIE[:2])
    if service.settings.database_url:
        monkeypatch.setenv("FACEGATE_DATABASE_URL", service.settings.database_url)
    group = tmp_path / "group.jpg"
    group.write_bytes(side_by_side(*SIDE_BY_SIDE, 2.4))
    try:
        with pytest.raises(SystemExit) as done:
            main(["--data", str(service.settings.data_dir), "identify", "--deployment", door,
                  str(group)])
        assert done.value.code in (0, None)
    finally:
        if STATE._service is not None:
            STATE._service.close()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("face 1 at ") and lines[1].split()[0] == jolie
    assert lines[2].startswith("face 2 at ") and "no candidate" in lines[3]
