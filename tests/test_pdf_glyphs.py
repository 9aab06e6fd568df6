"""The PDF documents show their Chinese text on any machine, and drafts are marked as drafts.

Every font in every document is embedded (read with pypdf). A page of a Chinese notice, sign,
impact assessment and filing dossier is rasterised with poppler's ``pdftoppm`` (on a machine
without Chinese fonts, the old non-embedded ``STSong-Light`` came out as empty boxes): each
Chinese character that ``pdftotext -bbox`` places on the page must be drawn (ink in its box)
and drawn as itself (different characters give different pictures, where boxes are all alike).
Without poppler the rasterising tests are skipped, except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image
from pypdf import PdfReader
from tests.document_inputs import NOTICE_URL, assessment, dossier, notice_content, squash
from tests.document_inputs import receipt as receipt_input

from facegate.documents import (
    Document,
    deletion_receipt,
    filing_dossier,
    impact_assessment,
    notice,
    sign,
)
from facegate.documents.model import DRAFT_MARK_EN, DRAFT_MARK_ZH, DRAFT_TITLE

MANIFEST = Path(__file__).resolve().parents[1] / "examples" / "office-door" / "deployment.yaml"
DPI = 100
HAN = re.compile(r"^[\u4e00-\u9fff]{2,}$")
WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                  r"([^<]*)</word>")


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


def zh_documents(m: dict[str, Any], draft: bool = False) -> dict[str, Document]:
    return {
        "notice": notice(notice_content(m), "zh", draft=draft),
        "sign": sign(m, NOTICE_URL, draft=draft),
        "pia": impact_assessment(assessment(m), m, "zh", draft=draft),
        "filing": filing_dossier(dossier(m), "zh", draft=draft),
        "receipt": deletion_receipt(receipt_input(), "zh", draft=draft),
    }


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is missing: apt-get install poppler-utils (scripts/test.sh does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def rasterise(pdf: bytes, tmp_path: Path, page: int = 1) -> Image.Image:
    """One page as a grayscale picture at ``DPI``."""
    src = tmp_path / "doc.pdf"
    src.write_bytes(pdf)
    out = tmp_path / "page"
    subprocess.run([poppler("pdftoppm"), "-r", str(DPI), "-gray", "-png", "-singlefile",
                    "-f", str(page), "-l", str(page), str(src), str(out)], check=True)
    return Image.open(f"{out}.png").convert("L")


def han_words(pdf: bytes, tmp_path: Path, page: int = 1) -> list[tuple[str, tuple[float, ...]]]:
    """The runs of Chinese characters on a page and their boxes, in points."""
    src = tmp_path / "words.pdf"
    src.write_bytes(pdf)
    html = subprocess.run([poppler("pdftotext"), "-bbox", "-f", str(page), "-l", str(page),
                           str(src), "-"], check=True, capture_output=True, text=True).stdout
    return [(m[5], tuple(float(v) for v in m.groups()[:4])) for m in WORD.finditer(html)
            if HAN.match(m[5])]


def glyph_pictures(image: Image.Image, words: list[tuple[str, tuple[float, ...]]]
                   ) -> dict[str, tuple[float, list[int]]]:
    """Each character's ink (share of its box) and its picture (16 x 16, ink or not)."""
    scale = DPI / 72
    out: dict[str, tuple[float, list[int]]] = {}
    for text, (x0, y0, x1, y1) in words:
        step = (x1 - x0) / len(text)  # Chinese characters are all one em wide
        for i, ch in enumerate(text):
            box = (round((x0 + i * step) * scale), round(y0 * scale),
                   round((x0 + (i + 1) * step) * scale), round(y1 * scale))
            crop = image.crop(box)
            histogram = crop.histogram()
            background = histogram.index(max(histogram))  # paper, or the sign's band
            ink = [1 if abs(p - background) > 80 else 0
                   for p in crop.resize((16, 16)).tobytes()]
            share = sum(1 for p in crop.tobytes() if abs(p - background) > 80) / max(
                1, crop.width * crop.height)
            out.setdefault(ch, (share, ink))
    return out


def assert_glyphs_drawn(pdf: bytes, tmp_path: Path) -> None:
    words = han_words(pdf, tmp_path)
    assert len(words) >= 3, "no Chinese text found on the page"
    pictures = glyph_pictures(rasterise(pdf, tmp_path), words)
    assert len(pictures) >= 8
    blank = [ch for ch, (share, _) in pictures.items() if not 0.04 < share < 0.75]
    assert len(blank) <= len(pictures) // 10, f"characters not drawn: {''.join(blank)}"
    # Boxes in place of characters are all alike; real glyphs differ from one another.
    pairs = list(combinations(list(pictures.values())[:40], 2))
    alike = [1 for (_, a), (_, b) in pairs if sum(p != q for p, q in zip(a, b)) < 12]
    assert len(alike) <= len(pairs) // 20, f"{len(alike)} of {len(pairs)} pairs look alike"


# --- the fonts --------------------------------------------------------------------------------


def fonts(pdf: bytes) -> dict[str, bool]:
    """Every font a PDF uses (its pages and their forms), and whether it is embedded."""
    found: dict[str, bool] = {}

    def visit(resources: Any) -> None:
        for font in (resources.get("/Font") or {}).values():
            font = font.get_object()
            descendants = font.get("/DescendantFonts")
            target = descendants[0].get_object() if descendants else font
            descriptor = target.get("/FontDescriptor")
            embedded = descriptor is not None and any(
                k in descriptor.get_object() for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            found[str(font["/BaseFont"])] = embedded
        for xobject in (resources.get("/XObject") or {}).values():
            xobject = xobject.get_object()
            if xobject.get("/Resources") is not None:
                visit(xobject["/Resources"].get_object())

    for page in PdfReader(io.BytesIO(pdf)).pages:
        visit(page["/Resources"].get_object())
    return found


@pytest.mark.parametrize("kind", ["notice", "sign", "pia", "filing", "receipt"])
def test_every_font_is_embedded(manifest: dict[str, Any], kind: str) -> None:
    for doc in (zh_documents(manifest)[kind], zh_documents(manifest, draft=True)[kind]):
        used = fonts(doc.pdf())
        assert used and all(used.values()), f"not embedded: {used}"
        assert any("WenQuanYiMicroHei" in name for name in used)


def test_english_documents_embed_their_fonts_too(manifest: dict[str, Any]) -> None:
    for doc in (notice(notice_content(manifest), "en"), filing_dossier(dossier(manifest), "en"),
                deletion_receipt(receipt_input(), "en")):
        used = fonts(doc.pdf())
        assert used and all(used.values()), f"not embedded: {used}"


def test_pdffonts_agrees(manifest: dict[str, Any], tmp_path: Path) -> None:
    src = tmp_path / "notice.pdf"
    src.write_bytes(notice(notice_content(manifest), "zh").pdf())
    out = subprocess.run([poppler("pdffonts"), str(src)], check=True, capture_output=True,
                         text=True).stdout.splitlines()[2:]
    assert out
    for line in out:
        # name, type (one or two words), encoding, then emb, sub, uni, object, generation
        assert line.split()[-5] == "yes", line


# --- the glyphs on the page -------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["notice", "sign", "pia", "filing"])
def test_chinese_glyphs_are_drawn(manifest: dict[str, Any], kind: str, tmp_path: Path) -> None:
    assert_glyphs_drawn(zh_documents(manifest)[kind].pdf(), tmp_path)


def test_the_check_catches_boxes(tmp_path: Path) -> None:
    """The same check on a page whose Chinese characters are all one box: it fails."""
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    c = canvas.Canvas(buf, invariant=True)
    text = "人脸识别告知书目的方式保存期限"
    c.setFont("Helvetica", 20)
    for n in range(3):  # three lines of "words", each character drawn as a box
        y = 700 - 40 * n
        for i in range(len(text)):
            c.rect(72 + 22 * i + 2, y - 2, 16, 18, stroke=1, fill=0)
    c.save()
    boxes = rasterise(buf.getvalue(), tmp_path)
    words = [(text, (72.0, 842 - 700 - 18 + 40.0 * n, 72.0 + 22 * len(text), 842 - 700 + 4
                     + 40.0 * n)) for n in range(3)]
    pictures = glyph_pictures(boxes, words)
    pairs = list(combinations(list(pictures.values()), 2))
    alike = [1 for (_, a), (_, b) in pairs if sum(p != q for p, q in zip(a, b)) < 12]
    assert len(alike) > len(pairs) // 20


# --- drafts -----------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["notice", "sign", "pia", "filing", "receipt"])
def test_draft_is_marked_on_every_page_and_in_the_title(manifest: dict[str, Any],
                                                        kind: str) -> None:
    doc = zh_documents(manifest, draft=True)[kind]
    final = zh_documents(manifest)[kind]
    assert doc.title == f"{DRAFT_TITLE} {final.title}"
    assert f"<title>{DRAFT_TITLE} " in doc.html
    assert 'class="draft-banner"' in doc.html and DRAFT_MARK_EN in doc.html
    reader = PdfReader(io.BytesIO(doc.pdf()))
    assert reader.metadata is not None and reader.metadata.title == doc.title
    for page in reader.pages:
        text = squash(page.extract_text())
        assert squash(DRAFT_MARK_ZH + DRAFT_MARK_EN) in text


def test_notice_draft_has_several_pages_all_marked(manifest: dict[str, Any]) -> None:
    reader = PdfReader(io.BytesIO(notice(notice_content(manifest), "zh", draft=True).pdf()))
    assert len(reader.pages) >= 2
    assert all(squash(DRAFT_MARK_EN) in squash(p.extract_text()) for p in reader.pages)


@pytest.mark.parametrize("kind", ["notice", "sign", "pia", "filing", "receipt"])
def test_final_documents_are_unmarked(manifest: dict[str, Any], kind: str) -> None:
    doc = zh_documents(manifest)[kind]
    assert "DRAFT" not in doc.title
    assert "draft-banner" not in doc.html and DRAFT_MARK_EN not in doc.html
    assert "DRAFT" not in "".join(p.extract_text() for p in PdfReader(io.BytesIO(doc.pdf())).pages)
    again = zh_documents(manifest, draft=False)[kind]
    assert (again.html, again.pdf()) == (doc.html, doc.pdf())


@pytest.mark.parametrize("kind", ["notice", "sign"])
def test_draft_banner_and_watermark_are_drawn(manifest: dict[str, Any], kind: str,
                                              tmp_path: Path) -> None:
    def red(pdf: bytes) -> tuple[int, int]:
        src = tmp_path / "page.pdf"
        src.write_bytes(pdf)
        subprocess.run([poppler("pdftoppm"), "-r", "40", "-png", "-singlefile", "-f", "1",
                        "-l", "1", str(src), str(tmp_path / "page")], check=True)
        image = Image.open(tmp_path / "page.png").convert("RGB")
        top = image.height // 12
        reds = [(y < top) for y in range(image.height) for x in range(image.width)
                if _reddish(image.getpixel((x, y)))]
        return sum(reds), len(reds) - sum(reds)

    banner, watermark = red(zh_documents(manifest, draft=True)[kind].pdf())
    assert banner > 200  # a red band across the top margin
    assert watermark > 1000  # the translucent diagonal mark
    assert red(zh_documents(manifest)[kind].pdf()) == (0, 0)
    assert_glyphs_drawn(zh_documents(manifest, draft=True)[kind].pdf(), tmp_path)


def _reddish(pixel: Any) -> bool:
    r, g, b = pixel
    return bool(r > g + 12 and r > b + 12)
