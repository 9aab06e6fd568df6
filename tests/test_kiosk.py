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
from pathlib import Path
from typing import Any

import pytest
from tests.browser import ARGS, CHROMIUM, needs_chromium
from tests.conftest import JOLIE, OFFICER, assessed, office_manifest, photo
from tests.fake_camera import camera_args, y4m_from_photo
from tests.kiosk_site import DEVICE, Kiosk, enrolled, kiosk_site

from facegate.engine import Engine

pytestmark = needs_chromium

# Counts the camera starts the page asks for (the test's own probe, not the product's).
COUNT_CAMERA = """
window.__cameraStarts = 0;
if (navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  const real = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => { window.__cameraStarts += 1; return real(c); };
}
"""


@pytest.fixture()
def kiosk(data_dir: Path, engine: Engine) -> Iterator[Kiosk]:
    with kiosk_site(data_dir, engine) as k:
        yield k


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
    # equal prominence: the same size, colours and weight for both choices
    look = """(id) => { const e = document.getElementById(id), c = getComputedStyle(e),
                 b = e.getBoundingClientRect();
                 return [Math.round(b.width), Math.round(b.height), c.backgroundColor, c.color,
                         c.fontSize, c.fontWeight]; }"""
    assert page.evaluate(look, "choose-face") == page.evaluate(look, "choose-alt")
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
