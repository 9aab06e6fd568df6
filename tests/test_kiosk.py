"""The kiosk in a real browser: Debian's Chromium with a fake camera fed from a real photo
(``tests/fake_camera.py``), against a real uvicorn server, the real store and the real engine.

The three paths of a person at the door, each checked in the page and in the audit trail:
face then verified; face then not matched then the alternative; the alternative at once, after
which no camera starts and face is not offered again in that transaction. axe-core checks every
state. ``FACEGATE_SCREENSHOTS=docs pytest tests/test_kiosk.py`` also saves the screenshots
shown in the README."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.browser import ARGS, CHROMIUM, needs_chromium
from tests.conftest import ID02, JOLIE, OFFICER, OPERATOR, assessed, office_manifest, photo, running
from tests.fake_camera import camera_args, y4m_from_photo

from facegate.api.app import create_app
from facegate.engine import Engine
from facegate.errors import Refused
from facegate.service import Actor, Facegate, Settings

pytestmark = needs_chromium

DEVICE = {"id": "door-3-tablet", "capture_area": "In front of the floor-3 door",
          "security_tested_on": "2026-06-01"}
AUDITOR = Actor("kiosk-auditor", "auditor")
# Counts the camera starts the page asks for (the test's own probe, not the product's).
COUNT_CAMERA = """
window.__cameraStarts = 0;
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => { window.__cameraStarts += 1; return real(c); };
}
"""


@dataclass
class Kiosk:
    base: str
    service: Facegate
    dep: str
    key: str
    data_dir: Path

    @property
    def url(self) -> str:
        return f"{self.base}/kiosk/{self.dep}"

    def trail(self, transaction: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The audit records of one kiosk transaction: operation, decision, detail."""
        recs = self.service.audit.page(AUDITOR, 500, deployment=self.dep)
        return [(r["operation"], r["decision"], r.get("detail") or {}) for r in reversed(recs)
                if (r.get("detail") or {}).get("transaction") == transaction]


def enrolled(service: Facegate, dep: str, ref: str, image: bytes) -> str:
    sid = str(service.subjects.add(OFFICER, ref)["id"])
    service.consents.grant(OFFICER, sid, dep, "access_control")
    service.matching.enrol(OPERATOR, sid, dep, [image])
    return sid


@pytest.fixture()
def kiosk(data_dir: Path, engine: Engine) -> Iterator[Kiosk]:
    settings = Settings(data_dir=data_dir)
    Facegate.initialise(settings)
    service = Facegate(settings, engine)
    dep = assessed(service, office_manifest(devices=[DEVICE]))
    enrolled(service, dep, "E-1001", photo(JOLIE[0]))
    enrolled(service, dep, "E-2002", photo(ID02[0]))
    key = str(service.keys.create(OFFICER, "door-3-tablet", "device", deployment=dep,
                                  device=DEVICE["id"])["key"])
    for base in running(create_app(service, housekeeping_every_s=0)):
        yield Kiosk(base, service, dep, key, data_dir)
    service.close()


@pytest.fixture(scope="module")
def camera(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[str]]]:
    """Playwright, and Chromium's flags for a camera that shows a photo of the person enrolled
    as E-1001 (another photo than the one enrolled)."""
    from playwright.sync_api import sync_playwright

    video = y4m_from_photo(photo(JOLIE[1]), tmp_path_factory.mktemp("camera") / "jolie.y4m")
    with sync_playwright() as p:
        yield p, [*ARGS, *camera_args(video)]


@pytest.fixture(scope="module")
def browser(camera: tuple[Any, list[str]]) -> Iterator[Any]:
    p, args = camera
    b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
    try:
        yield b
    finally:
        b.close()


def axe_serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [f"{v['id']}: {v['help']} ({[n['target'] for n in v['nodes']][:3]})"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


class Screens:
    """Axe on every state seen, and the screenshots when asked for."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}
        self.folder = os.environ.get("FACEGATE_SCREENSHOTS")

    def state(self, page: Any, name: str) -> None:
        page.evaluate("() => document.fonts.ready.then(() => true)")
        found = axe_serious(page)
        if found:
            self.problems[name] = found
        if self.folder:
            # the camera's picture is masked: the docs show the page, not a face
            page.screenshot(path=str(Path(self.folder) / f"kiosk-{name}.png"),
                            mask=[page.locator("video")])


def signed_in(browser: Any, k: Kiosk) -> tuple[Any, Any]:
    ctx = browser.new_context(locale="zh-CN", viewport={"width": 900, "height": 1100})
    ctx.add_init_script(COUNT_CAMERA)
    page = ctx.new_page()
    page.goto(k.url)
    page.fill("#api_key", k.key)
    page.click("button[type=submit]")
    page.wait_for_selector("#s-notice:not([hidden])")
    return ctx, page


def state(page: Any) -> str:
    return str(page.get_attribute("#kiosk", "data-state"))


def capture(page: Any) -> None:
    page.wait_for_selector("#s-camera:not([hidden])")
    page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
    page.click("#capture")
    page.wait_for_selector("#s-result:not([hidden])", timeout=120_000)


def frame_gone(page: Any) -> None:
    """Nothing of the frame is left in the page: no camera, no canvas, no image of it."""
    assert page.evaluate("document.getElementById('preview').srcObject") is None
    assert page.evaluate("document.querySelectorAll('canvas, img').length") == 0


def test_face_then_verified(kiosk: Kiosk, browser: Any) -> None:
    screens = Screens()
    ctx, page = signed_in(browser, kiosk)
    cookie = next(c for c in ctx.cookies() if c["name"] == "fg_kiosk")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    tx = page.get_attribute("#kiosk", "data-transaction")
    notice = page.inner_text("#s-notice")
    for said in ("Example Trading Co., Ltd.", "365", "No image of your face is kept",
                 "不保存任何人脸图像", "privacy@example.com", "Badge at the guard desk"):
        assert said in notice, said
    assert "127.0.0.1" not in notice  # no address a person could not reach
    assert page.evaluate("window.__cameraStarts") == 0  # no camera before the choice
    screens.state(page, "notice")

    page.click("#choose-face")
    page.wait_for_selector("#s-claim:not([hidden])")
    screens.state(page, "claim")
    page.fill("#claim", "E-1001")
    page.keyboard.press("Enter")
    page.wait_for_selector("#s-camera:not([hidden])")
    page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
    screens.state(page, "camera")
    capture(page)
    assert page.is_visible("[data-outcome=matched]"), page.inner_text("#s-result")
    assert "Verified" in page.inner_text("#s-result")
    assert page.is_visible("#s-result .to-alt")  # the alternative still one tap away
    frame_gone(page)
    assert page.evaluate("window.__cameraStarts") == 1
    screens.state(page, "verified")

    steps = kiosk.trail(str(tx))
    assert [(op, d) for op, d, _ in steps] == [
        ("kiosk.notice", "allowed"), ("kiosk.choice", "allowed"), ("verify", "allowed")]
    assert steps[2][2]["match"] is True and steps[2][2]["device"] == "door-3-tablet"
    assert not screens.problems, screens.problems
    ctx.close()


def test_face_not_matched_then_the_alternative(kiosk: Kiosk, browser: Any) -> None:
    screens = Screens()
    ctx, page = signed_in(browser, kiosk)
    tx = page.get_attribute("#kiosk", "data-transaction")
    page.click("#choose-face")
    page.fill("#claim", "E-2002")  # someone else's badge: the camera shows E-1001
    page.click("#claim-form button[type=submit]")
    capture(page)
    assert page.is_visible("[data-outcome=not_matched]"), page.inner_text("#s-result")
    assert page.is_visible("#retry")
    frame_gone(page)
    screens.state(page, "not-matched")

    page.click("#s-result .to-alt")
    page.wait_for_selector("#s-alternative:not([hidden])")
    text = page.inner_text("#s-alternative")
    assert "Show the staff badge at the guard desk" in text
    assert "No face recognition is used for this visit" in text
    assert not page.is_visible("#choose-face") and not page.is_visible("#retry")
    screens.state(page, "alternative")

    steps = kiosk.trail(str(tx))
    assert [(op, d) for op, d, _ in steps] == [
        ("kiosk.notice", "allowed"), ("kiosk.choice", "allowed"), ("verify", "allowed"),
        ("decline", "allowed")]
    assert steps[2][2]["match"] is False
    assert not screens.problems, screens.problems
    ctx.close()


def test_alternative_at_once_never_starts_the_camera(kiosk: Kiosk, browser: Any) -> None:
    screens = Screens()
    ctx, page = signed_in(browser, kiosk)
    tx = page.get_attribute("#kiosk", "data-transaction")
    page.focus("#choose-alt")  # by keyboard
    page.keyboard.press("Enter")
    page.wait_for_selector("#s-alternative:not([hidden])")
    assert page.evaluate("window.__cameraStarts") == 0
    assert page.evaluate("document.activeElement.id") == "h-alternative"
    for selector in ("#choose-face", "#s-claim", "#s-camera", "#capture", "#retry"):
        assert not page.is_visible(selector), selector
    # No re-prompt in this transaction: the server refuses face for it too.
    csrf = page.get_attribute("#kiosk", "data-csrf")
    answer = page.evaluate(
        """([tx, csrf]) => fetch(location.pathname + '/choice', {method: 'POST',
             headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf},
             body: JSON.stringify({transaction: tx})})
           .then(r => r.json().then(b => [r.status, b.rules]))""", [tx, csrf])
    assert answer == [403, ["coercion.prohibited"]]
    matched = page.evaluate(
        """([tx, csrf]) => { const f = new FormData();
             f.append('image', new Blob(['not a frame'], {type: 'image/jpeg'}), 'f.jpg');
             f.append('transaction', tx); f.append('claim', 'E-1001');
             return fetch(location.pathname + '/match', {method: 'POST', body: f,
               headers: {'X-CSRF-Token': csrf}}).then(r => r.json().then(b => [r.status, b.rules]));
           }""", [tx, csrf])
    assert matched == [403, ["coercion.prohibited"]]
    assert page.evaluate("window.__cameraStarts") == 0

    steps = kiosk.trail(str(tx))
    assert [(op, d) for op, d, _ in steps] == [
        ("kiosk.notice", "allowed"), ("decline", "allowed"), ("kiosk", "refused"),
        ("kiosk", "refused")]
    assert not screens.problems, screens.problems
    ctx.close()


def test_large_text_and_sign_in_pass_axe(kiosk: Kiosk, browser: Any) -> None:
    screens = Screens()
    ctx = browser.new_context(locale="en-GB", viewport={"width": 900, "height": 1100})
    page = ctx.new_page()
    page.goto(kiosk.url)
    screens.state(page, "sign-in")
    page.fill("#api_key", "fg_not_a_key")
    page.click("button[type=submit]")
    assert "not valid" in page.inner_text("#sign-in-error")
    page.fill("#api_key", kiosk.key)
    page.click("button[type=submit]")
    page.wait_for_selector("#s-notice:not([hidden])")
    before = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.click("#large-text")
    after = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert after >= before * 1.3
    assert page.get_attribute("#large-text", "aria-pressed") == "true"
    screens.state(page, "large-text")
    assert not screens.problems, screens.problems
    ctx.close()


def test_no_image_is_kept_by_page_cache_or_server(kiosk: Kiosk) -> None:
    """The headers say so, and the data directory holds no JPEG after a match."""
    with httpx.Client(base_url=kiosk.base, timeout=120) as c:
        r = c.get(f"/kiosk/{kiosk.dep}")
        csp = r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
        assert "img-src 'self';" in csp and "data:" not in csp and "blob:" not in csp
        assert "worker-src 'none'" in csp and "connect-src 'self'" in csp
        assert "camera=(self)" in r.headers["permissions-policy"]
        token = r.cookies.get("fg_login_csrf")
        r = c.post(f"/kiosk/{kiosk.dep}/login", data={"api_key": kiosk.key, "csrf": token})
        assert r.status_code == 303
        r = c.get(f"/kiosk/{kiosk.dep}")
        html = r.text
        tx = html.split('data-transaction="')[1].split('"')[0]
        csrf = html.split('data-csrf="')[1].split('"')[0]
        head = {"X-CSRF-Token": csrf}
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
    who = Actor("key:door-3-tablet", "device", dep, DEVICE["id"])
    tx = service.kiosk.start(who, dep)["transaction"]
    service.kiosk.choose_face(who, dep, tx)
    out = service.kiosk.match(who, dep, photo(JOLIE[1]), tx, claim="NOBODY-99")
    assert out["outcome"] == "not_matched"
    steps = kiosk.trail(tx)
    assert steps[-1][:2] == ("verify", "refused") and steps[-1][2]["claim"] == "unknown"


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
        token = c.get(f"/kiosk/{kiosk.dep}").cookies.get("fg_login_csrf")
        c.post(f"/kiosk/{kiosk.dep}/login", data={"api_key": kiosk.key, "csrf": token})
        assert 'id="kiosk"' in c.get(f"/kiosk/{kiosk.dep}").text
        key_id = next(k["id"] for k in kiosk.service.keys.all(OFFICER) if k["role"] == "device")
        kiosk.service.keys.revoke(OFFICER, key_id)
        r = c.get(f"/kiosk/{kiosk.dep}")
        assert 'id="kiosk"' not in r.text and 'id="api_key"' in r.text


def test_identify_at_a_major_interest_counter_tells_staff_will_confirm(
        kiosk: Kiosk, browser: Any) -> None:
    """1:N asks for no claim; at a major-interest deployment a match approves nothing."""
    service = kiosk.service
    dep = assessed(service, office_manifest(
        id="benefits-counter", mode="identify", transactions=["social_assistance"],
        devices=[DEVICE]))
    enrolled(service, dep, "E-3003", photo(JOLIE[0]))
    key = str(service.keys.create(OFFICER, "counter", "device", deployment=dep,
                                  device=DEVICE["id"])["key"])
    counter = Kiosk(kiosk.base, service, dep, key, kiosk.data_dir)
    screens = Screens()
    ctx, page = signed_in(browser, counter)
    assert "staff will confirm your identity" in page.inner_text("#n-staff")
    tx = page.get_attribute("#kiosk", "data-transaction")
    page.click("#choose-face")
    capture(page)  # straight to the camera: no claim at 1:N
    assert page.is_visible("[data-outcome=staff]"), page.inner_text("#s-result")
    assert "Staff will confirm your identity" in page.inner_text("#s-result")
    screens.state(page, "staff-confirm")
    steps = counter.trail(str(tx))
    assert [op for op, _, _ in steps] == ["kiosk.notice", "kiosk.choice", "identify"]
    assert steps[2][2]["candidates"]  # the trail knows who; the screen does not
    assert not screens.problems, screens.problems
    ctx.close()


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
    import time

    from facegate.web.kiosk import ANSWER_FLOOR_S

    with httpx.Client(base_url=kiosk.base, timeout=120) as c:
        token = c.get(f"/kiosk/{kiosk.dep}").cookies.get("fg_login_csrf")
        c.post(f"/kiosk/{kiosk.dep}/login", data={"api_key": kiosk.key, "csrf": token})
        html = c.get(f"/kiosk/{kiosk.dep}").text
        tx = html.split('data-transaction="')[1].split('"')[0]
        head = {"X-CSRF-Token": html.split('data-csrf="')[1].split('"')[0]}
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
        token = c.get(f"/kiosk/{kiosk.dep}").cookies.get("fg_login_csrf")
        c.post(f"/kiosk/{kiosk.dep}/login", data={"api_key": kiosk.key, "csrf": token})
        service.deployments.terminate(OFFICER, kiosk.dep)
        r = c.get(f"/kiosk/{kiosk.dep}")
        assert r.status_code == 403 and 'id="kiosk-error"' in r.text
        assert "purpose.bound" in r.text and 'id="choose-face"' not in r.text


def test_the_browser_profile_keeps_no_image(kiosk: Kiosk, camera: tuple[Any, list[str]],
                                            tmp_path: Path) -> None:
    """A real profile on disk (cache included) after a verification holds no JPEG."""
    p, args = camera
    profile = tmp_path / "profile"
    ctx = p.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM,
                                               headless=True, args=args)
    try:
        page = ctx.new_page()
        page.goto(kiosk.url)
        page.fill("#api_key", kiosk.key)
        page.click("button[type=submit]")
        page.click("#choose-face")
        page.fill("#claim", "E-1001")
        page.keyboard.press("Enter")
        capture(page)
        assert page.is_visible("[data-outcome=matched]")
        page.goto(kiosk.url)  # the next person
    finally:
        ctx.close()
    files = [f for f in profile.rglob("*") if f.is_file()]
    # the scan sees the browser's cache: the page's own script is in it, the frame is not
    assert [f for f in files if b"one transaction per person" in f.read_bytes()]
    assert not [f for f in files if b"\xff\xd8\xff" in f.read_bytes()]


def test_the_page_sets_no_timer() -> None:
    """No time limit pushes a person into a choice (notice.accessible)."""
    from importlib import resources

    script = resources.files("facegate.web").joinpath("static/kiosk.js").read_text()
    for timer in ("setTimeout", "setInterval", "requestAnimationFrame"):
        assert timer not in script


def test_a_key_revoked_mid_visit_ends_the_face_path_clearly(kiosk: Kiosk,
                                                             browser: Any) -> None:
    screens = Screens()
    ctx, page = signed_in(browser, kiosk)
    page.click("#choose-face")
    page.fill("#claim", "E-1001")
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('preview').videoWidth > 0")
    key_id = next(k["id"] for k in kiosk.service.keys.all(OFFICER) if k["role"] == "device")
    kiosk.service.keys.revoke(OFFICER, key_id)
    page.click("#capture")
    page.wait_for_selector("#s-result:not([hidden])", timeout=120_000)
    assert page.is_visible("[data-outcome=error]")
    assert "signed out" in page.inner_text("#error-en")
    assert not page.is_visible("#retry") and page.is_visible("#s-result .to-alt")
    frame_gone(page)
    screens.state(page, "error")
    assert not screens.problems, screens.problems
    ctx.close()


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
