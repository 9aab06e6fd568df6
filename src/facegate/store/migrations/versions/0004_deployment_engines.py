"""Each deployment records the engine its templates come from, and the one they move to.

A deployment registered before engines were recorded takes the engine of most of its
templates; one without templates takes the installation's engine at its first enrolment.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:10:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('deployments', sa.Column('engine', sa.String(length=200), nullable=True))
    op.add_column('deployments',
                  sa.Column('migrating_to', sa.String(length=200), nullable=True))
    conn = op.get_bind()
    rows = conn.execute(sa.text(
        "SELECT deployment_id, engine, model_version, COUNT(*) AS n FROM templates "
        "GROUP BY deployment_id, engine, model_version ORDER BY n DESC")).fetchall()
    chosen: dict[str, str] = {}
    for deployment_id, engine, model_version, _ in rows:
        chosen.setdefault(deployment_id, f"{engine}/{model_version}")
    for deployment_id, key in chosen.items():
        conn.execute(sa.text("UPDATE deployments SET engine = :key WHERE id = :id"),
                     {"key": key, "id": deployment_id})


def downgrade() -> None:
    op.drop_column('deployments', 'migrating_to')  # SQLite >= 3.35 drops columns in place
    op.drop_column('deployments', 'engine')
