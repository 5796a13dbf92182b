"""PostgreSQL databases of the distributed profile: URLs per database, created when missing.

`CARPRICE_STACK_DATABASE_URL` names a server (postgresql://user[:password]@host:port); Airflow
and MLflow each get their own database on it, as in compose.yaml. SQLAlchemy 2.1 maps a bare
``postgresql://`` to psycopg 3, which is not installed, so URLs name psycopg2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import URL, make_url

DRIVER = "postgresql+psycopg2"


def database_url(server_url: str, database: str) -> str:
    """``server_url`` pointed at ``database``, with the psycopg2 driver (password kept)."""
    url = make_url(server_url).set(drivername=DRIVER, database=database)
    return url.render_as_string(hide_password=False)


def _admin_url(server_url: str) -> URL:
    return make_url(database_url(server_url, "postgres"))


@contextmanager
def _admin(server_url: str) -> Iterator[Any]:
    """An autocommit connection to the server's `postgres` database (CREATE and DROP
    DATABASE can't run inside a transaction), its engine disposed afterwards."""
    import sqlalchemy as sa

    engine = sa.create_engine(_admin_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def ensure(server_url: str, *databases: str) -> list[str]:
    """Create each database that does not exist yet; return the ones created."""
    import sqlalchemy as sa

    created = []
    with _admin(server_url) as conn:
        for name in databases:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
            if not exists:
                quoted = conn.dialect.identifier_preparer.quote(name)
                conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
                created.append(name)
    return created


def drop(server_url: str, *databases: str) -> None:
    """Drop the databases (their sessions ended first); for tests and benchmarks."""
    import sqlalchemy as sa

    with _admin(server_url) as conn:
        for name in databases:
            conn.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            quoted = conn.dialect.identifier_preparer.quote(name)
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quoted}"))


def kind(url: str) -> str:
    """A database URL's kind only ("sqlite", "postgresql"): never its host, user or password."""
    return url.split(":", 1)[0].split("+", 1)[0]
