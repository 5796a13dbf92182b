"""Alembic environment for the quote log: always run from `carprice.quotelog.store.migrate`
with an open connection (no alembic.ini, no URL here)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from carprice.quotelog.models import Base

# Any fixed number: PostgreSQL serialises concurrent start-ups (several API workers) on it.
_ADVISORY_LOCK = 7_242_113


def run_migrations_online() -> None:
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE via copies
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK})"))
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("The quote log's migrations run online only (store.migrate).")
run_migrations_online()
