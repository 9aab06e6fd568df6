"""A fake camera for Chromium (``--use-file-for-fake-video-capture``): a Y4M video made from a
still photo, so a browser test shows the camera a real face."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image


def y4m_from_photo(photo: bytes, path: Path, size: tuple[int, int] = (640, 480),
                   frames: int = 3) -> Path:
    """Write ``frames`` identical 4:2:0 frames of ``photo``, centred on a grey ``size`` canvas
    (both sides even), as a Y4M file at ``path``."""
    w, h = size
    img = Image.open(io.BytesIO(photo)).convert("RGB")
    img.thumbnail((w, h))
    canvas = Image.new("RGB", (w, h), (128, 128, 128))
    canvas.paste(img, ((w - img.width) // 2, (h - img.height) // 2))
    y, cb, cr = canvas.convert("YCbCr").split()
    half = (w // 2, h // 2)
    frame = b"FRAME\n" + y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    with path.open("wb") as f:
        f.write(f"YUV4MPEG2 W{w} H{h} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            f.write(frame)
    return path


def camera_args(video: Path) -> list[str]:
    """Chromium's flags for a fake camera fed from ``video``, granted without a prompt."""
    return ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}"]
