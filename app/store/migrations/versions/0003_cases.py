"""Cases with a life: cases, their events, the scheduler's due moments; decisions name their case.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("case_id", sa.String(100)))
        batch.create_index("ix_decisions_case", ["case_id", "decision_id"])
    op.create_table(
        "cases",
        sa.Column("case_id", sa.String(100), primary_key=True),
        sa.Column("customer_id", sa.String(100), nullable=False),
        sa.Column("plan", sa.String(20), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("severity", sa.Integer, nullable=False),
        sa.Column("pool", sa.String(64), nullable=False),
        sa.Column("tier", sa.String(4), nullable=False),
        sa.Column("clock_status", sa.String(20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True)),
        sa.Column("risk_at", sa.DateTime(timezone=True)),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True)),
        sa.Column("breached", sa.Boolean, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_cases_customer_reported", "cases", ["customer_id", "reported_at"])
    op.create_index("ix_cases_state_due", "cases", ["state", "due_at"])
    op.create_index("ix_cases_pool", "cases", ["pool", "case_id"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("case_id", sa.String(100), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("author_id", sa.String(16)),
        sa.Column("engineer", sa.String(100)),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("step_key", sa.String(250), unique=True),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_id", "at", "id"])
    op.create_table(
        "due_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.String(100), sa.ForeignKey("cases.case_id"), nullable=False),
        sa.Column("step", sa.String(120), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("tier", sa.String(4)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("case_id", "step", "cycle", name="uq_due_actions_step"),
    )
    op.create_index("ix_due_actions_due", "due_actions", ["due_at"])


def downgrade():
    op.drop_table("due_actions")
    op.drop_table("case_events")
    op.drop_table("cases")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index("ix_decisions_case")
        batch.drop_column("case_id")
