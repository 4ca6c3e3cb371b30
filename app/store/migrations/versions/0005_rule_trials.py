"""Rule trials: each candidate set of rule documents tried before it could go live, and its outcome.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "rule_trials",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("origin", sa.String(200), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("problems", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_rule_trials_finished_at", "rule_trials", ["finished_at"])


def downgrade():
    op.drop_index("ix_rule_trials_finished_at", table_name="rule_trials")
    op.drop_table("rule_trials")
