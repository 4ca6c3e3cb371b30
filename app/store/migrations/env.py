"""Alembic environment: the URL comes from the caller (triage db upgrade, or start-up)."""

from alembic import context
from sqlalchemy import create_engine

from app.store import cases, shadow, trials  # noqa: F401  (their tables join the metadata)
from app.store.database import metadata

url = context.config.get_main_option("sqlalchemy.url") or ""
engine = create_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
