"""Refused rows in the quote log: their records, the migration that adds their table to a
database made before it, idempotent inserts beside quotes, counts by window, the writer's
spool and replay, and the monitor report's sentence."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import OperationalError

from carprice.monitor_report import render
from carprice.quotelog.records import MAX_REASON, is_refusal, new_quote_ids, quote_row, refusal_rows
from carprice.quotelog.spool import Spool
from carprice.quotelog.store import MIGRATIONS, QuoteStore
from carprice.quotelog.writer import QuoteWriter

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _quotes(n: int, at: datetime = T0, version: str = "1") -> list[dict]:
    return [
        quote_row(q, created_at=at, model_version=version, inputs={"brand": "Maruti"},
                  price=450_000, price_low=400_000, price_high=500_000, warnings=[],
                  api_key_name="default", source="batch")
        for q in new_quote_ids(n)
    ]  # fmt: skip


def _refused(n: int, at: datetime = T0, version: str = "1", source: str = "csv") -> list[dict]:
    return refusal_rows(
        [f"brand 'Tesla{i}' is unknown" for i in range(n)],
        created_at=at,
        model_version=version,
        api_key_name="default",
        source=source,
    )


@pytest.fixture
def store(tmp_path: Path) -> QuoteStore:
    s = QuoteStore.from_url(f"sqlite:///{tmp_path / 'db' / 'quotes.db'}")
    s.migrate()
    return s


def test_refusal_rows_carry_id_reason_and_source() -> None:
    long = "x" * (MAX_REASON + 50)
    rows = refusal_rows(
        ["year: must be a number", long, ""],
        created_at=T0,
        model_version="7",
        api_key_name=None,
        source="batch",
    )
    assert len({r["refusal_id"] for r in rows}) == 3
    assert all(uuid.UUID(r["refusal_id"]).version == 4 for r in rows)
    assert all(is_refusal(r) for r in rows) and not any(is_refusal(q) for q in _quotes(2))
    assert rows[0] == {
        "refusal_id": rows[0]["refusal_id"],
        "created_at": T0,
        "model_version": "7",
        "api_key_name": None,
        "reason": "year: must be a number",
        "source": "batch",
    }
    assert len(rows[1]["reason"]) == MAX_REASON and rows[1]["reason"].endswith("…")
    assert rows[2]["reason"] == "not priced"  # never an empty reason
    assert refusal_rows([], created_at=T0, model_version="7", api_key_name=None, source="csv") == []


def test_a_database_made_before_refusals_is_upgraded(tmp_path: Path) -> None:
    """A quote log at revision 0001 (quotes, no refusals) keeps its quotes and gains the
    table when the new code starts (store.migrate at start-up)."""
    from alembic import command
    from alembic.config import Config

    store = QuoteStore.from_url(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
    assert "refusals" not in inspect(store.engine).get_table_names()
    with store.engine.begin() as conn:  # a quote written by the old code
        conn.exec_driver_sql(
            "INSERT INTO quotes VALUES ('q1', '2026-11-30 10:00:00.000000', '1', '{}', 1, 1, 1, "
            "'[]', NULL, 'predict')"
        )
    store.migrate()
    store.migrate()  # and again at the next start: nothing to do
    assert "refusals" in inspect(store.engine).get_table_names()
    with store.engine.connect() as conn:
        assert conn.scalar(text("SELECT version_num FROM alembic_version")) == "0002"
    assert store.count_quotes() == 1 and store.count_refusals() == 0
    store.insert_rows(_refused(2))
    assert store.count_refusals() == 2


def test_the_migrations_build_exactly_the_declared_tables(store: QuoteStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from carprice.quotelog.models import Base

    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_quotes_and_refusals_insert_once_and_count_by_window(store: QuoteStore) -> None:
    earlier = T0 - timedelta(days=2)
    rows = [*_quotes(3), *_refused(4), *_refused(2, at=earlier), *_refused(1, version="2")]
    assert store.insert_rows(rows) == 10
    assert store.insert_rows(rows[::-1]) == 0  # a replayed batch duplicates nothing
    assert store.count_quotes() == 3 and store.count_refusals() == 7
    assert store.count_refusals(since=T0) == 5
    assert store.count_refusals(until=T0) == 2  # [since, until): T0 itself is out
    assert store.count_refusals(since=T0, until=T0 + timedelta(seconds=1)) == 5
    assert store.count_refusals(model_version="2") == 1
    assert store.count_refusals(since=T0, model_version="1") == 4
    assert store.count_refusals(model_version="no-such") == 0
    # An aware bound in another zone means the same instant (SQLite stores UTC text).
    ist = timezone(timedelta(hours=5, minutes=30))
    just_before = (T0 - timedelta(minutes=30)).astimezone(ist)  # 17:00+05:30 = 11:30 UTC
    assert store.count_refusals(since=just_before) == 5
    assert len(store.quotes_frame(since=just_before)) == 3
    assert len(store.quotes_frame(until=just_before)) == 0
    stored = store.refusals(since=T0, model_version="1")
    assert len(stored) == 4 and {r["source"] for r in stored} == {"csv"}
    assert stored[0]["created_at"] == T0 and stored[0]["api_key_name"] == "default"
    assert stored[0]["reason"].startswith("brand 'Tesla")


def test_insert_quotes_still_takes_quotes_alone(store: QuoteStore) -> None:
    assert store.insert_quotes(_quotes(5)) == 5
    assert store.count_quotes() == 5 and store.count_refusals() == 0


class DownStore(QuoteStore):
    """Inserts fail like an unreachable server while `down` is set."""

    def __init__(self, inner: QuoteStore) -> None:
        super().__init__(inner.engine, inner.chunk_rows)
        self.down = threading.Event()

    def insert_rows(self, rows):  # noqa: ANN001, ANN201
        if self.down.is_set():
            raise OperationalError("INSERT", {}, ConnectionRefusedError("server is down"))
        return super().insert_rows(rows)


def test_an_outage_spools_refusals_and_replays_them(store: QuoteStore, tmp_path: Path) -> None:
    flaky = DownStore(store)
    spool = Spool(tmp_path / "spool")
    writer = QuoteWriter(flaky, spool, flush_seconds=0.05, min_backoff=0.05, max_backoff=0.2)
    writer.start()
    try:
        flaky.down.set()
        writer.submit(4, lambda: _quotes(1) + _refused(3))  # one batch of both kinds
        writer.submit(1, lambda: _refused(1, source="predict"))
        assert not writer.flush(5)
        assert spool.pending_rows() == 5 and store.count_refusals() == 0
        flaky.down.clear()
        writer.submit(2, lambda: _refused(2, source="batch"))
        assert writer.flush(10)
        assert spool.files() == []
    finally:
        writer.stop()
    assert store.count_quotes() == 1 and store.count_refusals() == 6
    sources = sorted(r["source"] for r in store.refusals())
    assert sources == ["batch", "batch", "csv", "csv", "csv", "predict"]


def test_a_spooled_refusal_replayed_twice_is_stored_once(store: QuoteStore, tmp_path: Path) -> None:
    rows = _refused(3)
    store.insert_rows(rows[:2])  # written, then the process died before removing the file
    spool = Spool(tmp_path / "spool")
    spool.append(rows)
    writer = QuoteWriter(store, spool, flush_seconds=0.05)
    writer.start()
    try:
        assert writer.flush(10)
    finally:
        writer.stop()
    assert store.count_refusals() == 3 and spool.files() == []


def test_the_report_gives_the_refusal_rate_and_count() -> None:
    acc = {"sales": 0, "mae": None, "mape": None, "median_ape": None, "coverage": None}
    summary = {
        "quotes": 90, "refused": 10, "sales": 0, "accuracy": acc, "by_model_version": {},
        "by_week": [], "rates": {"out_of_range": 0.0, "refused": 0.1},
        "drift": {"verdict": "stable", "features": {}},
    }  # fmt: skip
    window = {"since": "2026-11-24T00:00:00", "until": "2026-12-01T00:00:00"}
    decision = {"retrain": False, "reasons": ["no threshold crossed"]}
    html = render(summary, decision, champion="3", test_mape=0.15, window=window)
    assert "Refused with a reason: 10.0% of the rows asked for (10 rows)" in html
    summary["rates"]["refused"], summary["refused"] = None, None
    html = render(summary, decision, champion="3", test_mape=0.15, window=window)
    assert "Refused with a reason: – of the rows asked for." in html
