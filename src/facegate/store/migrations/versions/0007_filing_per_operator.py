"""The filing duty belongs to each operator (personal information handler): every filing clock
names its operator.

Clocks recorded before this revision were counted for the whole installation, whose dossier
named the operator of the first deployment; they are given that operator.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 02:00:00
"""
import json

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def _operator(manifest: object) -> str | None:
    if isinstance(manifest, str):
        manifest = json.loads(manifest)
    op_ = manifest.get('operator') if isinstance(manifest, dict) else None
    name = op_.get('name') if isinstance(op_, dict) else None
    if isinstance(name, dict):
        name = name.get('zh') or name.get('en')
    return str(name).strip() or None if name else None


def upgrade() -> None:
    op.add_column('filing_events', sa.Column('operator', sa.String(length=200), nullable=True))
    op.create_index('ix_filing_events_operator', 'filing_events', ['operator'])
    conn = op.get_bind()
    first = conn.execute(sa.text(
        "SELECT manifest FROM deployments ORDER BY created_at, id LIMIT 1")).fetchone()
    name = _operator(first[0]) if first else None
    if name:
        conn.execute(sa.text("UPDATE filing_events SET operator = :name "
                             "WHERE operator IS NULL"), {"name": name})


def downgrade() -> None:
    op.drop_index('ix_filing_events_operator', 'filing_events')
    op.drop_column('filing_events', 'operator')
