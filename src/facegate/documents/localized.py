"""The manifest's own texts in a document's language, and the note when one is missing.

A text a person reads is a plain string or ``{"zh": ..., "en": ...}`` with at least one language
(``facegate.policy.texts``). :func:`choose` picks the document's language when the text has it
and otherwise the other one, and says that it fell back; a bilingual (``zh-en``) document shows
both languages, or the one given and falls back. A plain string is shown as it is, in whatever
language it was written. :class:`Picker` collects, for one document, the fields that fell back,
or whose text, plain or not, is written in the other script (an English sentence in a Chinese
document; contact details aside): the document lists them (:attr:`Document.fallbacks`) and
shows a short bilingual note naming them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from facegate.documents.model import Para
from facegate.documents.text import DASH, Bi, Text

# The note shown when some text is only in the other language, by the document's language.
_NOTES = {
    "zh": Bi("部分内容仅有英文：{fields}", "Some text is only available in English: {fields}"),
    "en": Bi("部分内容仅有中文：{fields}", "Some text is only available in Chinese: {fields}"),
    "zh-en": Bi("部分内容仅有一种语言：{fields}",
                "Some text is only available in one language: {fields}"),
}
NOTE_LABEL = Bi("语言说明", "Language note")
# How the note names a manifest field to a reader (the header and ``fallbacks`` keep the
# field's path, for programs).
FIELD_WORDS = {
    "name": Bi("名称", "name"),
    "operator.name": Bi("运营者名称", "operator's name"),
    "operator.contact": Bi("联系方式", "contact"),
    "location.capture_area": Bi("采集区域", "capture area"),
    "location.public_security_necessity": Bi("公共安全必要性", "public security necessity"),
    "necessity": Bi("必要性", "necessity"),
    "least_impact": Bi("影响最小的方式", "least intrusive means"),
    "alternative.description": Bi("替代方式说明", "alternative"),
    "assessor": Bi("评估人", "assessor"),
    "conclusion": Bi("评估结论", "conclusion"),
    "sections.lawfulness": Bi("合法性、正当性、必要性", "lawfulness"),
    "sections.impact": Bi("对个人权益的影响", "impact"),
    "sections.risks": Bi("安全风险", "risks"),
    "sections.protections": Bi("保护措施", "protections"),
}
# The response header that lists them, on generated documents and on the public notice page.
FALLBACK_HEADER = "X-Facegate-Language-Fallback"


def fallback_headers(fallbacks: Sequence[str]) -> dict[str, str]:
    """The header naming the fields shown in the other language; none when none were."""
    return {FALLBACK_HEADER: ",".join(fallbacks)} if fallbacks else {}


_OF_DEPLOYMENT = re.compile(r"^assessments\[(?P<dep>[^\]]+)\]\.(?P<field>.+)$")


def field_words(name: str) -> Bi:
    """A field as the note names it to a reader; a path it does not know, as itself."""
    m = _OF_DEPLOYMENT.match(name)
    if m:
        w = field_words(m["field"])
        return Bi(f"{m['dep']} 的{w.zh}", f"{w.en} ({m['dep']})")
    return FIELD_WORDS.get(name, Bi(name, name))


@dataclass(frozen=True)
class Chosen:
    """The text to show, and whether it is not in the document's language."""

    text: Text
    fallback: bool = False


def _given(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def choose(value: Any, lang: str) -> Chosen:
    """A manifest text for a ``zh``, ``en`` or ``zh-en`` document (a missing one as the dash)."""
    if not isinstance(value, Mapping):
        if value is None or value == "" or value == []:
            return Chosen(DASH)
        return Chosen(str(value))
    zh, en = _given(value.get("zh")), _given(value.get("en"))
    if lang == "zh-en":
        if zh and en:  # the same text in both is shown once
            return Chosen(Bi(zh, en) if zh != en else zh)
        one = zh or en
        return Chosen(one, True) if one else Chosen(DASH)
    wanted, other = (zh, en) if lang == "zh" else (en, zh)
    if wanted:
        return Chosen(wanted)
    return Chosen(other, True) if other else Chosen(DASH)


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def written_in_other_script(text: str, lang: str) -> bool:
    """Whether a text, whatever its source (a plain string says nothing of its language), is
    not in the document's language: no Chinese character in a Chinese document, no Latin word
    in an English one, or only one of the two on a bilingual sign. Names, codes and numbers
    without words count as neither."""
    cjk, latin = bool(_CJK.search(text)), bool(_LATIN_WORD.search(text))
    if lang == "zh":
        return latin and not cjk
    if lang == "en":
        return cjk and not latin
    return cjk != latin


@dataclass
class Picker:
    """Picks one document's texts (:func:`choose`) and remembers the fields that fell back."""

    lang: str
    fallbacks: list[str] = field(default_factory=list)

    def __call__(self, name: str, value: Any) -> Text:
        chosen = choose(value, self.lang)
        foreign = (isinstance(chosen.text, str) and not name.endswith("contact")
                   and written_in_other_script(chosen.text, self.lang))
        if (chosen.fallback or foreign) and name not in self.fallbacks:
            self.fallbacks.append(name)
        return chosen.text

    def note_text(self) -> Bi | None:
        """The bilingual note naming the fields that fell back; none when none did."""
        if not self.fallbacks:
            return None
        note = _NOTES.get(self.lang, _NOTES["zh-en"])
        words = [field_words(f) for f in self.fallbacks]
        return Bi(note.zh.format(fields="、".join(w.zh for w in words)),
                  note.en.format(fields=", ".join(w.en for w in words)))

    def note(self) -> tuple[Para, ...]:
        """The note as a block for a document's lead; nothing when no field fell back."""
        text = self.note_text()
        return () if text is None else (Para(text, note=True),)
