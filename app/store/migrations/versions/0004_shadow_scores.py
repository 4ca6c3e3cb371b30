"""Shadow scores: a candidate model's level and confidence beside a decision, never used.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "shadow_scores",
        sa.Column("decision_id", sa.String(36), nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("confidence", sa.Float, nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("decision_id", "model_version", name="pk_shadow_scores"),
    )
    op.create_index("ix_shadow_scores_scored_at", "shadow_scores", ["scored_at"])


def downgrade():
    op.drop_index("ix_shadow_scores_scored_at", table_name="shadow_scores")
    op.drop_table("shadow_scores")
