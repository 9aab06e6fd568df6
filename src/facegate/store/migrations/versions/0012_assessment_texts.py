"""Assessment texts in either language: an impact assessment's conclusion, like its sections,
is a plain string or ``{"zh": ..., "en": ...}``. Its text column now holds the conclusion as
JSON: a JSON string for a plain text, an object of the languages given otherwise.

Upgrade writes each existing conclusion as a JSON string. Downgrade writes a plain text back:
a JSON string as it is, both languages of an object joined by " / " (the older release reads
one string). The column's type does not change, so no table is rebuilt.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:00:00
"""
import json
from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

_ASSESSMENTS = sa.table('assessments', sa.column('id', sa.Integer),
                        sa.column('conclusion', sa.Text))


def _rewrite(convert: Callable[[str | None], str | None]) -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_ASSESSMENTS.c.id, _ASSESSMENTS.c.conclusion)).all()
    for row_id, conclusion in rows:
        new = convert(conclusion)
        if new != conclusion:
            conn.execute(_ASSESSMENTS.update().where(_ASSESSMENTS.c.id == row_id)
                         .values(conclusion=new))


def _as_json(text: str | None) -> str | None:
    return None if text is None else json.dumps(text, ensure_ascii=False)


def _as_plain(stored: str | None) -> str | None:
    if stored is None:
        return None
    try:
        value = json.loads(stored)
    except ValueError:
        return stored
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        given = [value[k] for k in ('zh', 'en') if isinstance(value.get(k), str) and value[k]]
        return ' / '.join(given) if given else stored
    return stored


def upgrade() -> None:
    _rewrite(_as_json)


def downgrade() -> None:
    _rewrite(_as_plain)
