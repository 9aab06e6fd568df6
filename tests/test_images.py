"""``facegate.images.decode_image``: limits, formats, modes, orientation (``images.no-retention``).

Every image is built in memory (or read from ../shared/data); nothing is written to disk.
"""

from __future__ import annotations

import io
import math
import os
import struct
import time
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

from facegate.errors import (
    BadInput,
    ExtremeAspectRatio,
    ImageTooLarge,
    ImageTooSmall,
    InvalidImage,
    UnsupportedImage,
)
from facegate.images import ImageLimits, decode_image


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def png_of_zeros(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of ``width`` x ``height`` black pixels: tiny, built fast."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    row = bytes(1 + math.ceil(width / 8))  # filter byte 0, then zero bits
    packer = zlib.compressobj(9)
    block = row * 1000
    parts = [packer.compress(block) for _ in range(height // 1000)]
    parts += [packer.compress(row * (height % 1000)), packer.flush()]
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", b"".join(parts))
            + chunk(b"IEND", b""))


# ---- accepted formats -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_accepted_formats_decode_to_rgb_uint8(fmt: str) -> None:
    source = Image.new("RGB", (64, 48), (200, 30, 40))
    array = decode_image(encode(source, fmt, quality=95) if fmt != "PNG" else encode(source, fmt))
    assert array.shape == (48, 64, 3)
    assert array.dtype == np.uint8
    assert array.flags["C_CONTIGUOUS"] and array.flags["WRITEABLE"]
    assert np.abs(array[24, 32].astype(int) - [200, 30, 40]).max() <= 6


def test_real_photos_jpeg_and_webp(photo_bytes: Callable[[str], bytes]) -> None:
    jpeg = photo_bytes("deepface/id01_angelina_jolie/img10.jpg")
    assert decode_image(jpeg).shape == (594, 408, 3)
    # This ".jpg" is a WebP file: the content decides, not the name.
    webp = photo_bytes("deepface/id03/img47.jpg")
    assert webp[8:12] == b"WEBP"
    assert decode_image(webp).shape == (1600, 1200, 3)  # 1800 x 1350, scaled to max_side


def test_exif_orientation_is_applied() -> None:
    # Left half red, right half blue, tagged "rotate 90 degrees clockwise to display".
    stored = Image.new("RGB", (60, 40), (255, 0, 0))
    stored.paste((0, 0, 255), (30, 0, 60, 40))
    exif = Image.Exif()
    exif[0x0112] = 6
    array = decode_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95))
    assert array.shape == (60, 40, 3)  # portrait now
    top, bottom = array[5, 20].astype(int), array[55, 20].astype(int)
    assert top[0] > 200 and top[2] < 60  # the left (red) half is on top
    assert bottom[2] > 200 and bottom[0] < 60


def test_orientation_1_and_missing_exif_leave_the_image_alone() -> None:
    exif = Image.Exif()
    exif[0x0112] = 1
    assert decode_image(encode(noise(50, 30), "JPEG", exif=exif.tobytes())).shape == (30, 50, 3)
    assert decode_image(encode(noise(50, 30), "PNG")).shape == (30, 50, 3)


def test_unreadable_orientation_is_ignored() -> None:
    exif = Image.Exif()
    exif[0x0112] = 99  # no such orientation
    assert decode_image(encode(noise(50, 30), "JPEG", exif=exif.tobytes())).shape == (30, 50, 3)


# ---- modes ----------------------------------------------------------------------------------


def test_grey_is_converted_to_rgb() -> None:
    array = decode_image(encode(Image.new("L", (40, 30), 77), "PNG"))
    assert array.shape == (30, 40, 3)
    assert (array == 77).all()


def test_transparency_is_composited_over_white() -> None:
    rgba = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    rgba.paste((10, 20, 30, 255), (0, 0, 20, 30))
    array = decode_image(encode(rgba, "PNG"))
    assert array.shape == (30, 40, 3)
    assert array[15, 5].tolist() == [10, 20, 30]  # opaque part kept
    assert array[15, 30].tolist() == [255, 255, 255]  # transparent part becomes white
    grey_alpha = decode_image(encode(Image.new("LA", (32, 32), (100, 255)), "PNG"))
    assert (grey_alpha == 100).all()


def test_palette_with_transparency_and_sixteen_bit_grey() -> None:
    palette = Image.new("P", (32, 32), 1)
    palette.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    array = decode_image(encode(palette, "PNG", transparency=0))
    assert array[0, 0].tolist() == [10, 200, 10]
    deep = Image.fromarray(np.full((24, 36), 65535, dtype=np.uint16))
    assert deep.mode.startswith("I")
    array = decode_image(encode(deep, "PNG"))
    assert array.shape == (24, 36, 3)
    assert (array == 255).all()  # scaled to 8 bits, not clipped from the low byte


def test_cmyk_jpeg_is_converted_to_rgb() -> None:
    cmyk = Image.new("RGB", (32, 32), (250, 250, 250)).convert("CMYK")
    array = decode_image(encode(cmyk, "JPEG", quality=95))
    assert array.shape == (32, 32, 3)
    assert array.min() > 200


# ---- refusals -------------------------------------------------------------------------------


def test_empty_data_is_invalid() -> None:
    with pytest.raises(InvalidImage, match="empty"):
        decode_image(b"")


def test_random_bytes_are_not_an_image() -> None:
    data = np.random.default_rng(1).bytes(4096)
    with pytest.raises(UnsupportedImage, match="not an image"):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF"])
def test_other_formats_are_refused_by_name(fmt: str) -> None:
    with pytest.raises(UnsupportedImage, match=fmt) as caught:
        decode_image(encode(Image.new("RGB", (10, 10)), fmt))
    assert caught.value.details["format"] == fmt
    assert caught.value.http_status == 415


def test_formats_can_be_narrowed() -> None:
    with pytest.raises(UnsupportedImage, match="PNG"):
        decode_image(encode(noise(8, 8), "PNG"), ImageLimits(formats=frozenset({"JPEG"})))


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_truncated_images_are_invalid(fmt: str) -> None:
    data = encode(noise(300, 200), fmt)
    with pytest.raises(InvalidImage, match="truncated or corrupt"):
        decode_image(data[: len(data) // 2])


def test_truncation_is_never_padded(monkeypatch: pytest.MonkeyPatch) -> None:
    data = encode(noise(100, 100), "JPEG")
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        decode_image(data[:-200])


def test_too_many_bytes() -> None:
    data = encode(noise(100, 100), "PNG")
    with pytest.raises(ImageTooLarge, match="limit") as caught:
        decode_image(data, ImageLimits(max_bytes=len(data) - 1))
    assert caught.value.http_status == 413
    assert decode_image(data, ImageLimits(max_bytes=len(data))).shape == (100, 100, 3)
    with pytest.raises(ImageTooLarge):
        decode_image(b"\xff" * (ImageLimits().max_bytes + 1))  # checked before identifying


def test_decompression_bomb_is_refused_from_the_header() -> None:
    bomb = png_of_zeros(20000, 20000)  # 400 megapixels in about 50 kB
    assert len(bomb) < 200_000
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="megapixels"):
        decode_image(bomb)
    assert time.perf_counter() - start < 0.5  # never decoded


def test_pixel_limit_is_checked_before_decoding() -> None:
    big = png_of_zeros(8000, 6000)  # 48 Mpx: over our 40 Mpx, under Pillow's own guard
    start = time.perf_counter()
    with pytest.raises(ImageTooLarge, match="8000x6000") as caught:
        decode_image(big)
    assert time.perf_counter() - start < 0.5
    assert caught.value.details["max_pixels"] == 40_000_000
    with pytest.raises(ImageTooLarge):
        decode_image(encode(noise(100, 100), "PNG"), ImageLimits(max_pixels=9_999))


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_animations_are_refused(fmt: str) -> None:
    frames = [Image.new("RGB", (32, 32), (i * 60, 0, 0)) for i in range(3)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:])
    with pytest.raises(BadInput, match="3 frames") as caught:
        decode_image(data)
    assert type(caught.value) is BadInput
    assert decode_image(data, ImageLimits(max_frames=3)).shape == (32, 32, 3)


# ---- downscaling ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_large_images_are_downscaled_keeping_the_aspect(fmt: str) -> None:
    array = decode_image(encode(Image.new("RGB", (3200, 1200), (90, 90, 90)), fmt))
    assert array.shape == (600, 1600, 3)
    assert abs(int(array[300, 800, 0]) - 90) <= 2
    assert decode_image(encode(noise(900, 300), fmt), ImageLimits(max_side=300)).shape == (
        100, 300, 3)


def test_small_images_keep_their_size_and_max_side_0_disables_scaling() -> None:
    assert decode_image(encode(noise(1600, 200), "PNG")).shape == (200, 1600, 3)
    assert decode_image(encode(noise(2000, 250), "PNG"), ImageLimits(max_side=0)).shape == (
        250, 2000, 3)


def test_the_area_is_bounded_whatever_the_shape() -> None:
    limits = ImageLimits(max_area=1_000_000)
    height, width = decode_image(encode(noise(1600, 1200), "JPEG"), limits).shape[:2]
    assert abs(width / height - 4 / 3) < 0.01 and height * width <= 1_002_000
    assert decode_image(encode(noise(1600, 1200), "PNG"), ImageLimits(max_area=0)).shape == (
        1200, 1600, 3)
    assert decode_image(encode(noise(1000, 1000), "PNG"), ImageLimits(max_side=0,
                                                                       max_area=250_000)
                        ).shape == (500, 500, 3)


# ---- shapes no face fits --------------------------------------------------------------------


@pytest.mark.parametrize(("width", "height"), [(1, 60000), (60000, 1), (23, 100), (100, 5),
                                               (1, 1)])
def test_too_small_a_side_is_refused_from_the_header(width: int, height: int) -> None:
    start = time.perf_counter()
    with pytest.raises(ImageTooSmall, match=f"{width}x{height} pixels; each side") as caught:
        decode_image(png_of_zeros(width, height))
    assert time.perf_counter() - start < 0.5
    assert caught.value.code == "image_too_small" and caught.value.http_status == 422
    assert caught.value.details == {"width": width, "height": height, "min_side": 24}


@pytest.mark.parametrize(("width", "height"), [(24, 193), (5000, 600), (30000, 40)])
def test_extreme_aspect_ratios_are_refused_from_the_header(width: int, height: int) -> None:
    with pytest.raises(ExtremeAspectRatio, match="the limit is 8 to 1") as caught:
        decode_image(png_of_zeros(width, height))
    assert caught.value.code == "extreme_aspect_ratio" and caught.value.http_status == 422


def test_shape_limits_can_be_changed_or_turned_off() -> None:
    assert decode_image(encode(noise(24, 192), "PNG")).shape == (192, 24, 3)  # 8:1, 24 px
    loose = ImageLimits(min_side=1, max_aspect=0)
    assert decode_image(encode(noise(1, 900), "PNG"), loose).shape == (900, 1, 3)
    with pytest.raises(ImageTooSmall):
        decode_image(encode(noise(40, 40), "PNG"), ImageLimits(min_side=64))
    with pytest.raises(ExtremeAspectRatio):
        decode_image(encode(noise(300, 100), "PNG"), ImageLimits(max_aspect=2))


def test_nothing_is_written_to_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    decode_image(encode(noise(2000, 1500), "JPEG"))
    with pytest.raises(InvalidImage):
        decode_image(encode(noise(200, 200), "PNG")[:500])
    assert os.listdir(tmp_path) == []
