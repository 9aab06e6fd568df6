"""Screenshots for the README: the console's dashboard and a public notice page, taken in
Debian's Chromium from a demo installation (the example deployments, a few people enrolled
from ../shared/data, some refusals and a withdrawal).

    .venv/bin/python scripts/screenshots.py      # writes docs/console-dashboard.png and
                                                 # docs/public-notice.png
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import socket
import tempfile
import threading
import time
from pathlib import Path

import httpx
import uvicorn
import yaml

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "deepface"
DOCS = ROOT / "docs"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def main() -> None:
    os.environ.setdefault("FACEGATE_MASTER_KEY", base64.b64encode(os.urandom(32)).decode())
    from playwright.sync_api import sync_playwright

    from facegate.api.app import create_app
    from facegate.errors import FacegateError
    from facegate.service import Actor, Facegate, Settings

    admin, officer = Actor("demo", "admin"), Actor("demo-officer", "officer")
    operator = Actor("demo-operator", "operator")
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", public_url="https://facegate.example")
        Facegate.initialise(settings)
        svc = Facegate(settings)
        key = svc.keys.create(admin, "officer-console", "officer")["key"]
        for name in ("office-door", "public-square", "social-assistance"):
            dep = svc.deployments.apply(officer, load(ROOT / "examples" / name /
                                                     "deployment.yaml"))["id"]
            svc.assessments.record(officer, dep, load(ROOT / "examples" / name /
                                                     "assessment.yaml"))
        svc.deployments.apply(officer, load(ROOT / "examples" / "school-gate" /
                                           "deployment.yaml"))  # no assessment: blocked
        people = [("E-1001", "id01_angelina_jolie/img1.jpg"), ("E-1002", "id02/img3.jpg"),
                  ("E-1003", "id03/img8.jpg")]
        sids = []
        for ref, img in people:
            sid = svc.subjects.add(officer, ref)["id"]
            svc.consents.grant(officer, sid, "hq-office-door", "access_control")
            svc.matching.enrol(operator, sid, "hq-office-door", [(PHOTOS / img).read_bytes()])
            sids.append(sid)
        for attempt in (lambda: svc.matching.detect(operator, (PHOTOS / people[0][1]).read_bytes(),
                                           ["ethnicity"]),
                        lambda: svc.matching.identify(operator, "hq-office-door",
                                             (PHOTOS / people[1][1]).read_bytes()),
                        lambda: svc.deployments.apply(officer, {
                            **load(ROOT / "examples" / "office-door" / "deployment.yaml"),
                            "id": "changing-room", "location": {"type": "changing_room"}})):
            with contextlib.suppress(FacegateError):
                attempt()
        svc.consents.withdraw(officer, sids[2])

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(svc, housekeeping_every_s=0),
                                               host="127.0.0.1", port=port, log_level="error"))
        threading.Thread(target=server.run, daemon=True).start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(base + "/notice/hq-office-door").status_code == 200
        DOCS.mkdir(exist_ok=True)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                        args=ARGS)
            page = browser.new_page(locale="en-GB", viewport={"width": 1200, "height": 900})
            page.goto(base + "/console/login")
            page.fill("#api_key", key)
            page.click("button[type=submit] >> text=Sign in")
            assert re.search(r"/console$", page.url), page.url
            page.screenshot(path=str(DOCS / "console-dashboard.png"), full_page=True)
            public = browser.new_page(locale="zh-CN", viewport={"width": 900, "height": 900})
            public.goto(base + "/notice/hq-office-door")
            public.screenshot(path=str(DOCS / "public-notice.png"), full_page=True)
            browser.close()
        server.should_exit = True
        svc.close()
    for name in ("console-dashboard.png", "public-notice.png"):
        print(DOCS / name, (DOCS / name).stat().st_size)


if __name__ == "__main__":
    main()
