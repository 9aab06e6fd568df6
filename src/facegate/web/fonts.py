"""The Chinese web font of the kiosk: WenQuanYi Micro Hei, the face the PDF documents embed
(``facegate.documents.fonts``; Apache-2.0, ``docs/licenses/wqy-microhei.txt``).

Browsers' font sanitiser (OTS) refuses the packaged collection (``.ttc``: a FontForge table
that is not 4-byte aligned). The first face is taken out of the collection as a plain TrueType
font, its tables copied 4-byte aligned and the FontForge timestamp table dropped, once per
process, in memory."""

from __future__ import annotations

import struct
from functools import cache

from facegate.documents.fonts import cjk_font_path

DROPPED = {b"FFTM"}  # FontForge's timestamps: no glyph depends on them


def ttc_face(data: bytes, index: int = 0) -> bytes:
    """Face ``index`` of a TrueType collection as a standalone TrueType font."""
    if data[:4] != b"ttcf":
        raise ValueError("not a TrueType collection")
    count = struct.unpack(">I", data[8:12])[0]
    if not 0 <= index < count:
        raise ValueError(f"the collection has {count} faces, not {index + 1}")
    at = struct.unpack(">I", data[12 + 4 * index:16 + 4 * index])[0]
    version, n = struct.unpack(">4sH", data[at:at + 6])
    records = []
    for i in range(n):
        tag, checksum, offset, length = struct.unpack(">4sIII",
                                                      data[at + 12 + 16 * i:at + 28 + 16 * i])
        if tag not in DROPPED:
            records.append((tag, checksum, data[offset:offset + length]))
    records.sort(key=lambda r: r[0])
    n = len(records)
    power = 1 << (n.bit_length() - 1)
    head = struct.pack(">4sHHHH", version, n, power * 16, power.bit_length() - 1,
                       n * 16 - power * 16)
    offset = 12 + 16 * n
    directory, body = [], []
    for tag, checksum, table in records:
        directory.append(struct.pack(">4sIII", tag, checksum, offset, len(table)))
        padded = table + b"\0" * (-len(table) % 4)
        body.append(padded)
        offset += len(padded)
    return head + b"".join(directory) + b"".join(body)


@cache
def cjk_webfont() -> bytes:
    """WenQuanYi Micro Hei as a TrueType font a browser accepts."""
    return ttc_face(cjk_font_path().read_bytes(), 0)
