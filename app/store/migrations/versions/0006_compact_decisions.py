"""A year of traffic: stored answers packed (app.store.packing), the columns SQL reads of them beside
them (language, the classifier's level), and an index for every filter the lists offer, in the order
they are read (decisions by id, cases by case id).

Every stored decision is converted, a batch at a time, nothing dropped: the answer each row held is
the answer it holds after (the downgrade turns it back into JSON).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

from app.store.packing import lean, pack, unpack, whole

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BATCH = 2000
NOT_RULES = sa.text("source <> 'rules'")


def _convert(source_type, target_type, change, extra: bool) -> None:
    """Rewrite every decision's answer from `answer` to the `answer_new` column, in id order, a batch
    at a time; `change(answer, row)` gives the new value."""
    conn = op.get_bind()
    table = sa.table(
        "decisions",
        sa.column("decision_id", sa.String),
        sa.column("case_id", sa.String),
        sa.column("reported_at", sa.DateTime(timezone=True)),
        sa.column("decided_at", sa.DateTime(timezone=True)),
        sa.column("answer", source_type),
        sa.column("answer_new", target_type),
        sa.column("language", sa.String),
        sa.column("classifier_level", sa.Integer),
    )
    last = ""
    while True:
        rows = conn.execute(
            sa.select(table.c.decision_id, table.c.case_id, table.c.reported_at, table.c.decided_at, table.c.answer)
            .where(table.c.decision_id > last)
            .order_by(table.c.decision_id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        values = []
        for row in rows:
            value = {"id": row.decision_id, "answer_new": change(row.answer, row)}
            if extra:
                document = row.answer if isinstance(row.answer, dict) else {}
                value["language"] = (document.get("language") or {}).get("code")
                value["classifier_level"] = ((document.get("severity") or {}).get("classifier") or {}).get("level")
            values.append(value)
        update = sa.update(table).where(table.c.decision_id == sa.bindparam("id"))
        fields: dict = {"answer_new": sa.bindparam("answer_new")}
        if extra:
            fields.update(language=sa.bindparam("language"), classifier_level=sa.bindparam("classifier_level"))
        conn.execute(update.values(fields), values)
        last = rows[-1].decision_id


def _packed(answer, row) -> bytes:
    return pack(lean(answer, row.decision_id, row.case_id, row.reported_at, row.decided_at))


def _unpacked(stored, row) -> dict:
    return whole(unpack(bytes(stored)), row.decision_id, row.case_id, row.reported_at, row.decided_at)


def upgrade():
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("answer_new", sa.LargeBinary))
        batch.add_column(sa.Column("language", sa.String(16)))
        batch.add_column(sa.Column("classifier_level", sa.Integer))
    _convert(sa.JSON, sa.LargeBinary, _packed, extra=True)
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index("ix_decisions_decided_at")
        batch.drop_index("ix_decisions_customer_reported")
        batch.drop_column("answer")
        batch.alter_column("answer_new", new_column_name="answer", existing_type=sa.LargeBinary, nullable=False)
    if op.get_bind().dialect.name == "postgresql":
        # rewrite the table once: the updates left every old row version (and the dropped JSON) behind
        op.execute("ALTER TABLE decisions ALTER COLUMN answer TYPE bytea USING answer || ''::bytea")
    with op.batch_alter_table("decisions") as batch:
        batch.drop_index("ix_decisions_case")
        batch.create_index("ix_decisions_case", ["case_id"])  # a case has a decision or two: sorted in place
        batch.create_index("ix_decisions_customer", ["customer_id", "decision_id"])
        # severity rides along: pool and severity together are answered from the index alone
        batch.create_index("ix_decisions_pool", ["pool", "decision_id"], postgresql_include=["severity"])
        # most decisions come from the rules (walking the ids finds them); the others are indexed
        batch.create_index("ix_decisions_source", ["source", "decision_id"], postgresql_where=NOT_RULES, sqlite_where=NOT_RULES)
    with op.batch_alter_table("cases") as batch:
        batch.create_index("ix_cases_customer", ["customer_id", "case_id"])
        batch.create_index("ix_cases_state", ["state", "case_id"])
        batch.create_index("ix_cases_tier", ["tier", "case_id"])
        batch.create_index("ix_cases_reported", ["reported_at"])
        batch.create_index(
            "ix_cases_unacknowledged",
            ["case_id"],
            postgresql_where=sa.text("acknowledged_at IS NULL"),
            sqlite_where=sa.text("acknowledged_at IS NULL"),
        )
        batch.create_index(
            "ix_cases_breached", ["case_id"], postgresql_where=sa.text("breached"), sqlite_where=sa.text("breached")
        )


def downgrade():
    with op.batch_alter_table("cases") as batch:
        for name in ("ix_cases_breached", "ix_cases_unacknowledged", "ix_cases_reported", "ix_cases_tier", "ix_cases_state"):
            batch.drop_index(name)
        batch.drop_index("ix_cases_customer")
    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("answer_new", sa.JSON))
    _convert(sa.LargeBinary, sa.JSON, _unpacked, extra=False)
    with op.batch_alter_table("decisions") as batch:
        for name in ("ix_decisions_source", "ix_decisions_pool", "ix_decisions_customer", "ix_decisions_case"):
            batch.drop_index(name)
        batch.create_index("ix_decisions_case", ["case_id", "decision_id"])
        batch.drop_column("answer")
        batch.drop_column("classifier_level")
        batch.drop_column("language")
        batch.alter_column("answer_new", new_column_name="answer", existing_type=sa.JSON, nullable=False)
        batch.create_index("ix_decisions_customer_reported", ["customer_id", "reported_at"])
        batch.create_index("ix_decisions_decided_at", ["decided_at"])
