"""Free text a person reads, given in one language or in both.

A manifest's readable texts (the deployment's name, the operator's name and contact, the
necessity and least-impact statements, the capture area, the public-security necessity and the
alternative's description) are either a plain string, as before, or a mapping
``{zh: ..., en: ...}`` with at least one language. A plain string is kept exactly as given; a
mapping becomes a :class:`LocalText`, which serialises back to the languages given (so a stored
manifest or notice reads as JSON and parses again). The documents pick the language they are
written in and say when they had to fall back to the other one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_serializer

TEXT_LANGS: Final = ("zh", "en")


class LocalText(BaseModel):
    """A readable text in Simplified Chinese, English or both; a blank language is absent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: str | None = None
    en: str | None = None

    @model_serializer
    def _as_json(self) -> dict[str, str]:
        return {k: v for k, v in (("zh", self.zh), ("en", self.en)) if v is not None}


def _text(value: Any) -> Any:
    """A plain string as it is; a ``{zh, en}`` mapping checked and made a :class:`LocalText`."""
    if value is None or isinstance(value, str | LocalText):
        return value
    if not isinstance(value, Mapping):
        raise ValueError("give the text as a string or as a mapping {zh: ..., en: ...}")
    unknown = sorted(str(k) for k in value if k not in TEXT_LANGS)
    if unknown:
        raise ValueError(f"unknown language {', '.join(map(repr, unknown))}; the text is a "
                         "string or a mapping with zh, en or both")
    out: dict[str, str] = {}
    for lang, text in value.items():
        if text is None:
            continue
        if not isinstance(text, str):
            raise ValueError(f"the {lang} text must be a string")
        if text.strip():
            out[lang] = text
    if not out:
        raise ValueError("the text is empty: give it in zh, en or both")
    return LocalText(**out)


# A readable manifest text: a plain string or {zh: ..., en: ...}.
Said = Annotated[str | LocalText | None, BeforeValidator(_text)]


def blank_text(value: str | LocalText | None) -> bool:
    """Whether a readable text says nothing (missing, empty, or only empty languages)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return all(t is None or not t.strip() for t in (value.zh, value.en))


def one_line(value: str | LocalText | None, sep: str = " / ") -> str | None:
    """A readable text as one string: a plain string as it is; both languages joined by
    ``sep``, or the one given."""
    if value is None or isinstance(value, str):
        return value
    given = [t for t in (value.zh, value.en) if t]
    return sep.join(given) if given else None


def in_lang(value: str | LocalText | None, lang: str) -> str | None:
    """A readable text in ``lang`` (``zh`` or ``en``), or in the other language if that is all
    there is; a plain string as it is."""
    if value is None or isinstance(value, str):
        return value
    first, second = (value.zh, value.en) if lang == "zh" else (value.en, value.zh)
    return first or second


def as_json(value: str | LocalText | None) -> str | dict[str, str] | None:
    """A readable text as JSON: a plain string as it is, a mapping of the languages given."""
    if value is None or isinstance(value, str):
        return value
    return value.model_dump()
