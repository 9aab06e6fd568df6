"""The draft mark on a PDF page: a banner across the top margin and a diagonal watermark.

A document built with ``draft=True`` carries "草稿 DRAFT — not for display" on every page, so
that a printed draft cannot be mistaken for the notice or sign to put up. The HTML shows the
same banner (``templates/base.html``); the title says DRAFT too
(:func:`facegate.documents.model.draft_title`).
"""

from __future__ import annotations

import math
from typing import Any, Final

from reportlab.lib import colors
from reportlab.pdfbase import pdfmetrics

from facegate.documents.fonts import CJK_FONT
from facegate.documents.model import DRAFT_MARK, DRAFT_WATERMARK

DRAFT_RED: Final = colors.HexColor("#b00020")  # 6.9:1 against white
WATERMARK_ALPHA: Final = 0.14


def draw_draft_mark(canv: Any, pagesize: tuple[float, float], margin: float) -> None:
    """Draw the banner in the top margin and the watermark over the page's content."""
    pw, ph = pagesize
    canv.saveState()
    # The banner: white text on red, the full width between the margins, in the top margin.
    height = margin * 0.5
    y = ph - margin * 0.8
    canv.setFillColor(DRAFT_RED)
    canv.rect(margin, y, pw - 2 * margin, height, stroke=0, fill=1)
    size = height * 0.55
    canv.setFillColor(colors.white)
    canv.setFont(CJK_FONT, size)
    canv.drawCentredString(pw / 2, y + (height - size) / 2 + size * 0.15, DRAFT_MARK)
    # The watermark: large, translucent, along the page's diagonal, over the content.
    angle = math.degrees(math.atan2(ph, pw))
    diagonal = math.hypot(pw, ph)
    size = diagonal * 0.6 / pdfmetrics.stringWidth(DRAFT_WATERMARK, CJK_FONT, 1)
    canv.translate(pw / 2, ph / 2)
    canv.rotate(angle)
    canv.setFillColor(DRAFT_RED, alpha=WATERMARK_ALPHA)
    canv.setFont(CJK_FONT, size)
    canv.drawCentredString(0, -size * 0.35, DRAFT_WATERMARK)
    canv.restoreState()
