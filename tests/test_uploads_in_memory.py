"""Images never touch the disk (``images.no-retention``): uploads are read into memory with the
request's byte limit enforced while reading, never spooled to a temporary file; an oversized
body is refused (413) before it is parsed; one request holds at most ``max_images`` images and
``max_request_pixels`` pixels. Watched from inside the serving process: its open files and the
temporary directory, while a large upload is being handled."""

from __future__ import annotations

import io
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from tests.conftest import JOLIE, OFFICER, assessed, office_manifest, photo, running

from facegate.api.app import create_app
from facegate.service import Actor, Facegate


class Watcher:
    """Polls this process's open files and a folder; records anything under the folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = str(folder)
        self.seen: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for fd in os.listdir("/proc/self/fd"):
                try:
                    target = os.readlink(f"/proc/self/fd/{fd}")
                except OSError:
                    continue
                if target.startswith(self.folder):
                    self.seen.add(target)
            self.seen.update(os.listdir(self.folder))
            time.sleep(0.0005)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture()
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory every spooled file of this process would go to."""
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture()
def api(service: Facegate) -> Iterator[tuple[str, dict[str, str], str, str]]:
    admin = Actor("admin", "admin")
    op = {"X-API-Key": service.keys.create(admin, "op", "operator")["key"]}
    door = assessed(service, office_manifest())
    sid = service.subjects.add(OFFICER, "E-1")["id"]
    service.consents.grant(OFFICER, sid, door, "access_control")
    for base in running(create_app(service, housekeeping_every_s=0)):
        yield base, op, door, sid


def large_jpeg() -> bytes:
    """A real face photo enlarged, with noise so it stays large: about 8 MB."""
    face = Image.open(io.BytesIO(photo(JOLIE[0]))).convert("RGB").resize((4000, 3000))
    noisy = np.asarray(face).astype(np.int16)
    noisy += np.random.default_rng(0).integers(-12, 13, noisy.shape, dtype=np.int16)
    out = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=97)
    assert 5_000_000 < out.tell() < 10_000_000
    return out.getvalue()


def test_a_large_upload_never_reaches_a_file(api: tuple[str, dict[str, str], str, str],
                                             spool: Path) -> None:
    base, op, door, sid = api
    data = large_jpeg()
    with Watcher(spool) as watch:
        r = httpx.post(base + "/v1/enrol", data={"subject": sid, "deployment": door},
                       files={"images": ("big.jpg", data, "image/jpeg")}, headers=op,
                       timeout=120)
    assert r.status_code == 201, r.text
    assert watch.seen == set()  # nothing was spooled: no file was ever opened there


def test_an_oversized_body_is_refused_before_it_is_parsed(
        api: tuple[str, dict[str, str], str, str], spool: Path) -> None:
    base, op, door, sid = api
    blob = os.urandom(40 * 1024 * 1024)
    with Watcher(spool) as watch:
        r = httpx.post(base + "/v1/verify", data={"subject": sid, "deployment": door},
                       files={"image": ("huge.jpg", blob, "image/jpeg")}, headers=op,
                       timeout=120)
    assert r.status_code == 413 and r.json()["rules"] == ["images.no-retention"]
    assert watch.seen == set()
    # the service still answers, on a new connection
    assert httpx.get(base + "/v1/whoami", headers=op).status_code == 200


def test_images_and_pixels_per_request_are_capped(
        api: tuple[str, dict[str, str], str, str]) -> None:
    base, op, door, sid = api
    one = photo(JOLIE[0])
    r = httpx.post(base + "/v1/enrol", data={"subject": sid, "deployment": door},
                   files=[("images", (f"{i}.jpg", one, "image/jpeg")) for i in range(11)],
                   headers=op, timeout=120)
    assert r.status_code == 422 and "at most 10 images" in r.json()["message"]
    flat = io.BytesIO()
    Image.new("RGB", (6000, 6000), (128, 120, 110)).save(flat, "PNG")  # 36 MP, small file
    r = httpx.post(base + "/v1/enrol", data={"subject": sid, "deployment": door},
                   files=[("images", (f"{i}.png", flat.getvalue(), "image/png"))
                          for i in range(3)], headers=op, timeout=120)
    assert r.status_code == 413 and "pixels" in r.json()["message"]
