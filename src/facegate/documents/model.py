"""The neutral shape of a document: sections of blocks, drawn both as HTML and as PDF.

The builders in ``render`` say *what* a document holds; ``pdf`` and the HTML templates say how
it looks. Keeping one shape for both means the HTML and the PDF never disagree on content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from facegate.documents.text import Bi, Text

# The mark of a draft document: a banner on every page and in the HTML, a PDF watermark, and
# the start of its title.
DRAFT_MARK_ZH: Final = "草稿"
DRAFT_MARK_EN: Final = "DRAFT — not for display"
DRAFT_MARK: Final = f"{DRAFT_MARK_ZH} {DRAFT_MARK_EN}"
DRAFT_WATERMARK: Final = "草稿 DRAFT"
DRAFT_TITLE: Final = "[草稿 DRAFT]"


def draft_title(title: str, draft: bool) -> str:
    """A document's title, marked when the document is a draft."""
    return f"{DRAFT_TITLE} {title}" if draft else title


@dataclass(frozen=True)
class Code:
    """A value shown in a fixed-width face (digests, identifiers, URLs)."""

    text: str


@dataclass(frozen=True)
class Lines:
    """Several values in one cell, one per line."""

    items: tuple[Cell, ...]


Cell = Text | Code | Lines


@dataclass(frozen=True)
class Para:
    text: Text
    note: bool = False  # smaller, secondary text
    block: str = field(default="para", init=False)


@dataclass(frozen=True)
class Fields:
    """A two-column table of labels and values."""

    rows: tuple[tuple[Text, Cell], ...]
    block: str = field(default="fields", init=False)


@dataclass(frozen=True)
class Bullets:
    items: tuple[Cell, ...]
    block: str = field(default="bullets", init=False)


@dataclass(frozen=True)
class Grid:
    """A table with a header row; ``widths`` are relative column widths."""

    header: tuple[Text, ...]
    rows: tuple[tuple[Cell, ...], ...]
    widths: tuple[float, ...]
    block: str = field(default="grid", init=False)


Block = Para | Fields | Bullets | Grid


@dataclass(frozen=True)
class Section:
    heading: Text
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Layout:
    """A multi-section document (notice, impact assessment, filing dossier, receipt)."""

    kind: str
    lang: str
    title: Text
    meta_title: str  # the PDF's metadata title and the HTML <title>
    lead: tuple[Block, ...]
    sections: tuple[Section, ...]
    rules_line: Text
    accessible: bool = False  # larger type throughout (notice.accessible)
    draft: bool = False  # marked "草稿 DRAFT — not for display" (banner, watermark, title)

    @property
    def document_title(self) -> str:
        """The PDF's metadata title and the HTML <title>: ``meta_title``, marked if a draft."""
        return draft_title(self.meta_title, self.draft)


@dataclass(frozen=True)
class SignLayout:
    """The reminder sign for a capture area (place.public-signage)."""

    size: str  # "A4" | "A3"
    title: Bi
    rows: tuple[tuple[Bi, Cell], ...]
    notice_url: str
    scan: Bi
    footer: str
    rules_line: str
    meta_title: str
    draft: bool = False  # marked "草稿 DRAFT — not for display" (banner, watermark, title)

    @property
    def document_title(self) -> str:
        """The PDF's metadata title and the HTML <title>: ``meta_title``, marked if a draft."""
        return draft_title(self.meta_title, self.draft)


__all__ = [
    "DRAFT_MARK", "DRAFT_MARK_EN", "DRAFT_MARK_ZH", "DRAFT_TITLE", "DRAFT_WATERMARK", "Bi",
    "Block", "Bullets", "Cell", "Code", "Fields", "Grid", "Layout", "Lines", "Para", "Section",
    "SignLayout", "draft_title",
]
