"""The sign's QR code (segno): one builder, so that the PDF and the HTML show the same code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import segno

QR_ERROR = "q"  # 25 % recovery: a printed sign gets dirty and scratched


def sign_qr(notice_url: str) -> Any:
    """The QR code (a ``segno.QRCode``) that encodes exactly ``notice_url``."""
    if not notice_url:
        raise ValueError("a sign needs the notice URL for its QR code")
    return segno.make_qr(notice_url, error=QR_ERROR, boost_error=False)


def dark_runs(qr: Any) -> Iterator[tuple[int, int, int]]:
    """``(row, column, length)`` of each horizontal run of dark modules, quiet zone excluded."""
    for y, row in enumerate(qr.matrix):
        x = 0
        n = len(row)
        while x < n:
            if row[x]:
                start = x
                while x < n and row[x]:
                    x += 1
                yield y, start, x - start
            else:
                x += 1


def qr_svg(notice_url: str, title: str) -> str:
    """The QR code as inline SVG (scalable, sized by CSS), with a title for screen readers."""
    return str(sign_qr(notice_url).svg_inline(
        scale=1, border=4, omitsize=True, title=title, svgclass="qr", lineclass=None,
        dark="#000", light="#fff",
    ))
