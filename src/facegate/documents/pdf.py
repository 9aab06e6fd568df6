"""PDF output with reportlab (platypus).

Fonts (:mod:`~facegate.documents.fonts`): Latin text is set in Bitstream Vera Sans, Chinese
text in WenQuanYi Micro Hei, fixed-width text in WenQuanYi Micro Hei Mono; each is embedded as a
subset, so a page shows the same on a machine without Chinese fonts, and the text extracts back
as Unicode. Each run of text is given the font that can show it. A draft document
(``Layout.draft``) carries the mark of :mod:`~facegate.documents.draft` on every page.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A3, A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepInFrame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from facegate.documents.draft import draw_draft_mark
from facegate.documents.fonts import (
    CJK_FONT,
    MONO,
    SANS,
    SANS_BOLD,
    ensure_fonts,
    needs_cjk_font,
)
from facegate.documents.model import (
    Block,
    Bullets,
    Cell,
    Code,
    Fields,
    Grid,
    Layout,
    Lines,
    Para,
    SignLayout,
)
from facegate.documents.qr import dark_runs, sign_qr
from facegate.documents.text import Text, plain, word

INK: Final = colors.HexColor("#1a1a1a")
SECOND_HEX: Final = "#4a4a4a"  # secondary text; 8.9:1 on white
SECOND: Final = colors.HexColor(SECOND_HEX)
ACCENT: Final = colors.HexColor("#0b3d91")  # headings and the sign's band; 10.4:1 on white
RULE: Final = colors.HexColor("#9aa5b8")
LABEL_BG: Final = colors.HexColor("#eef2f8")

PAGE_SIZES: Final = {"A4": A4, "A3": A3}
# A table's own font (never drawn: its cells hold paragraphs), so that no base font comes in.
CELL_FONT: Final = ("FONTNAME", (0, 0), (-1, -1), SANS)


def markup(text: str) -> str:
    """Paragraph markup for plain text: escaped, each run in a font that has its glyphs."""
    out = []
    for cjk, run in groupby(text, key=needs_cjk_font):
        s = escape("".join(run)).replace("\n", "<br/>")
        out.append(f'<font name="{CJK_FONT}">{s}</font>' if cjk else s)
    return "".join(out)


def _mono(text: str) -> str:
    # Break points after separators so that long URLs and digests wrap inside a cell.
    return "".join(
        f'<font name="{MONO}">{markup(part)}</font>' for part in _breakable(text)
    )


def _breakable(text: str) -> Iterator[str]:
    """Split a long token into pieces of at most 16 characters (so that it can wrap)."""
    for i in range(0, len(text), 16):
        yield text[i:i + 16]


class Styles:
    """The paragraph styles of one document, scaled (the A3 sign, the accessible notice)."""

    def __init__(self, lang: str, scale: float = 1.0) -> None:
        # CJK wrapping breaks between Chinese characters and still keeps Latin words whole, so
        # it suits English documents too (which may quote Chinese text).
        wrap = "CJK"
        # The Chinese font has no bold: Chinese documents set headings in one weight throughout.
        bold = SANS_BOLD if lang == "en" else SANS

        def style(name: str, size: float, **kw: Any) -> ParagraphStyle:
            kw.setdefault("fontName", SANS)
            kw.setdefault("textColor", INK)
            kw.setdefault("leading", size * 1.4)
            return ParagraphStyle(name, fontSize=size, wordWrap=wrap, splitLongWords=1, **kw)

        s = scale
        self.scale = s
        self.title = style("title", 20 * s, fontName=bold, textColor=ACCENT,
                           leading=26 * s, spaceAfter=4 * s)
        self.h2 = style("h2", 13.5 * s, fontName=bold, textColor=ACCENT,
                        leading=18 * s, spaceBefore=10 * s, spaceAfter=3 * s)
        self.body = style("body", 10.5 * s, spaceAfter=4 * s)
        self.bullet = style("bullet", 10.5 * s, spaceAfter=3 * s, leftIndent=14 * s,
                            bulletIndent=3 * s, bulletFontName=SANS)
        self.note = style("note", 8.5 * s, textColor=SECOND, spaceAfter=3 * s)
        self.cell = style("cell", 9.5 * s, leading=13 * s)
        self.head = style("head", 9.5 * s, fontName=bold, leading=13 * s,
                          textColor=colors.white)
        self.label = style("label", 9.5 * s, fontName=bold, leading=13 * s)
        self.footer = style("footer", 7.5 * s, textColor=SECOND, leading=10 * s)
        self.page = style("page", 7.5 * s, textColor=SECOND, leading=10 * s, alignment=TA_RIGHT)


def text_markup(text: Text, second_size: float | None = None) -> str:
    """Markup for a text; a bilingual one puts the English under the Chinese, smaller."""
    if isinstance(text, str):
        return markup(text)
    size = f' size="{second_size:.1f}"' if second_size else ""
    return (f"{markup(text.zh)}<br/>"
            f'<font{size} color="{SECOND_HEX}">{markup(text.en)}</font>')


def cell_markup(cell: Cell, second_size: float | None = None) -> str:
    if isinstance(cell, Code):
        return _mono(cell.text)
    if isinstance(cell, Lines):
        return "<br/>".join(cell_markup(c, second_size) for c in cell.items)
    return text_markup(cell, second_size)


def _para(cell: Cell, style: ParagraphStyle) -> Paragraph:
    return Paragraph(cell_markup(cell, style.fontSize * 0.85), style)


def _table(data: list[list[Paragraph]], widths: Sequence[float], header: bool,
           label_column: bool, scale: float) -> Table:
    t = Table(data, colWidths=list(widths), repeatRows=1 if header else 0, hAlign="LEFT",
              splitInRow=1)  # a cell taller than a page continues on the next
    cmds: list[tuple[Any, ...]] = [
        CELL_FONT,
        ("GRID", (0, 0), (-1, -1), 0.5, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 5 * scale),
        ("RIGHTPADDING", (0, 0), (-1, -1), 5 * scale),
        ("TOPPADDING", (0, 0), (-1, -1), 3.5 * scale),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 4.5 * scale),
    ]
    if header:
        cmds.append(("BACKGROUND", (0, 0), (-1, 0), ACCENT))
    if label_column:
        cmds.append(("BACKGROUND", (0, 0), (0, -1), LABEL_BG))
    t.setStyle(TableStyle(cmds))
    return t


def _blocks(blocks: Sequence[Block], st: Styles, width: float) -> list[Flowable]:
    out: list[Flowable] = []
    for b in blocks:
        if isinstance(b, Para):
            style = st.note if b.note else st.body
            out.append(_para(b.text, style))
        elif isinstance(b, Fields):
            data = [[_para(k, st.label), _para(v, st.cell)] for k, v in b.rows]
            out.append(_table(data, (width * 0.3, width * 0.7), False, True, st.scale))
            out.append(Spacer(1, 4 * st.scale))
        elif isinstance(b, Bullets):
            out += [Paragraph(cell_markup(item, st.body.fontSize * 0.85), st.bullet,
                              bulletText="•") for item in b.items]
        elif isinstance(b, Grid):
            total = sum(b.widths)
            widths = [width * w / total for w in b.widths]
            data = [[_para(h, st.head) for h in b.header]]
            data += [[_para(c, st.cell) for c in row] for row in b.rows]
            out.append(_table(data, widths, True, False, st.scale))
            out.append(Spacer(1, 4 * st.scale))
    return out


def _heading(text: Text, st: Styles) -> Paragraph:
    return Paragraph(text_markup(text, st.h2.fontSize * 0.75), st.h2)


def _story(layout: Layout, st: Styles, width: float) -> list[Flowable]:
    story: list[Flowable] = [Paragraph(text_markup(layout.title, st.title.fontSize * 0.6),
                                       st.title)]
    story += _blocks(layout.lead, st, width)
    for section in layout.sections:
        # A heading never ends a page: a new page starts when little room is left for it.
        story += [CondPageBreak(40 * mm * st.scale), _heading(section.heading, st)]
        story += _blocks(section.blocks, st, width)
    return story


def _build(make_story: Callable[[float], list[Flowable]], *, pagesize: tuple[float, float],
           title: str, subject: str, lang: str, footer: Text, st: Styles,
           margin: float = 18 * mm, draft: bool = False) -> bytes:
    """Lay the story out twice: once to count the pages, once to print "page n of total"."""
    ensure_fonts()
    pw = pagesize[0]
    footer_h = _footer_height(st.scale)
    frame_w = pw - 2 * margin

    def render(total: int) -> tuple[bytes, int]:
        pages = [0]

        def on_page(canv: Any, doc: Any) -> None:
            pages[0] = doc.page
            canv.saveState()
            canv.setStrokeColor(RULE)
            canv.setLineWidth(0.5)
            y = margin * 0.5 + footer_h - 4 * mm
            canv.line(margin, y + 2 * mm, pw - margin, y + 2 * mm)
            if total > 1:
                num = Paragraph(markup(plain(word("page", lang, n=doc.page, total=total))),
                                st.page)
                num.wrapOn(canv, 45 * mm, footer_h)
                num.drawOn(canv, pw - margin - 45 * mm, y - num.height)
                foot_w = frame_w - 50 * mm
            else:
                foot_w = frame_w
            rules = Paragraph(text_markup(footer, st.footer.fontSize), st.footer)
            rules.wrapOn(canv, foot_w, footer_h)
            rules.drawOn(canv, margin, y - rules.height)
            canv.restoreState()

        def on_page_end(canv: Any, doc: Any) -> None:
            draw_draft_mark(canv, pagesize, margin)

        buf = io.BytesIO()
        doc = BaseDocTemplate(
            buf, pagesize=pagesize, leftMargin=margin, rightMargin=margin, topMargin=margin,
            bottomMargin=margin + footer_h, title=title, author="facegate", creator="facegate",
            subject=subject, lang=_pdf_lang(lang), displayDocTitle=True, invariant=True,
            initialFontName=SANS,  # not the base font Helvetica, which is never embedded
        )
        frame = Frame(margin, margin * 0.5 + footer_h, frame_w,
                      _frame_height(pagesize, margin, st.scale), id="body",
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        marks: dict[str, Any] = {"onPageEnd": on_page_end} if draft else {}
        doc.addPageTemplates([PageTemplate(id="page", frames=[frame], onPage=on_page,
                                           **marks)])
        doc.build(make_story(frame_w))
        return buf.getvalue(), pages[0]

    data, pages = render(1)
    if pages > 1:
        data, _ = render(pages)
    return data


def _footer_height(scale: float) -> float:
    return float(16 * mm * scale)


def _frame_height(pagesize: tuple[float, float], margin: float, scale: float) -> float:
    return pagesize[1] - margin - (margin * 0.5 + _footer_height(scale))


def _pdf_lang(lang: str) -> str:
    return "en" if lang == "en" else "zh-CN"


def layout_pdf(layout: Layout) -> bytes:
    st = Styles(layout.lang, 1.25 if layout.accessible else 1.0)
    return _build(lambda width: _story(layout, st, width), pagesize=A4,
                  title=layout.document_title, subject=f"facegate {layout.kind}",
                  lang=layout.lang, footer=layout.rules_line, st=st, draft=layout.draft)


# --- the sign ---------------------------------------------------------------------------------


class QRFlowable(Flowable):  # type: ignore[misc]
    """The QR code as vector drawing: one filled path in a form XObject named ``qr-...``."""

    def __init__(self, data: str, size: float) -> None:
        super().__init__()
        self.data = data
        self.qr = sign_qr(data)
        self.size = size
        self.width = self.height = size

    def wrap(self, avail_w: float, avail_h: float) -> tuple[float, float]:
        return self.size, self.size

    def draw(self) -> None:
        canv = self.canv
        border = 4  # the quiet zone, in modules
        n = len(self.qr.matrix)
        module = self.size / (n + 2 * border)
        name = "qr-" + hashlib.sha256(self.data.encode()).hexdigest()[:16]
        if not canv.hasForm(name):
            canv.beginForm(name, 0, 0, self.size, self.size)
            canv.setFillColor(colors.white)
            canv.rect(0, 0, self.size, self.size, stroke=0, fill=1)
            canv.setFillColor(colors.black)
            path = canv.beginPath()
            for y, x, length in dark_runs(self.qr):
                path.rect((x + border) * module, (n - 1 - y + border) * module,
                          length * module, module)
            canv.drawPath(path, stroke=0, fill=1)
            canv.endForm()
        canv.doForm(name)


def sign_pdf(sign: SignLayout) -> bytes:
    pagesize = PAGE_SIZES[sign.size]
    s = pagesize[0] / A4[0]  # 1.0 on A4, about 1.41 on A3
    st = Styles("zh-en", s)
    band_zh = ParagraphStyle("band_zh", fontName=SANS_BOLD, fontSize=48 * s, leading=56 * s,
                             textColor=colors.white, alignment=TA_CENTER)
    band_en = ParagraphStyle("band_en", parent=band_zh, fontSize=28 * s, leading=34 * s)
    label = ParagraphStyle("sign_label", fontName=SANS_BOLD, fontSize=17 * s, leading=22 * s,
                           textColor=ACCENT, wordWrap="CJK")
    value = ParagraphStyle("sign_value", fontName=SANS, fontSize=17 * s, leading=23 * s,
                           textColor=INK, wordWrap="CJK", splitLongWords=1)
    url = ParagraphStyle("sign_url", parent=value, fontName=MONO, fontSize=10 * s,
                         leading=13 * s, alignment=TA_CENTER)
    scan = ParagraphStyle("sign_scan", parent=value, fontSize=15 * s, leading=20 * s,
                          alignment=TA_CENTER)

    def story(width: float) -> list[Flowable]:
        band = Table(
            [[Paragraph(markup(sign.title.zh), band_zh)],
             [Paragraph(markup(sign.title.en), band_en)]],
            colWidths=[width],
        )
        band.setStyle(TableStyle([
            CELL_FONT,
            ("BACKGROUND", (0, 0), (-1, -1), ACCENT),
            ("TOPPADDING", (0, 0), (-1, 0), 12 * s),
            ("BOTTOMPADDING", (0, -1), (-1, -1), 14 * s),
        ]))
        rows = [[Paragraph(text_markup(k, 12 * s), label),
                 Paragraph(cell_markup(v, 13 * s), value)] for k, v in sign.rows]
        facts = Table(rows, colWidths=[width * 0.3, width * 0.7])
        facts.setStyle(TableStyle([
            CELL_FONT,
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -2), 0.75, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 5 * s),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 6 * s),
            ("LEFTPADDING", (0, 0), (-1, -1), 4 * s),
        ]))
        qr_size = 50 * mm * s
        qr = Table(
            [[QRFlowable(sign.notice_url, qr_size)],
             [Paragraph(_mono(sign.notice_url), url)],
             [Paragraph(text_markup(sign.scan, 12 * s), scan)]],
            colWidths=[width],
        )
        qr.setStyle(TableStyle([CELL_FONT, ("ALIGN", (0, 0), (-1, -1), "CENTER"),
                                ("TOPPADDING", (0, 0), (-1, -1), 2 * s),
                                ("BOTTOMPADDING", (0, 0), (-1, -1), 2 * s)]))
        content = [band, Spacer(1, 8 * s), facts, Spacer(1, 8 * s), qr]
        # The sign is one page: very long texts are shrunk rather than spilled onto a second.
        return [KeepInFrame(width, _frame_height(pagesize, margin, s) - 1, content,
                            mode="shrink")]

    margin = 14 * mm * s
    footer = f"{sign.footer}\n{sign.rules_line}"
    return _build(story, pagesize=pagesize, title=sign.document_title, subject="facegate sign",
                  lang="zh-en", footer=footer, st=st, margin=margin, draft=sign.draft)
