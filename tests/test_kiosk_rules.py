"""The kiosk's rules over HTTP and in the service: what the headers promise, who may use a
device key where, what an unknown claim or a declined transaction is told, and where the kiosk
refuses to start. The browser paths are in ``test_kiosk.py``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tests.conftest import JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo
from tests.kiosk_site import DEVICE, Kiosk, as_device, kiosk_site, signed_in_client

from facegate.engine import Engine
from facegate.errors import Refused
from facegate.service import Actor, Facegate, Settings
from facegate.web.kiosk import ANSWER_FLOOR_S


@pytest.fixture()
def kiosk(data_dir: Path, engine: Engine) -> Iterator[Kiosk]:
    with kiosk_site(data_dir, engine) as k:
        yield k


def test_no_image_is_kept_by_page_cache_or_server(kiosk: Kiosk) -> None:
    """The headers say so, and the data directory holds no JPEG after a match."""
    with httpx.Client(base_url=kiosk.base, timeout=120) as c:
        r = c.get(f"/kiosk/{kiosk.dep}")
        csp = r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        assert "img-src 'self';" in csp and "data:" not in csp and "blob:" not in csp
        assert "worker-src 'none'" in csp and "connect-src 'self'" in csp
        assert "camera=(self)" in r.headers["permissions-policy"]
        tx, head = signed_in_client(c, kiosk)
        assert c.post(f"/kiosk/{kiosk.dep}/choice", json={"transaction": tx},
                      headers=head).status_code == 200
        r = c.post(f"/kiosk/{kiosk.dep}/match", data={"transaction": tx, "claim": "E-1001"},
                   files=[("image", ("f.jpg", photo(JOLIE[1]), "image/jpeg"))], headers=head)
        assert r.status_code == 200 and r.json()["outcome"] == "matched", r.text
        assert r.headers["cache-control"] == "no-store"
        assert set(r.json()) == {"transaction", "outcome", "staff_confirm"}  # never who
        # without the page's token, nothing is done
        assert c.post(f"/kiosk/{kiosk.dep}/choice",
                      json={"transaction": tx}).status_code == 403
    jpegs = [p for p in kiosk.data_dir.rglob("*") if p.is_file()
             and b"\xff\xd8\xff" in p.read_bytes()]
    assert not jpegs


def test_unknown_claim_is_told_as_not_matched(kiosk: Kiosk) -> None:
    service, dep = kiosk.service, kiosk.dep
    who = as_device(kiosk)
    tx = service.kiosk.start(who, dep)["transaction"]
    service.kiosk.choose_face(who, dep, tx)
    out = service.kiosk.match(who, dep, photo(JOLIE[1]), tx, claim="NOBODY-99")
    assert out["outcome"] == "not_matched"
    steps = kiosk.trail(tx)
    assert steps[-1][:2] == ("verify", "refused") and steps[-1][2]["claim"] == "unknown"


def test_a_claim_with_no_template_here_is_not_matched_and_in_the_trail(kiosk: Kiosk) -> None:
    service, dep = kiosk.service, kiosk.dep
    sid = str(service.subjects.add(OFFICER, "E-3003")["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")  # consented, never enrolled
    who = as_device(kiosk)
    tx = service.kiosk.start(who, dep)["transaction"]
    service.kiosk.choose_face(who, dep, tx)
    assert service.kiosk.match(who, dep, photo(JOLIE[1]), tx, claim="E-3003")["outcome"] == \
        "not_matched"
    op, decision, detail = kiosk.trail(tx)[-1]
    assert (op, decision, detail["error"]) == ("verify", "error", "not_found")


def test_a_device_key_works_only_at_its_own_kiosk(kiosk: Kiosk) -> None:
    other = assessed(kiosk.service, office_manifest(id="other-door", devices=[DEVICE]))
    with httpx.Client(base_url=kiosk.base, timeout=60) as c:
        r = c.get(f"/kiosk/{other}")
        token = r.cookies.get("fg_login_csrf")
        r = c.post(f"/kiosk/{other}/login", data={"api_key": kiosk.key, "csrf": token})
        assert r.status_code == 403 and "not a device key of this deployment" in r.text
    officer_key = kiosk.service.keys.create(OFFICER, "k-op", "operator")["key"]
    with httpx.Client(base_url=kiosk.base, timeout=60) as c:
        token = c.get(f"/kiosk/{kiosk.dep}").cookies.get("fg_login_csrf")
        r = c.post(f"/kiosk/{kiosk.dep}/login", data={"api_key": officer_key, "csrf": token})
        assert r.status_code == 403


def test_revoking_the_key_stops_the_kiosk(kiosk: Kiosk) -> None:
    with httpx.Client(base_url=kiosk.base, timeout=60) as c:
        signed_in_client(c, kiosk)
        assert 'id="kiosk"' in c.get(f"/kiosk/{kiosk.dep}").text
        key_id = next(k["id"] for k in kiosk.service.keys.all(OFFICER) if k["role"] == "device")
        kiosk.service.keys.revoke(OFFICER, key_id)
        r = c.get(f"/kiosk/{kiosk.dep}")
        assert 'id="kiosk"' not in r.text and 'id="api_key"' in r.text


def test_the_withdrawal_address_is_shown_where_people_can_reach_it(
        data_dir: Path, engine: Engine) -> None:
    settings = Settings(data_dir=data_dir, public_url="https://door.example.com")
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    dep = assessed(service, office_manifest(devices=[DEVICE]))
    who = Actor("key:t", "device", dep, DEVICE["id"])
    assert service.kiosk.start(who, dep)["rights_url"] == \
        "https://door.example.com/rights/hq-office-door"
    service.close()


def test_a_kiosk_request_is_its_device_key_s_last_activity(kiosk: Kiosk) -> None:
    service = kiosk.service
    made = service.keys.create(OFFICER, "spare", "device", deployment=kiosk.dep,
                               device=DEVICE["id"])
    listed = {k["id"]: k for k in service.keys.all(OFFICER)}
    assert listed[made["id"]]["last_used_at"] is None
    assert service.keys.active(made["id"])  # what every kiosk request asks
    listed = {k["id"]: k for k in service.keys.all(OFFICER)}
    assert listed[made["id"]]["last_used_at"] is not None


def test_an_unknown_claim_is_answered_no_faster(kiosk: Kiosk) -> None:
    """The answer's time does not tell whether a reference exists (a floor on every answer)."""
    with httpx.Client(base_url=kiosk.base, timeout=120) as c:
        tx, head = signed_in_client(c, kiosk)
        c.post(f"/kiosk/{kiosk.dep}/choice", json={"transaction": tx}, headers=head)
        start = time.monotonic()
        r = c.post(f"/kiosk/{kiosk.dep}/match", data={"transaction": tx, "claim": "NOBODY"},
                   files=[("image", ("f.jpg", photo(JOLIE[1]), "image/jpeg"))], headers=head)
        assert r.json()["outcome"] == "not_matched"
        assert time.monotonic() - start >= ANSWER_FLOOR_S


def test_an_ended_or_unassessed_deployment_s_kiosk_says_so(kiosk: Kiosk) -> None:
    service = kiosk.service
    new = str(service.deployments.apply(OFFICER, office_manifest(
        id="new-door", devices=[DEVICE]))["id"])  # no impact assessment yet
    who = Actor("key:t", "device", new, DEVICE["id"])
    with pytest.raises(Refused) as refused:
        service.kiosk.start(who, new)
    assert "pia.before-use" in refused.value.rules
    with httpx.Client(base_url=kiosk.base, timeout=60) as c:
        signed_in_client(c, kiosk)
        service.deployments.terminate(OFFICER, kiosk.dep)
        r = c.get(f"/kiosk/{kiosk.dep}")
        assert r.status_code == 403 and 'id="kiosk-error"' in r.text
        assert "purpose.bound" in r.text and 'id="choose-face"' not in r.text


def test_at_a_listed_venue_only_a_recorded_choice_opens_the_face_path(kiosk: Kiosk) -> None:
    """A hotel's check-in (coercion.prohibited): the gate sees choice=face only where the
    person chose it in this transaction, not because the kiosk says so."""
    service = kiosk.service
    dep = assessed(service, office_manifest(
        id="hotel-desk", purpose="identity_verification",
        location={**office_manifest()["location"], "venue": "hotel", "type": "reception"},
        devices=[DEVICE]))
    enrolled_at = str(service.subjects.add(OFFICER, "G-1")["id"])
    service.consents.grant(OFFICER, enrolled_at, dep, "identity_verification")
    service.matching.enrol(OPERATOR, enrolled_at, dep, [photo(JOLIE[0])])
    who = Actor("key:desk", "device", dep, DEVICE["id"])
    tx = service.kiosk.start(who, dep)["transaction"]
    with pytest.raises(Refused) as skipped:  # straight to the camera, no choice recorded
        service.kiosk.match(who, dep, photo(JOLIE[1]), tx, claim="G-1")
    assert skipped.value.rules == ["coercion.prohibited"]
    service.kiosk.choose_face(who, dep, tx)
    assert service.kiosk.match(who, dep, photo(JOLIE[1]), tx, claim="G-1")["outcome"] == \
        "matched"

