"""Reads and writes of the quote log through SQLAlchemy: SQLite by default, PostgreSQL when
CARPRICE_DATABASE_URL names one. The schema comes from the Alembic migrations shipped in
`migrations/`, applied by `migrate` (the API calls it on start-up, through the writer)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, Engine, MetaData, Table, Text, create_engine, event, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from carprice.quotelog.models import Quote, Refusal, Sale, SaleHistory
from carprice.quotelog.records import is_refusal

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
QUOTE_FIELDS = tuple(c.name for c in Quote.__table__.columns)
REFUSAL_FIELDS = tuple(c.name for c in Refusal.__table__.columns)
# Errors that mean "the database isn't there right now" (retry later), not "this row is bad".
OUTAGE_ERRORS: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    ConnectionError,
)


class DatabaseUnavailable(RuntimeError):
    """The quote log's database can't be reached; the reason says why."""


class UnknownQuote(LookupError):
    """No quote has this id."""


class SaleExists(ValueError):
    """The quote already has a sale: a correction is a PUT, which keeps the earlier value."""


class NoSale(LookupError):
    """A correction for a quote whose sale was never recorded."""


def make_engine(url: str) -> Engine:
    """An engine for the quote log. SQLite: the file's folder is created, writers wait for
    each other's locks (WAL journal: readers don't block the writer). PostgreSQL: short
    connect timeout and pre-ping, so an outage is noticed in seconds and a restart healed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    connect_args = {"connect_timeout": 3} if parsed.get_driver_name() == "psycopg2" else {}
    return create_engine(url, pool_pre_ping=True, pool_recycle=600, connect_args=connect_args)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration with Alembic's command API (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def utc(value: datetime | str) -> datetime:
    """A stored or spooled timestamp as an aware UTC datetime (SQLite returns naive ones)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _window(column: Any, since: datetime | None, until: datetime | None) -> list[Any]:
    """`column` in [since, until), both compared in UTC: SQLite stores timestamps as UTC text
    and would compare an aware bound's wall-clock time (17:00+05:30 as 17:00)."""
    out = []
    if since is not None:
        out.append(column >= utc(since))
    if until is not None:
        out.append(column < utc(until))
    return out


def _json_text(value: Any) -> str:
    """A JSON column's value as text: rows built in bulk arrive already serialised."""
    return value if isinstance(value, str) else json.dumps(value, allow_nan=False)


def _quote_row(row: dict[str, Any]) -> dict[str, Any]:
    out = {name: row.get(name) for name in QUOTE_FIELDS}
    out["created_at"] = utc(row["created_at"])
    out["inputs"] = _json_text(out["inputs"])
    out["warnings"] = _json_text(out["warnings"] if out["warnings"] is not None else [])
    return out


def _refusal_row(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row.get(name) for name in REFUSAL_FIELDS} | {"created_at": utc(row["created_at"])}


# The quotes table for bulk inserts: the JSON columns bound as text (serialised once, by the
# caller or `_json_text`), which both SQLite and PostgreSQL store into their JSON columns.
_INSERT_TABLE = Table(
    "quotes",
    MetaData(),
    *(
        Column(c.name, Text() if isinstance(c.type, JSON) else c.type, primary_key=c.primary_key)
        for c in Quote.__table__.columns
    ),
)


class QuoteStore:
    """The quote log's reads and writes; every method is one short transaction."""

    def __init__(self, engine: Engine, chunk_rows: int = 500) -> None:
        self.engine = engine
        self.chunk_rows = chunk_rows

    @classmethod
    def from_url(cls, url: str, chunk_rows: int = 500) -> QuoteStore:
        return cls(make_engine(url), chunk_rows)

    def migrate(self) -> None:
        migrate(self.engine)

    # ------------------------------------------------------------------ quotes and refusals
    def insert_rows(self, rows: Sequence[dict[str, Any]]) -> int:
        """Quote and refusal rows (`records.is_refusal` tells them apart) in one transaction,
        skipping ids already stored, so a replayed batch duplicates nothing. Returns how
        many rows were new. What the writer calls, for fresh batches and spooled ones."""
        if not rows:
            return 0
        quotes = [r for r in rows if not is_refusal(r)]
        refusals = [r for r in rows if is_refusal(r)]
        with self.engine.begin() as conn:
            return self._insert_quotes(conn, quotes) + self._insert_refusals(conn, refusals)

    def insert_quotes(self, rows: Sequence[dict[str, Any]]) -> int:
        """`insert_rows` for callers that hold quotes only."""
        return self.insert_rows(rows)

    def _insert_quotes(self, conn: Any, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        if self.engine.dialect.name == "sqlite":  # the driver's executemany: no per-row work
            return _sqlite_insert(conn, _SQLITE_INSERT, _sqlite_rows(rows))
        return self._insert_new(conn, _INSERT_TABLE, "quote_id", [_quote_row(r) for r in rows])

    def _insert_refusals(self, conn: Any, rows: Sequence[dict[str, Any]]) -> int:
        if not rows:
            return 0
        if self.engine.dialect.name == "sqlite":  # timestamps stored as the quotes' are
            stamps = _stamps(r["created_at"] for r in rows)
            values = [
                (r["refusal_id"], stamps[r["created_at"]], r["model_version"],
                 r.get("api_key_name"), r["reason"], r["source"])
                for r in rows
            ]  # fmt: skip
            return _sqlite_insert(conn, _SQLITE_REFUSAL_INSERT, values)
        table = Refusal.__table__
        return self._insert_new(conn, table, "refusal_id", [_refusal_row(r) for r in rows])

    def _insert_new(self, conn: Any, table: Any, key: str, rows: list[dict[str, Any]]) -> int:
        """Insert the rows whose `key` the table doesn't hold yet, in chunks; how many were
        new (a replayed spool batch inserts nothing twice)."""
        dialect = self.engine.dialect.name
        inserted = 0
        for start in range(0, len(rows), self.chunk_rows):
            chunk = rows[start : start + self.chunk_rows]
            if dialect == "postgresql":
                insert = _dialect_insert(dialect)(table).on_conflict_do_nothing(
                    index_elements=[key]
                )
                inserted += conn.execute(insert, chunk).rowcount or 0
                continue
            column = table.c[key]
            known = set(conn.scalars(select(column).where(column.in_([r[key] for r in chunk]))))
            fresh = [r for r in chunk if r[key] not in known]
            if fresh:
                conn.execute(table.insert(), fresh)
            inserted += len(fresh)
        return inserted

    def get_quote(self, quote_id: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            quote = session.get(Quote, quote_id)
            return None if quote is None else _as_dict(quote)

    def known_ids(self, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                found.update(conn.scalars(select(Quote.quote_id).where(Quote.quote_id.in_(part))))
        return found

    def count_quotes(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Quote)) or 0)

    def count_refusals(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        model_version: str | None = None,
    ) -> int:
        """Refused rows in [since, until) (of one model version), filtered as `quotes_frame`
        filters the quotes, so the two make one window's refusal rate."""
        from sqlalchemy import func

        query = select(func.count()).select_from(Refusal)
        query = query.where(*_window(Refusal.created_at, since, until))
        if model_version is not None:
            query = query.where(Refusal.model_version == model_version)
        with self.engine.connect() as conn:
            return int(conn.scalar(query) or 0)

    def refusals(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        model_version: str | None = None,
    ) -> list[dict[str, Any]]:
        """Refused rows in [since, until), oldest first, as dicts of the table's columns."""
        query = select(Refusal).where(*_window(Refusal.created_at, since, until))
        if model_version is not None:
            query = query.where(Refusal.model_version == model_version)
        with Session(self.engine) as session:
            found = session.scalars(query.order_by(Refusal.created_at, Refusal.refusal_id))
            return [_as_dict(r) for r in found]

    # ------------------------------------------------------------------ sales
    def sold_ids(self, ids: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                part = wanted[start : start + 500]
                found.update(conn.scalars(select(Sale.quote_id).where(Sale.quote_id.in_(part))))
        return found

    def record_sale(
        self, quote_id: str, sale_price: float, sold_on: date, api_key_name: str | None = None
    ) -> dict[str, Any]:
        """The first sale of a quote. Raises UnknownQuote or SaleExists (checked by the
        primary key, so two concurrent posts can't both win)."""
        with Session(self.engine) as session:
            if session.get(Quote, quote_id) is None:
                raise UnknownQuote(quote_id)
            if session.get(Sale, quote_id) is not None:
                raise SaleExists(quote_id)
            sale = Sale(
                quote_id=quote_id,
                sale_price=float(sale_price),
                sold_on=sold_on,
                recorded_at=datetime.now(UTC),
                api_key_name=api_key_name,
            )
            session.add(sale)
            try:
                session.commit()
            except sa_exc.IntegrityError as exc:
                raise SaleExists(quote_id) from exc
            return _as_dict(sale)

    def record_sales(
        self, sales: Sequence[tuple[str, float, date]], api_key_name: str | None = None
    ) -> None:
        """Many first sales in one transaction (the caller checked ids and duplicates);
        raises SaleExists if one was recorded meanwhile (nothing is then written)."""
        now = datetime.now(UTC)
        values = [
            {
                "quote_id": q,
                "sale_price": float(p),
                "sold_on": d,
                "recorded_at": now,
                "api_key_name": api_key_name,
            }
            for q, p, d in sales
        ]
        if not values:
            return
        try:
            with self.engine.begin() as conn:
                conn.execute(Sale.__table__.insert(), values)
        except sa_exc.IntegrityError as exc:
            raise SaleExists("one of the quotes was sold meanwhile") from exc

    def correct_sale(
        self, quote_id: str, sale_price: float, sold_on: date, api_key_name: str | None = None
    ) -> dict[str, Any]:
        """Replace a recorded sale; the earlier value goes to `sale_history`. Raises
        UnknownQuote or NoSale."""
        with Session(self.engine) as session, session.begin():
            if session.get(Quote, quote_id) is None:
                raise UnknownQuote(quote_id)
            sale = session.get(Sale, quote_id, with_for_update=True)
            if sale is None:
                raise NoSale(quote_id)
            now = datetime.now(UTC)
            session.add(
                SaleHistory(
                    quote_id=quote_id,
                    sale_price=sale.sale_price,
                    sold_on=sale.sold_on,
                    recorded_at=sale.recorded_at,
                    replaced_at=now,
                    api_key_name=sale.api_key_name,
                )
            )
            sale.sale_price, sale.sold_on = float(sale_price), sold_on
            sale.recorded_at, sale.api_key_name = now, api_key_name
            session.flush()
            return _as_dict(sale)

    def get_sale(self, quote_id: str) -> dict[str, Any] | None:
        with Session(self.engine) as session:
            sale = session.get(Sale, quote_id)
            return None if sale is None else _as_dict(sale)

    def sale_history(self, quote_id: str) -> list[dict[str, Any]]:
        """Earlier values of a corrected sale, oldest first."""
        with Session(self.engine) as session:
            found = session.scalars(
                select(SaleHistory).where(SaleHistory.quote_id == quote_id).order_by(SaleHistory.id)
            )
            return [_as_dict(h) for h in found]

    # ------------------------------------------------------------------ reading for monitoring
    def quotes_frame(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        model_version: str | None = None,
    ) -> Any:
        """Quotes in [since, until) with their sale price (NaN when none) as a pandas frame:
        the quote columns, `sale_price`, `sold_on`, and `out_of_range` (a training-range
        warning was given). Heavy import (pandas) kept inside."""
        import pandas as pd

        query = select(Quote, Sale.sale_price, Sale.sold_on).outerjoin(
            Sale, Sale.quote_id == Quote.quote_id
        )
        query = query.where(*_window(Quote.created_at, since, until))
        if model_version is not None:
            query = query.where(Quote.model_version == model_version)
        with Session(self.engine) as session:
            rows = [
                _as_dict(quote) | {"sale_price": price, "sold_on": sold}
                for quote, price, sold in session.execute(query.order_by(Quote.created_at))
            ]
        frame = pd.DataFrame(rows, columns=[*QUOTE_FIELDS, "sale_price", "sold_on"])
        frame["sale_price"] = pd.to_numeric(frame["sale_price"], errors="coerce")
        frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
        frame["out_of_range"] = [
            any(w.get("train_min") is not None for w in (warns or [])) for warns in frame.warnings
        ]
        return frame


_SQLITE_INSERT = (
    f"INSERT INTO quotes ({', '.join(QUOTE_FIELDS)}) VALUES ({', '.join('?' * len(QUOTE_FIELDS))})"
    " ON CONFLICT (quote_id) DO NOTHING"
)


_SQLITE_REFUSAL_INSERT = (
    f"INSERT INTO refusals ({', '.join(REFUSAL_FIELDS)}) "
    f"VALUES ({', '.join('?' * len(REFUSAL_FIELDS))}) ON CONFLICT (refusal_id) DO NOTHING"
)


def _sqlite_insert(conn: Any, sql: str, values: Sequence[Any]) -> int:
    """One executemany through the driver; how many rows it added (ON CONFLICT DO NOTHING skips
    ids already there, so SQLite's change counter is the count)."""
    before = conn.exec_driver_sql("SELECT total_changes()").scalar()
    conn.exec_driver_sql(sql, values)
    return conn.exec_driver_sql("SELECT total_changes()").scalar() - before


def _stamps(values: Iterable[Any]) -> dict[Any, str]:
    """Each distinct timestamp (datetime or spooled ISO text) as SQLAlchemy's SQLite dialect
    stores a DateTime: 'YYYY-MM-DD HH:MM:SS.ffffff' in UTC; formatted once per value."""
    stamps: dict[Any, str] = {}
    for value in values:
        if value not in stamps:
            naive = utc(value).replace(tzinfo=None)
            stamps[value] = naive.isoformat(sep=" ", timespec="microseconds")
    return stamps


def _sqlite_rows(rows: Sequence[dict[str, Any]]) -> list[tuple]:
    """Rows as SQLAlchemy's SQLite dialect stores them (DateTime as 'YYYY-MM-DD
    HH:MM:SS.ffffff' in UTC, read back as UTC by `utc`; JSON as text), so ORM reads see the
    same values. A batch shares few timestamps: each is formatted once."""
    stamps: dict[Any, str] = {}
    out = []
    for row in rows:
        created = row["created_at"]
        stamp = stamps.get(created)
        if stamp is None:
            naive = utc(created).replace(tzinfo=None)
            stamp = stamps[created] = naive.isoformat(sep=" ", timespec="microseconds")
        warnings = row.get("warnings")
        out.append(
            (
                row["quote_id"],
                stamp,
                row["model_version"],
                _json_text(row["inputs"]),
                row["price"],
                row["price_low"],
                row["price_high"],
                _json_text(warnings if warnings is not None else []),
                row.get("api_key_name"),
                row["source"],
            )
        )
    return out


def _dialect_insert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _as_dict(obj: Any) -> dict[str, Any]:
    out = {c.name: getattr(obj, c.name) for c in obj.__table__.columns}
    for key in ("created_at", "recorded_at", "replaced_at"):
        if out.get(key) is not None:
            out[key] = utc(out[key])
    return out
