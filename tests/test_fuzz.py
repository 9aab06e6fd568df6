"""No image crashes or poisons the service: hostile inputs give faces or a refusal with a code.

The cases come from ``bench/fuzz_cases.py`` (``bench/fuzz.py`` runs thousands of them). Every
case that reaches the engine runs in another process, so a crash there fails the test instead
of ending the run: a worker (``bench.fuzz.Isolated``), a ``python -c`` subprocess, or the API
served by a subprocess.
"""

from __future__ import annotations

import io
import json
import random
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from bench.fuzz import Isolated, failed
from bench.fuzz_cases import KINDS, Photos, make_case
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from tests.conftest import DEEPFACE, JOLIE, photo

from facegate.errors import ExtremeAspectRatio, ImageTooSmall
from facegate.images import ImageLimits, decode_image
from facegate.service import Actor, Facegate, Settings

RESULTS = {"faces", "no_faces", "bad_input", "image_too_large", "unsupported_image",
           "invalid_image", "image_too_small", "extreme_aspect_ratio"}


def jpeg(width: int, height: int, colour: tuple[int, int, int] = (120, 110, 100)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture(scope="module")
def photos() -> Photos:
    if not DEEPFACE.is_dir():
        pytest.skip(f"test photos not found at {DEEPFACE}")
    return Photos()


@pytest.fixture(scope="module")
def isolated() -> Iterator[Isolated]:
    run = Isolated("dlib", timeout_s=120)
    yield run
    run.close()


# ---- the reported input ---------------------------------------------------------------------


def test_a_1_by_60000_jpeg_is_refused_from_its_header() -> None:
    data = jpeg(1, 60000)
    assert len(data) < 100_000
    with pytest.raises(ImageTooSmall, match=r"1x60000 pixels; each side must be at least 24"):
        decode_image(data)
    with pytest.raises(ExtremeAspectRatio, match=r"1x60000 pixels.*the limit is 8 to 1"):
        decode_image(data, ImageLimits(min_side=1))
    with pytest.raises(ExtremeAspectRatio) as caught:
        decode_image(jpeg(400, 40))
    assert caught.value.code == "extreme_aspect_ratio" and caught.value.http_status == 422
    assert decode_image(jpeg(24, 192)).shape == (192, 24, 3)  # 8 to 1 and 24 px: accepted


# The arrays that crashed dlib's CNN (segmentation fault, heap corruption, or an exception that
# left the heap corrupt), handed to the engine directly; then a real photo must still work.
ENGINE_CHECK = """
import sys
import numpy as np
from PIL import Image
kind, path = sys.argv[1], sys.argv[2]
if kind == "fast":
    from facegate.engine.dlib_onnx import FastDlibEngine as Engine
elif kind == "sface":
    from facegate.engine.sface_engine import SfaceEngine as Engine
else:
    from facegate.engine.dlib_engine import DlibEngine as Engine
engine = Engine()
rng = np.random.default_rng(0)
for h, w in [(1600, 1), (1, 1600), (3200, 8), (32, 5), (7, 3), (1, 1), (5, 40000)]:
    image = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    assert engine.analyse(image if h > 1 else np.asfortranarray(image)) == [], (h, w)
faces = engine.analyse(np.asarray(Image.open(path).convert("RGB")))
assert len(faces) == 1 and faces[0].embedding is not None
print("survived")
"""


@pytest.mark.parametrize("engine", ["sface", "dlib", "fast"])
def test_the_engines_survive_the_arrays_that_crashed_them(engine: str) -> None:
    photo(JOLIE[0])  # skips when the photos are absent
    done = subprocess.run([sys.executable, "-c", ENGINE_CHECK, engine, str(DEEPFACE / JOLIE[0])],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "survived" in done.stdout, done.stderr[-3000:]


# Threads share one engine, as the API's worker threads do: dlib's HOG detector keeps per-image
# state and runs without the GIL, so sharing one detector corrupted the heap.
THREADS_CHECK = """
import sys
from concurrent.futures import ThreadPoolExecutor
import numpy as np
from PIL import Image
kind, paths = sys.argv[1], sys.argv[2:]
images = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
images += [np.ascontiguousarray(i[::2, ::2]) for i in images]
if kind == "sface":
    from facegate.engine.sface_engine import SfaceEngine
    engine = SfaceEngine()
else:
    from facegate.engine.dlib_engine import DlibEngine
    engine = DlibEngine(cnn_fallback=False)
def boxes(image):
    return [f.box for f in engine.detect(image)]
alone = [boxes(i) for i in images]
with ThreadPoolExecutor(4) as pool:
    together = list(pool.map(boxes, images * 4))
assert together == alone * 4
print("agreed")
"""


@pytest.mark.parametrize("engine", ["sface", "dlib"])
def test_threads_sharing_an_engine_find_what_one_thread_finds(engine: str) -> None:
    paths = [str(DEEPFACE / p) for p in JOLIE[:2]] + [str(DEEPFACE / "id02/img3.jpg")]
    photo(JOLIE[0])
    done = subprocess.run([sys.executable, "-c", THREADS_CHECK, engine, *paths],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "agreed" in done.stdout, done.stderr[-3000:]


# ---- generated and mutated images -----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=10, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_hostile_images_give_faces_or_a_refusal(kind: str, seed: int, photos: Photos,
                                                isolated: Isolated) -> None:
    case = make_case(kind, random.Random(seed), photos)
    result = isolated(case.data)
    assert not failed(result), f"{result}\n{case.recipe}"
    assert result in RESULTS, f"{result}\n{case.recipe}"


# ---- over HTTP: the service answers every one, and still works after ------------------------

SERVER = """
import sys
from pathlib import Path
import uvicorn
from facegate.api.app import create_app
from facegate.service import Facegate, Settings
service = Facegate(Settings(data_dir=Path(sys.argv[1])))
uvicorn.run(create_app(service, housekeeping_every_s=0), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""


@pytest.fixture()
def server(data_dir: Path) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """The API served by another process (so that a crash shows), and an operator's key."""
    settings_ = Settings(data_dir=data_dir)
    Facegate.initialise(settings_)
    service = Facegate(settings_)
    key = str(service.keys.create(Actor("test-admin", "admin"), "k-op", "operator")["key"])
    service.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(data_dir), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(base + "/openapi.json", timeout=2)
            break
        except httpx.TransportError:
            time.sleep(0.2)
    try:
        assert proc.poll() is None, proc.stderr.read().decode()[-3000:] if proc.stderr else ""
        yield base, key, proc
    finally:
        proc.terminate()
        proc.wait(10)


def test_the_api_answers_every_hostile_image_and_keeps_working(
        server: tuple[str, str, subprocess.Popen[bytes]], photos: Photos) -> None:
    base, key, proc = server
    batch = [("1x60000.jpg", jpeg(1, 60000)), ("60000x1.jpg", jpeg(60000, 1)),
             ("tiny.jpg", jpeg(5, 5)), ("wide.jpg", jpeg(2000, 30))]
    batch += [(f"{kind}-{i}", make_case(kind, random.Random(f"api:{kind}:{i}"), photos).data)
              for kind in KINDS for i in range(3)]
    batch += [(p, photo(p)) for p in JOLIE]  # concurrent detection on real faces too

    def post(item: tuple[str, bytes]) -> tuple[str, int, dict[str, object]]:
        name, data = item
        r = httpx.post(base + "/v1/detect", files={"image": (name, data)},
                       headers={"X-API-Key": key}, timeout=120)
        return name, r.status_code, r.json()

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(post, batch))
    for name, status, body in answers:
        assert status == 200 or 400 <= status < 500, (name, status, body)
        if status != 200:
            assert body["error"] in RESULTS and body["message"], (name, body)
    refused = {name: body["error"] for name, status, body in answers if status != 200}
    assert refused["1x60000.jpg"] == "image_too_small"
    assert refused["wide.jpg"] == "extreme_aspect_ratio"

    assert proc.poll() is None
    r = httpx.post(base + "/v1/detect", files={"image": ("ok.jpg", photo(JOLIE[1]))},
                   headers={"X-API-Key": key}, timeout=120)
    assert r.status_code == 200, r.text
    assert len(r.json()["faces"]) >= 1, json.dumps(r.json())
