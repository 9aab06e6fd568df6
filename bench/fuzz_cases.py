"""Hostile images for ``bench/fuzz.py`` and ``tests/test_fuzz.py``, each made again from its
recipe's random choices.

``make_case(kind, rnd, photos)`` draws every choice from ``rnd``: synthetic images of random
size (1 x N, N x 1, tiny, extreme shapes, huge dimensions within the byte limit), mode and
format (JPEG, PNG, WebP, GIF, BMP, sometimes animated); real photos (``Photos``, from
``../shared/data/deepface``) truncated, bit-flipped, with a header that lies about the size,
cropped to part of a face, stretched, or tiled into many small faces.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEEPFACE = ROOT.parent / "shared" / "data" / "deepface"

KINDS = ("synthetic", "strip", "tiny", "huge", "truncated", "bitflip", "header", "half",
         "stretched", "tiled")
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP")
# Modes each format can store (Pillow's encoders).
_MODES = {"JPEG": ("RGB", "L", "CMYK"), "PNG": ("RGB", "RGBA", "L", "LA", "P", "I;16"),
          "WEBP": ("RGB", "RGBA"), "GIF": ("P", "L"), "BMP": ("RGB", "L", "P")}
# Pillow refuses to write larger images in these formats.
_MAX_SIDE = {"WEBP": 16383, "JPEG": 65500, "GIF": 65535}


@dataclass(frozen=True)
class Case:
    """One hostile input: how it was made (enough to make it again) and its bytes."""

    kind: str
    recipe: str
    data: bytes


class Photos:
    """A few real face photos, scaled to at most ``side`` pixels, and their encodings."""

    def __init__(self, root: Path = DEEPFACE, count: int = 8, side: int = 400) -> None:
        paths = sorted(root.glob("*/*.jpg"))[::7][:count]
        if not paths:
            raise FileNotFoundError(f"no photos under {root}")
        self.names = [f"{p.parent.name}/{p.name}" for p in paths]
        self.pictures: list[Image.Image] = []
        for path in paths:
            with Image.open(path) as image:
                picture = image.convert("RGB")
            picture.thumbnail((side, side))
            self.pictures.append(picture)

    def pick(self, rnd: random.Random) -> tuple[str, Image.Image]:
        i = rnd.randrange(len(self.pictures))
        return self.names[i], self.pictures[i]


def make_case(kind: str, rnd: random.Random, photos: Photos) -> Case:
    """A case of ``kind`` (one of ``KINDS``), all its choices drawn from ``rnd``."""
    steps: list[str] = []
    data = _MAKERS[kind](rnd, photos, steps)
    return Case(kind, f"{kind}: " + ", ".join(steps), data)


# ---- synthetic images -----------------------------------------------------------------------


def _synthetic(rnd: random.Random, _: Photos, steps: list[str]) -> bytes:
    w, h = rnd.randint(1, 1500), rnd.randint(1, 1500)
    return _drawn(rnd, w, h, steps)


def _strip(rnd: random.Random, _: Photos, steps: list[str]) -> bytes:
    short, long = rnd.choice([1, 1, 2, 3, 5, 8, 12, 24, 40, 100]), rnd.randint(100, 60000)
    w, h = (short, long) if rnd.random() < 0.5 else (long, short)
    return _drawn(rnd, w, h, steps)


def _tiny(rnd: random.Random, _: Photos, steps: list[str]) -> bytes:
    return _drawn(rnd, rnd.randint(1, 48), rnd.randint(1, 48), steps)


def _huge(rnd: random.Random, _: Photos, steps: list[str]) -> bytes:
    """Many pixels in few bytes: a flat image of up to 30 megapixels, or a black 1-bit PNG
    of up to 400 (past the pixel limit and Pillow's own guard)."""
    if rnd.random() < 0.5:
        w = rnd.randint(1000, 40000)
        h = rnd.randint(1000, 400_000_000 // w)
        steps.append(f"{w}x{h} black 1-bit PNG")
        return _black_png(w, h)
    w = rnd.randint(1000, 12000)
    h = rnd.randint(1000, 30_000_000 // w)
    if rnd.random() < 0.5:
        w, h = h, w
    steps.append(f"{w}x{h} flat")
    return _encoded(Image.new("L", (w, h), rnd.randrange(256)), rnd, steps)


def _black_png(w: int, h: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body))

    row = bytes(1 + -(-w // 8))  # filter byte 0, then zero bits
    packer = zlib.compressobj(9)
    parts = [packer.compress(row * 1000) for _ in range(h // 1000)]
    parts += [packer.compress(row * (h % 1000)), packer.flush()]
    header = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


def _drawn(rnd: random.Random, w: int, h: int, steps: list[str],
           styles: tuple[str, ...] = ("flat", "gradient", "noise")) -> bytes:
    if w * h > 300_000:
        styles = tuple(s for s in styles if s != "noise") or ("flat",)
    style = rnd.choice(styles)
    steps.append(f"{w}x{h} {style}")
    if style == "flat":
        image = Image.new("RGB", (w, h), tuple(rnd.randrange(256) for _ in range(3)))
    elif style == "gradient":
        image = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    else:
        image = Image.frombytes("RGB", (w, h), rnd.randbytes(w * h * 3))
    return _encoded(image, rnd, steps)


def _encoded(image: Image.Image, rnd: random.Random, steps: list[str],
             formats: tuple[str, ...] = FORMATS) -> bytes:
    fmt = rnd.choice(formats)
    if max(image.size) > _MAX_SIDE.get(fmt, 1 << 30):
        fmt = "PNG"
    mode = rnd.choice(_MODES[fmt])
    picture = image.convert("I").convert("I;16") if mode == "I;16" else image.convert(mode)
    options: dict[str, Any] = {}
    if fmt == "JPEG":
        options = {"quality": rnd.randint(5, 95), "progressive": rnd.random() < 0.3}
    elif fmt == "WEBP":
        options = {"quality": rnd.randint(5, 95), "lossless": rnd.random() < 0.3}
    frames = 2 if fmt in ("PNG", "WEBP", "GIF") and rnd.random() < 0.05 else 1
    if frames > 1:
        flipped = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        options.update(save_all=True, append_images=[flipped])
    steps.append(f"{fmt} {mode}" + (" animated" if frames > 1 else ""))
    buf = io.BytesIO()
    picture.save(buf, fmt, **options)
    return buf.getvalue()


# ---- real photos, damaged or reshaped -------------------------------------------------------


def _photo_bytes(rnd: random.Random, photos: Photos, steps: list[str]) -> bytes:
    name, picture = photos.pick(rnd)
    steps.append(name)
    return _encoded(picture, rnd, steps, formats=("JPEG", "PNG", "WEBP"))


def _truncated(rnd: random.Random, photos: Photos, steps: list[str]) -> bytes:
    data = _photo_bytes(rnd, photos, steps)
    keep = rnd.randint(1, len(data) - 1)
    steps.append(f"first {keep} of {len(data)} bytes")
    return data[:keep]


def _bitflip(rnd: random.Random, photos: Photos, steps: list[str]) -> bytes:
    data = bytearray(_photo_bytes(rnd, photos, steps))
    flips = rnd.randint(1, 24)
    span = min(len(data), 300) if rnd.random() < 0.5 else len(data)  # often the header
    at = sorted(rnd.randrange(span) for _ in range(flips))
    for i in at:
        data[i] ^= 1 << rnd.randrange(8)
    steps.append(f"bits flipped at {at}")
    return bytes(data)


def _header(rnd: random.Random, photos: Photos, steps: list[str]) -> bytes:
    """A photo whose header claims another size (1 x N, N x 1, 0, huge), checksums fixed."""
    name, picture = photos.pick(rnd)
    w = rnd.choice([0, 1, 2, 23, 24, 300, 5000, 60000, 65535])
    h = rnd.choice([0, 1, 2, 23, 24, 300, 5000, 60000, 65535])
    buf = io.BytesIO()
    if rnd.random() < 0.5:
        picture.save(buf, "PNG")
        data = bytearray(buf.getvalue())
        data[16:24] = struct.pack(">II", w, h)  # IHDR width, height, then its CRC
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
        steps.append(f"{name} PNG, IHDR says {w}x{h}")
        return bytes(data)
    picture.save(buf, "JPEG", quality=80)
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    if sof > 0:
        data[sof + 5:sof + 9] = struct.pack(">HH", h, w)  # SOF0: height, width
    steps.append(f"{name} JPEG, SOF0 says {w}x{h}")
    return bytes(data)


def _half(rnd: random.Random, photos: Photos, steps: list[str]) -> bytes:
    """Part of a face: a half, a third or a corner of a photo, sometimes turned over."""
    name, picture = photos.pick(rnd)
    w, h = picture.size
    keep = rnd.uniform(0.25, 0.7)
    side = rnd.choice(["left", "right", "top", "bottom", "corner"])
    box = {"left": (0, 0, round(w * keep), h), "right": (round(w * (1 - keep)), 0, w, h),
           "top": (0, 0, w, round(h * keep)), "bottom": (0, round(h * (1 - keep)), w, h),
           "corner": (0, 0, round(w * keep), round(h * keep))}[side]
    part = picture.crop(box)
    turn = rnd.choice([None, Image.Transpose.ROTATE_90, Image.Transpose.ROTATE_180,
                       Image.Transpose.FLIP_LEFT_RIGHT])
    if turn is not None:
        part = part.transpose(turn)
    steps.append(f"{name} {side} {keep:.2f} turned {turn.name if turn else 'no'}")
    return _encoded(part, rnd, steps, formats=("JPEG", "PNG", "WEBP"))


def _stretched(rnd: random.Random, photos: Photos, steps: list[str]) -> bytes:
    name, picture = photos.pick(rnd)
    w, h = rnd.choice([1, 8, 24, 60, 200, 900, 3000]), rnd.choice([1, 8, 24, 60, 200, 900])
    if rnd.random() < 0.5:
        w, h = h, w
    steps.append(f"{name} resized to {w}x{h}")
    return _encoded(picture.resize((w, h)), rnd, steps, formats=("JPEG", "PNG", "WEBP"))


def _tiled(rnd: random.Random, photos: Photos, steps: list[str]) -> bytes:
    """Many small faces: photos cropped square, shrunk and tiled on a grid."""
    tile = rnd.choice([12, 20, 32, 48, 64, 96, 140])
    cols, rows = rnd.randint(1, 1400 // tile), rnd.randint(1, 1000 // tile)
    faces = [p.crop((0, 0, min(p.size), min(p.size))).resize((tile, tile))
             for p in photos.pictures]
    sheet = Image.new("RGB", (cols * tile, rows * tile), "white")
    for r in range(rows):
        for c in range(cols):
            sheet.paste(faces[(r * cols + c) % len(faces)], (c * tile, r * tile))
    steps.append(f"{cols}x{rows} faces of {tile} px")
    return _encoded(sheet, rnd, steps, formats=("JPEG", "PNG", "WEBP"))


_MAKERS: dict[str, Callable[[random.Random, Photos, list[str]], bytes]] = {
    "synthetic": _synthetic, "strip": _strip, "tiny": _tiny, "huge": _huge,
    "truncated": _truncated, "bitflip": _bitflip, "header": _header, "half": _half,
    "stretched": _stretched, "tiled": _tiled,
}
