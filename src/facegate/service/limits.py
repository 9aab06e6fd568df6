"""Length limits on free text the use cases accept (``security.controls``): references,
transaction ids and names are short; narrative text is bounded too. Longer input is bad input,
refused before anything is stored or audited."""

from __future__ import annotations

from facegate.errors import BadInput

ID_MAX = 64  # deployment and subject ids
TRANSACTION_MAX = 100  # transaction ids (a 100-character column)
RELATIONSHIP_MAX = 64  # a guardian's relationship (a 64-character column)
REF_MAX = 200  # references (a guardian's), names of staff and assessors
TEXT_MAX = 10_000  # narrative text: assessment sections and conclusions, incidents


def bounded(value: str | None, what: str, limit: int = REF_MAX) -> str | None:
    """``value`` unchanged, or ``BadInput`` naming ``what`` when it is longer than ``limit``."""
    if value is not None and len(value) > limit:
        raise BadInput(f"{what} is longer than {limit} characters ({len(value)})")
    return value
