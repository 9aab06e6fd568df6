"""Decoding uploaded images safely, in memory only (``images.no-retention``).

``decode_image`` turns untrusted bytes into an RGB ``uint8`` array (H, W, 3). It never writes
the image (or anything derived from it) to disk or to logs, checks every limit from the header
before decoding pixels, so a decompression bomb is never expanded, and refuses truncated files
instead of padding them with grey. Images too small to hold a face, or of a shape no photo of
a face has (a 1 x 60000 strip), are refused from the header as well: the detectors are never
handed them, and what they are handed has a bounded number of pixels.
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from facegate.errors import (
    BadInput,
    ExtremeAspectRatio,
    ImageTooLarge,
    ImageTooSmall,
    InvalidImage,
    UnsupportedImage,
)

ImageArray = NDArray[np.uint8]  # RGB (H, W, 3), what engines are given

# Pillow names multi-picture JPEGs (phone photos with a depth map or preview) "MPO"; the first
# picture is an ordinary JPEG and is the only one decoded.
_FORMAT_ALIASES = {"MPO": "JPEG"}
_WIDE_GREY_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N", "F"})
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
# Errors Pillow raises for truncated or corrupt data while decoding (struct.error: a short
# header field in some plugins).
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError,
                  struct.error)


@dataclass(frozen=True)
class ImageLimits:
    """Limits on uploaded images.

    ``max_bytes``: size of the upload. ``max_pixels``: width x height from the header.
    ``max_frames``: animated images are refused. ``formats``: Pillow format names accepted.
    ``max_side``: larger images are downscaled in memory (aspect kept) before detection;
    0 disables downscaling. ``max_area``: images with more pixels are downscaled too, so that
    what the detectors scan (their cost grows with the area) is bounded whatever the shape;
    0 disables it. ``min_side``: images narrower or lower than this are refused (the smallest
    face the detectors find is about 20 pixels). ``max_aspect``: images whose long side is
    more than this many times the short side are refused; 0 disables the check.
    """

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000
    # One request: its body (read into memory, never spooled to disk), its images, and their
    # pixels together (every image is decoded and scanned).
    max_request_bytes: int = 32 * 1024 * 1024
    max_images: int = 10
    max_request_pixels: int = 100_000_000
    max_frames: int = 1
    formats: frozenset[str] = frozenset({"JPEG", "PNG", "WEBP"})
    max_side: int = 1600
    max_area: int = 1600 * 1600
    min_side: int = 24
    max_aspect: float = 8.0


DEFAULT_LIMITS = ImageLimits()


def read_upload(stream: BinaryIO, name: str, limits: ImageLimits = DEFAULT_LIMITS) -> bytes:
    """An upload's bytes, in memory, read no further than one byte past ``limits.max_bytes``;
    more is refused (``ImageTooLarge``, 413)."""
    data = stream.read(limits.max_bytes + 1)
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"{name} is larger than {limits.max_bytes} bytes")
    return data


def decode_image(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> ImageArray:
    """Decode ``data`` into an RGB ``uint8`` array (H, W, 3), in memory only.

    Checks, in order: empty (``InvalidImage``) or too many bytes (``ImageTooLarge``); not an
    image (``UnsupportedImage``); format not accepted (``UnsupportedImage``); from the header,
    before any decoding: too many pixels (``ImageTooLarge``), a side under
    ``limits.min_side`` (``ImageTooSmall``), a long side more than ``limits.max_aspect``
    times the short one (``ExtremeAspectRatio``); more than ``limits.max_frames`` frames
    (``BadInput``); truncated or corrupt (``InvalidImage``). Then applies the EXIF
    orientation, converts to RGB (transparency over white) and downscales to
    ``limits.max_side`` and ``limits.max_area``. Rule ``images.no-retention``: nothing is written
    anywhere; the caller drops ``data`` and the array when done.
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # A process-wide Pillow switch that would turn truncated uploads into grey-padded
        # images; refuse to run rather than silently accept them.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must be False")
    if not data:
        raise InvalidImage("The image is empty.", message_zh="图像为空。")
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(
            f"The image is {_mib(len(data))}; the limit is {_mib(limits.max_bytes)}.",
            message_zh=f"图像大小为 {_mib(len(data))}，上限为 {_mib(limits.max_bytes)}。",
            details={"bytes": len(data), "max_bytes": limits.max_bytes},
        )

    try:
        image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnsupportedImage(
            "The file is not an image in a recognised format; send a "
            f"{_format_list(limits)} image.",
            message_zh=f"该文件不是可识别格式的图像；请发送 {_format_list(limits, '或')} 图像。",
        ) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard (far above our limit) tripped while reading the header.
        raise ImageTooLarge(
            "The image has far too many pixels; the limit is "
            f"{limits.max_pixels / 1e6:.1f} megapixels.",
            message_zh=f"图像像素过多；上限为 {limits.max_pixels / 1e6:.1f} 百万像素。",
            details={"max_pixels": limits.max_pixels},
        ) from None
    except _DECODE_ERRORS:
        raise InvalidImage("The image is truncated or corrupt and cannot be decoded.",
                           message_zh="图像已截断或损坏，无法解码。") from None

    with image:
        return _decode_opened(image, limits)


def _decode_opened(image: Image.Image, limits: ImageLimits) -> ImageArray:
    fmt = _FORMAT_ALIASES.get(image.format or "", image.format or "unknown")
    if fmt not in limits.formats:
        raise UnsupportedImage(
            f"{fmt} images are not accepted; send a {_format_list(limits)} image.",
            message_zh=f"不接受 {fmt} 图像；请发送 {_format_list(limits, '或')} 图像。",
            details={"format": fmt},
        )

    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidImage("The image has no pixels.", message_zh="图像没有像素。")
    if width * height > limits.max_pixels:
        raise ImageTooLarge(
            f"The image is {width}x{height} pixels ({width * height / 1e6:.1f} megapixels); "
            f"the limit is {limits.max_pixels / 1e6:.1f} megapixels.",
            message_zh=f"图像为 {width}x{height} 像素（{width * height / 1e6:.1f} 百万像素）；"
                       f"上限为 {limits.max_pixels / 1e6:.1f} 百万像素。",
            details={"width": width, "height": height, "max_pixels": limits.max_pixels},
        )
    _check_shape(width, height, limits)

    # MPO: only the first picture is used, the others are previews or depth maps.
    frames = 1 if image.format == "MPO" else int(getattr(image, "n_frames", 1))
    if frames > limits.max_frames:
        raise BadInput(
            f"The image has {frames} frames; send a single still image, not an animation.",
            message_zh=f"图像有 {frames} 帧；请发送单张静态图像，而不是动画。",
            details={"frames": frames, "max_frames": limits.max_frames},
        )

    try:
        factor = _scale_factor(width, height, limits)
        if factor < 1 and fmt == "JPEG":
            # Let libjpeg decode at 1/2, 1/4 or 1/8 scale, never below the final size.
            image.draft(None, (math.ceil(width * factor), math.ceil(height * factor)))
        image.load()
        rgb = _to_rgb(_oriented(image))
    except _DECODE_ERRORS:
        raise InvalidImage(
            f"The {fmt} image is truncated or corrupt and cannot be decoded.",
            message_zh=f"该 {fmt} 图像已截断或损坏，无法解码。",
        ) from None

    rgb = _downscale(rgb, limits)
    array: ImageArray = np.array(rgb, dtype=np.uint8)  # a C-contiguous, writable copy
    if array.ndim != 3 or array.shape[2] != 3:  # pragma: no cover - guarded by _to_rgb
        raise InvalidImage("The image could not be converted to RGB.",
                           message_zh="图像无法转换为 RGB。")
    return array


def _check_shape(width: int, height: int, limits: ImageLimits) -> None:
    """Refuse, from the header, an image too small for a face or of an extreme shape."""
    short, long = min(width, height), max(width, height)
    if short < limits.min_side:
        raise ImageTooSmall(
            f"The image is {width}x{height} pixels; each side must be at least "
            f"{limits.min_side} pixels to hold a face.",
            message_zh=f"图像为 {width}x{height} 像素；每边至少需要 {limits.min_side} 像素"
                       "才能容纳人脸。",
            details={"width": width, "height": height, "min_side": limits.min_side},
        )
    if limits.max_aspect and long > limits.max_aspect * short:
        raise ExtremeAspectRatio(
            f"The image is {width}x{height} pixels, {long / short:.0f} times longer one way "
            f"than the other; the limit is {limits.max_aspect:g} to 1. Send a photo of the "
            "face, not a strip or a panorama.",
            message_zh=f"图像为 {width}x{height} 像素，一边比另一边长 {long / short:.0f} 倍；"
                       f"上限为 {limits.max_aspect:g} 比 1。请发送人脸照片，而不是长条图或全景图。",
            details={"width": width, "height": height, "max_aspect": limits.max_aspect},
        )


def _scale_factor(width: int, height: int, limits: ImageLimits) -> float:
    """The downscaling factor (1: none) that brings the image within ``max_side`` and
    ``max_area``."""
    factor = 1.0
    if limits.max_side and max(width, height) > limits.max_side:
        factor = limits.max_side / max(width, height)
    if limits.max_area and width * height * factor * factor > limits.max_area:
        factor = math.sqrt(limits.max_area / (width * height))
    return factor


def _oriented(image: Image.Image) -> Image.Image:
    """``image`` turned upright by its EXIF orientation; left as is if the EXIF is unreadable."""
    try:
        return ImageOps.exif_transpose(image) or image
    except _DECODE_ERRORS:
        return image


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB version of ``image``: 16-bit grey scaled to 8 bits, transparency over white."""
    mode = image.mode
    if mode == "RGB":
        return image
    if mode in _WIDE_GREY_MODES:
        values = np.asarray(image).astype(np.float64)
        scale = 1.0 if mode == "F" and values.max(initial=0.0) <= 1.0 else 257.0
        values = values * 255.0 if mode == "F" and scale == 1.0 else values / scale
        grey = np.clip(np.rint(values), 0, 255).astype(np.uint8)
        return Image.fromarray(np.ascontiguousarray(np.stack([grey] * 3, axis=-1)))
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in _ALPHA_MODES:
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _downscale(image: Image.Image, limits: ImageLimits) -> Image.Image:
    width, height = image.size
    factor = _scale_factor(width, height, limits)
    if factor >= 1:
        return image
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _mib(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def _format_list(limits: ImageLimits, last: str = "or") -> str:
    names = sorted(limits.formats)
    if len(names) <= 1:
        return "".join(names) or "supported"
    if last == "or":
        return ", ".join(names[:-1]) + " or " + names[-1]
    return "、".join(names[:-1]) + last + names[-1]


@dataclass(frozen=True)
class ScaledImage:
    """A decoded image and the way back to the upload's own pixels (upright, after the EXIF
    orientation): a coordinate in ``array`` times ``scale`` is the coordinate in the upload,
    which is ``width`` x ``height`` pixels."""

    array: ImageArray
    scale: float
    width: int
    height: int


def decode_image_scaled(data: bytes, limits: ImageLimits = DEFAULT_LIMITS) -> ScaledImage:
    """``decode_image``, and the factor from its pixels to the upload's own, so that boxes
    found in the (possibly downscaled) array can be reported where they are in the upload.
    The header is read a second time only after ``decode_image`` accepted the image."""
    array = decode_image(data, limits)
    height, width = array.shape[:2]
    with Image.open(io.BytesIO(data)) as header:
        w, h = header.size
        try:  # the transposing orientations swap the sides, as ``_oriented`` applied them
            if header.getexif().get(0x0112) in (5, 6, 7, 8):
                w, h = h, w
        except _DECODE_ERRORS:
            pass
    return ScaledImage(array, max(w, h) / max(width, height), w, h)


def header_pixels(data: bytes) -> int:
    """Width x height from an image's header (nothing decoded); 0 when it cannot be read
    (decoding then says why)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except Exception:
        return 0
    return int(width) * int(height)
