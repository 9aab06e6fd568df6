"""The PDF documents' fonts, embedded as subsets so that a page looks the same everywhere.

Nothing depends on the fonts of the machine that renders or displays a document:

* Chinese text (and any character outside Windows-1252) is set in WenQuanYi Micro Hei
  (文泉驿微米黑), the first face of ``wqy-microhei.ttc``, which the PyPI package
  ``paperang-p2-fonts-cjk`` ships. Copyright 2008-2009 WenQuanYi Board of Trustees and Qianqian
  Fang; digitized data copyright 2007 Google Corporation (Droid Sans Fallback). Licence: Apache
  License 2.0, or GPL-3.0 with the font embedding exception, at the user's choice (the font's
  own name table says Apache-2.0). ``docs/licenses/wqy-microhei.txt`` has the licence text.
* Fixed-width text (digests, identifiers, URLs) is set in WenQuanYi Micro Hei Mono, the second
  face of the same file.
* Latin text is set in Bitstream Vera Sans and Vera Sans Bold, which reportlab ships
  (``reportlab/fonts/bitstream-vera-license.txt``: free to use, embed and redistribute).

reportlab embeds only the glyphs a document uses, so a PDF grows by tens of kilobytes, not by
the font's five megabytes. The font file is checked against its SHA-256 (the package is pinned)
so that a document's bytes never change under it; a missing or different file stops rendering
with :class:`FontMissing` rather than printing boxes in place of the Chinese text.
"""

from __future__ import annotations

import hashlib
import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Final

import reportlab
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

CJK_FONT: Final = "WenQuanYiMicroHei"
MONO: Final = "WenQuanYiMicroHeiMono"
SANS: Final = "VeraSans"
SANS_BOLD: Final = "VeraSans-Bold"

CJK_PACKAGE: Final = "paperang_p2_fonts_cjk"
CJK_FILE: Final = "fonts/wqy-microhei.ttc"
CJK_SHA256: Final = "2420e8078af796b19a3f6ef13de527a1a91c1e7171eea115926c614ced1009b3"


class FontMissing(RuntimeError):
    """The embedded fonts cannot be found (or are not the expected files)."""


def cjk_font_path() -> Path:
    """The WenQuanYi Micro Hei collection in the installed ``paperang-p2-fonts-cjk``."""
    try:
        path = Path(str(resources.files(CJK_PACKAGE).joinpath(CJK_FILE)))
    except ModuleNotFoundError as exc:
        raise FontMissing(
            "the Chinese font for PDF documents is missing: install the Python package "
            "paperang-p2-fonts-cjk (WenQuanYi Micro Hei; pip install -e . brings it)"
        ) from exc
    if not path.is_file():
        raise FontMissing(f"the Chinese font for PDF documents is missing: {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != CJK_SHA256:
        raise FontMissing(
            f"{path} is not the expected WenQuanYi Micro Hei (SHA-256 {digest}, expected "
            f"{CJK_SHA256}): reinstall paperang-p2-fonts-cjk at the pinned version"
        )
    return path


def _vera(name: str) -> str:
    path = os.path.join(os.path.dirname(reportlab.__file__), "fonts", name)
    if not os.path.isfile(path):
        raise FontMissing(f"reportlab's Bitstream Vera font is missing: {path}")
    return path


@cache
def ensure_fonts() -> None:
    """Register the embedded fonts with reportlab (once per process)."""
    cjk = str(cjk_font_path())
    pdfmetrics.registerFont(TTFont(CJK_FONT, cjk, subfontIndex=0))
    pdfmetrics.registerFont(TTFont(MONO, cjk, subfontIndex=1))
    pdfmetrics.registerFont(TTFont(SANS, _vera("Vera.ttf")))
    pdfmetrics.registerFont(TTFont(SANS_BOLD, _vera("VeraBd.ttf")))
    pdfmetrics.registerFontFamily(SANS, normal=SANS, bold=SANS_BOLD, italic=SANS,
                                  boldItalic=SANS_BOLD)


def needs_cjk_font(ch: str) -> bool:
    """True for a character the Latin font leaves to the Chinese one (outside Windows-1252)."""
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return True
    return False
