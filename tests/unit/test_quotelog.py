"""The quote log on SQLite: migrations, idempotent inserts, the writer's batching, the spool
and its replay after an outage, sale checks and the sales CSV's per-row outcomes."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from carprice.quotelog.records import new_quote_ids, now_utc, quote_row
from carprice.quotelog.sales import latest_today, read_lines, record_lines, sale_problem
from carprice.quotelog.spool import Spool
from carprice.quotelog.store import NoSale, QuoteStore, SaleExists, UnknownQuote
from carprice.quotelog.writer import QuoteLog, QuoteWriter


def _rows(n: int, version: str = "1") -> list[dict]:
    return [
        quote_row(
            q,
            created_at=now_utc(),
            model_version=version,
            inputs={"brand": "Maruti", "year": 2015, "km_driven": 50_000},
            price=450_000,
            price_low=400_000,
            price_high=500_000,
            warnings=[],
            api_key_name=None,
            source="csv",
        )
        for q in new_quote_ids(n)
    ]


@pytest.fixture
def store(tmp_path: Path) -> QuoteStore:
    s = QuoteStore.from_url(f"sqlite:///{tmp_path / 'db' / 'quotes.db'}")
    s.migrate()
    return s


class FlakyStore(QuoteStore):
    """A store whose inserts fail like an unreachable server while `down` is set."""

    def __init__(self, inner: QuoteStore) -> None:
        super().__init__(inner.engine, inner.chunk_rows)
        self.down = threading.Event()
        self.calls = 0

    def insert_rows(self, rows):  # noqa: ANN001, ANN201
        self.calls += 1
        if self.down.is_set():
            raise OperationalError("INSERT", {}, ConnectionRefusedError("server is down"))
        return super().insert_rows(rows)


def test_quote_ids_are_distinct_uuid4() -> None:
    ids = new_quote_ids(2000)
    assert len(set(ids)) == 2000
    for text in ids[:50]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


def test_migrations_create_the_tables_and_run_twice(store: QuoteStore) -> None:
    store.migrate()  # idempotent: a restart runs it again
    names = set(inspect(store.engine).get_table_names())
    assert {"quotes", "refusals", "sales", "sale_history", "alembic_version"} <= names


def test_insert_is_idempotent_and_keeps_every_field(store: QuoteStore) -> None:
    rows = _rows(1200)  # more than one statement chunk
    rows[0]["warnings"] = [{"feature": "year", "value": 1990, "train_min": 1994, "message": "x"}]
    rows[0]["api_key_name"] = "default"
    assert store.insert_quotes(rows) == 1200
    assert store.insert_quotes(rows[:700]) == 0  # a replay duplicates nothing
    assert store.count_quotes() == 1200
    got = store.get_quote(rows[0]["quote_id"])
    assert got["created_at"].tzinfo is not None
    assert got["inputs"] == rows[0]["inputs"] and got["warnings"] == rows[0]["warnings"]
    assert got["api_key_name"] == "default" and got["source"] == "csv"
    frame = store.quotes_frame()
    assert len(frame) == 1200 and frame["out_of_range"].sum() == 1
    assert frame["sale_price"].isna().all()


def test_sales_and_corrections_keep_history(store: QuoteStore) -> None:
    (row,) = _rows(1)
    store.insert_quotes([row])
    q = row["quote_id"]
    with pytest.raises(UnknownQuote):
        store.record_sale("nope", 1, date(2026, 1, 1))
    with pytest.raises(NoSale):
        store.correct_sale(q, 1, date(2026, 1, 1))
    store.record_sale(q, 440_000, date(2026, 1, 2), "default")
    with pytest.raises(SaleExists):
        store.record_sale(q, 441_000, date(2026, 1, 2))
    store.correct_sale(q, 445_000, date(2026, 1, 3))
    assert store.get_sale(q)["sale_price"] == 445_000
    (old,) = store.sale_history(q)
    assert old["sale_price"] == 440_000 and old["sold_on"] == date(2026, 1, 2)
    assert old["api_key_name"] == "default"
    frame = store.quotes_frame(model_version="1")
    assert frame.loc[0, "sale_price"] == 445_000


def test_sale_checks() -> None:
    today = date(2026, 6, 1)
    assert sale_problem(450_000, today, today) is None
    assert "positive" in sale_problem(0, today, today)
    assert "positive" in sale_problem(-5, today, today)
    assert "positive" in sale_problem(float("nan"), today, today)
    assert "future" in sale_problem(1, today + timedelta(days=1), today)
    # a sale dated today in India is never "in the future", whatever UTC says
    assert latest_today(datetime(2026, 6, 1, 20, 0, tzinfo=UTC)) == date(2026, 6, 2)


def test_sales_csv_rows_each_get_an_outcome(store: QuoteStore) -> None:
    a, b, c = _rows(3)
    store.insert_quotes([a, b, c])
    store.record_sale(c["quote_id"], 1, date(2026, 1, 1))
    future = (latest_today() + timedelta(days=2)).isoformat()
    cells = [
        [a["quote_id"], "4,50,000", "2026-01-02"],
        [a["quote_id"], "450000", "2026-01-02"],  # second sale for one quote in the file
        [b["quote_id"], "0", "2026-01-02"],
        [b["quote_id"], "abc", "2026-01-02"],
        [b["quote_id"], "1000", future],
        [b["quote_id"], "1000", "02/01/2026"],
        [str(uuid.uuid4()), "1000", "2026-01-02"],
        [c["quote_id"], "1000", "2026-01-02"],  # sold already
        ["", "1000", "2026-01-02"],
        [b["quote_id"], "399999.5", "2026-01-05"],
    ]
    outcomes = record_lines(store, read_lines(["Quote ID", "sale_price", "sold_on"], cells))
    statuses = [(o["row"], o["status"]) for o in outcomes]
    assert statuses == [
        (1, "recorded"), (2, "refused"), (3, "refused"), (4, "refused"), (5, "refused"),
        (6, "refused"), (7, "refused"), (8, "refused"), (9, "refused"), (10, "recorded"),
    ]  # fmt: skip
    reasons = [o["reason"] or "" for o in outcomes]
    assert "row 1" in reasons[1] and "positive" in reasons[2] and "not a number" in reasons[3]
    assert "future" in reasons[4] and "YYYY-MM-DD" in reasons[5] and "unknown" in reasons[6]
    assert "PUT" in reasons[7] and "empty" in reasons[8]
    assert store.get_sale(a["quote_id"])["sale_price"] == 450_000
    assert store.get_sale(b["quote_id"])["sale_price"] == 399_999.5


def test_spool_round_trip_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    first, second = _rows(3), _rows(2)
    spool.append(first)
    spool.append(second)
    files = spool.files()
    assert len(files) == 2 and spool.pending_rows() == 5
    assert [r["quote_id"] for r in spool.read(files[0])] == [r["quote_id"] for r in first]
    assert not list((tmp_path / "spool").glob("*.tmp"))  # written whole, then renamed
    spool.remove(files[0])
    spool.remove(files[0])  # already gone (another process replayed it): no error
    assert spool.files() == files[1:]


def test_writer_batches_in_the_background(store: QuoteStore, tmp_path: Path) -> None:
    flaky = FlakyStore(store)
    writer = QuoteWriter(flaky, Spool(tmp_path / "spool"), batch_rows=500, flush_seconds=0.2)
    writer.start()
    try:
        for _ in range(50):
            writer.submit_rows(_rows(2))  # the request path: queued, nothing written yet
        assert flaky.calls == 0 or writer.waiting < 100
        deadline = time.monotonic() + 10
        while store.count_quotes() < 100 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.count_quotes() == 100
        assert flaky.calls <= 3  # batched: not one insert per quote
        built = []
        writer.submit(600, lambda: built.append(1) or _rows(600))  # ≥ batch_rows: wakes it
        assert writer.flush(10)
        assert built == [1] and store.count_quotes() == 700
    finally:
        writer.stop()


def test_outage_spools_and_replays_without_loss(store: QuoteStore, tmp_path: Path) -> None:
    flaky = FlakyStore(store)
    spool = Spool(tmp_path / "spool")
    writer = QuoteWriter(flaky, spool, flush_seconds=0.05, min_backoff=0.05, max_backoff=0.2)
    writer.start()
    sent: list[str] = []
    try:
        flaky.down.set()
        for _ in range(20):
            rows = _rows(5)
            sent += [r["quote_id"] for r in rows]
            writer.submit_rows(rows)
            time.sleep(0.01)
        assert not writer.flush(5)  # down: spooled, not written
        assert not writer.status.database_ok and spool.pending_rows() == 100
        assert store.count_quotes() == 0
        flaky.down.clear()
        more = _rows(7)
        sent += [r["quote_id"] for r in more]
        writer.submit_rows(more)
        assert writer.flush(10)
        assert writer.status.database_ok and spool.files() == []
    finally:
        writer.stop()
    assert store.count_quotes() == len(sent) == 107
    assert store.known_ids(sent) == set(sent)


class FullSpool(Spool):
    """A spool on a disk that is full while `full` is set."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.full = threading.Event()

    def append(self, rows):  # noqa: ANN001, ANN201
        if self.full.is_set():
            raise OSError(28, "No space left on device")
        return super().append(rows)


def test_rows_neither_written_nor_spooled_stay_unsettled(store: QuoteStore, tmp_path: Path) -> None:
    """Database down and disk full: the rows wait in memory, and the writer doesn't count
    them settled (the process writer's parent lets go of a batch only once it is settled)."""
    flaky, spool = FlakyStore(store), FullSpool(tmp_path / "spool")
    flaky.down.set()
    spool.full.set()
    writer = QuoteWriter(flaky, spool, flush_seconds=0.05, min_backoff=0.05, max_backoff=0.1)
    writer.start()
    try:
        writer.submit_rows(_rows(4))
        assert not writer.flush(1)
        assert writer.settled == 0 and writer.unsettled() and writer.waiting == 4
        spool.full.clear()  # room on the disk again: spooled, settled
        assert not writer.flush(5)  # still not in the database
        assert writer.settled == 1 and spool.pending_rows() == 4 and writer.waiting == 0
        flaky.down.clear()
        assert writer.flush(5)
    finally:
        writer.stop()
    assert store.count_quotes() == 4


def test_replay_after_a_crash_duplicates_nothing(store: QuoteStore, tmp_path: Path) -> None:
    """Rows written, then the process died before removing the spool file: replaying it
    again on the next start inserts nothing twice."""
    rows = _rows(10)
    store.insert_quotes(rows[:6])
    spool = Spool(tmp_path / "spool")
    spool.append(rows)
    writer = QuoteWriter(store, spool, flush_seconds=0.05)
    writer.start()
    try:
        assert writer.flush(10)
    finally:
        writer.stop()
    assert store.count_quotes() == 10 and spool.files() == []


def test_stop_drains_to_the_spool_when_the_database_is_down(
    store: QuoteStore, tmp_path: Path
) -> None:
    flaky = FlakyStore(store)
    flaky.down.set()
    spool = Spool(tmp_path / "spool")
    writer = QuoteWriter(flaky, spool, flush_seconds=30)  # the timer would never fire
    writer.start()
    writer.submit_rows(_rows(4))
    writer.stop(10)
    assert spool.pending_rows() == 4 and store.count_quotes() == 0
    # the next process replays them
    flaky.down.clear()
    again = QuoteWriter(flaky, spool, flush_seconds=0.05)
    again.start()
    try:
        assert again.flush(10)
    finally:
        again.stop()
    assert store.count_quotes() == 4


def test_unreachable_database_at_start_only_spools(tmp_path: Path) -> None:
    """A PostgreSQL URL nobody listens on: start-up doesn't fail, quotes are spooled."""
    from carprice.settings import Settings
    from stack.ports import free_port

    settings = Settings(
        database_url=f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/carprice",
        quote_spool_dir=str(tmp_path / "spool"),
        quote_flush_seconds=0.05,
    )
    log = QuoteLog.from_settings(settings)
    log.start()
    try:
        log.writer.submit_rows(_rows(3))
        assert not log.writer.flush(10)
        assert "postgresql" in log.describe() and not log.writer.status.database_ok
    finally:
        log.stop(10)
    assert Spool(tmp_path / "spool").pending_rows() == 3


def test_a_bad_row_is_set_aside_not_retried_forever(store: QuoteStore, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    bad = _rows(1)
    bad[0]["model_version"] = None  # NOT NULL: the database refuses the content
    spool.append(bad)
    writer = QuoteWriter(store, spool, flush_seconds=0.05)
    writer.start()
    try:
        writer.submit_rows(_rows(2))
        assert writer.flush(10)
    finally:
        writer.stop()
    assert store.count_quotes() == 2
    assert len(list((tmp_path / "spool" / "rejected").glob("*.jsonl"))) == 1


def test_a_large_upload_waits_for_room_in_the_queue(store: QuoteStore, tmp_path: Path) -> None:
    """Chunks submitted with block=True never pile up beyond max_waiting (memory stays
    bounded on a million-row upload); every row still arrives."""
    writer = QuoteWriter(
        store, Spool(tmp_path / "spool"), batch_rows=10**6, flush_seconds=30, max_waiting=100
    )
    writer.start()
    try:
        for _ in range(10):
            writer.submit(60, lambda: _rows(60), block=True)
            assert writer.waiting <= 120
        assert writer.flush(10)
    finally:
        writer.stop()
    assert store.count_quotes() == 600
