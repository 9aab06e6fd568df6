"""Hostile and awkward images: clear errors before any cost (``images.no-retention``)."""

from __future__ import annotations

import io
import time

import numpy as np
import pytest
from PIL import Image

from facegate.errors import BadInput, ImageTooLarge, InvalidImage, UnsupportedImage
from facegate.images import ImageLimits, decode_image


def encode(im: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def test_decompression_bomb_is_refused_without_decoding() -> None:
    bomb = encode(Image.new("L", (20000, 20000), 0), "PNG")  # 400 Mpx in a few hundred kB
    assert len(bomb) < 1_000_000
    t = time.perf_counter()
    with pytest.raises(ImageTooLarge):
        decode_image(bomb)
    assert time.perf_counter() - t < 5  # refused from the header, never decoded


def test_exif_orientation_is_applied() -> None:
    im = Image.new("RGB", (40, 20), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    arr = decode_image(encode(im, "JPEG", exif=exif.tobytes()))
    assert arr.shape == (40, 20, 3)


def test_formats_and_modes() -> None:
    for fmt in ("JPEG", "PNG", "WEBP"):
        assert decode_image(encode(Image.new("RGB", (32, 24)), fmt)).shape == (24, 32, 3)
    for mode in ("L", "RGBA", "P"):
        assert decode_image(encode(Image.new(mode, (10, 10)), "PNG")).shape == (10, 10, 3)
    with pytest.raises(UnsupportedImage, match="GIF"):
        decode_image(encode(Image.new("RGB", (10, 10)), "GIF"))
    with pytest.raises(UnsupportedImage):
        decode_image(encode(Image.new("RGB", (10, 10)), "BMP"))
    with pytest.raises(UnsupportedImage):
        decode_image(b"%PDF-1.4 not a picture")


def test_truncated_empty_and_oversized() -> None:
    rng = np.random.default_rng(0)
    noisy = Image.fromarray(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8))
    data = encode(noisy, "PNG")
    with pytest.raises(InvalidImage):
        decode_image(data[: len(data) // 2])
    with pytest.raises(InvalidImage):
        decode_image(b"")
    with pytest.raises(ImageTooLarge):
        decode_image(data, ImageLimits(max_bytes=1000))


def test_animation_is_refused() -> None:
    frames = [Image.new("RGB", (16, 16), (i * 40, 0, 0)) for i in range(3)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(BadInput, match="frames"):
        decode_image(data)


def test_large_images_are_downscaled_in_memory() -> None:
    arr = decode_image(encode(Image.new("RGB", (4000, 2000)), "JPEG"))
    assert max(arr.shape[:2]) == ImageLimits().max_side
