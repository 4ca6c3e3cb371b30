"""The stored request as jsonb on PostgreSQL: an export reads its subject, description and country on
every row, and jsonb hands them over without parsing the whole document again (a full export's
database work per row halves). The request is the validated body, so nothing jsonb would refuse is
stored (no NUL, no lone surrogate); jsonb keeps every key and value, not the order of the keys.
On SQLite nothing changes: JSON is text there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE decisions ALTER COLUMN request TYPE jsonb USING request::jsonb")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE decisions ALTER COLUMN request TYPE json USING request::json")
