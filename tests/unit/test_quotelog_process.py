"""The quote-log writer in its own process (`carprice.quotelog.process`): real child
processes and a real SQLite file; an outage is a PostgreSQL URL nobody listens on. What it
must keep from the thread writer: nothing lost and nothing doubled, whatever happens to the
child."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from carprice.quotelog.process import ProcessWriter
from carprice.quotelog.spool import Spool
from carprice.quotelog.store import QuoteStore
from tests.unit.test_quotelog import _rows


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'quotes.db'}"


def _store(url: str) -> QuoteStore:
    return QuoteStore.from_url(url)


def _writer(url: str, tmp_path: Path, **kwargs) -> ProcessWriter:  # noqa: ANN003
    kwargs.setdefault("flush_seconds", 0.1)
    writer = ProcessWriter(url, Spool(tmp_path / "spool"), **kwargs)
    writer.start()
    return writer


def test_rows_reach_the_database_from_the_child(url: str, tmp_path: Path) -> None:
    writer = _writer(url, tmp_path, flush_seconds=30)  # only the flush sends
    try:
        assert writer._child.pid != os.getpid()
        sent = []
        for _ in range(30):
            rows = _rows(3)
            sent += [r["quote_id"] for r in rows]
            writer.submit_rows(rows)
        assert writer.flush(20)
        assert writer._seq == 1  # collected into one message, not one per hand-over
        assert writer.waiting == 0 and not writer.unsettled()
        assert writer.status.database_ok and writer.status.written == 90
        assert _store(url).known_ids(sent) == set(sent)
    finally:
        writer.stop()


def test_rows_being_built_are_unsettled_so_a_sale_flushes_them(url: str, tmp_path: Path) -> None:
    """CI once refused every sale on quotes made a moment ago: the feeder had taken them
    from the queue and was building their batch, so the writer looked settled and the sale
    found nothing to flush."""
    writer = _writer(url, tmp_path)
    building, release = threading.Event(), threading.Event()
    rows = _rows(4)

    def slow_build() -> list:
        building.set()
        release.wait(20)
        return rows

    try:
        writer.submit(len(rows), slow_build)
        writer._wake.set()
        assert building.wait(20)  # the feeder holds the hand-over: not queued, not in flight
        assert writer.unsettled() and writer.waiting == 4
        release.set()
        assert writer.flush(20)
        assert not writer.unsettled() and writer.waiting == 0
        assert _store(url).count_quotes() == 4
    finally:
        release.set()
        writer.stop()


def test_a_builder_that_fails_leaves_nothing_counted(url: str, tmp_path: Path) -> None:
    writer = _writer(url, tmp_path)

    def broken() -> list:
        raise ValueError("a bug in one builder")

    try:
        writer.submit(7, broken)
        writer.submit_rows(_rows(2))
        assert writer.flush(20)
        assert writer.waiting == 0 and not writer.unsettled()
    finally:
        writer.stop()
    assert _store(url).count_quotes() == 2


def test_a_killed_child_is_replaced_and_its_batches_sent_again(url: str, tmp_path: Path) -> None:
    writer = _writer(url, tmp_path)
    try:
        writer.submit_rows(_rows(5))
        assert writer.flush(20)
        first = writer._child
        first.kill()
        first.join(5)
        sent = []
        for _ in range(4):  # handed over while no child runs: kept in flight, then resent
            rows = _rows(2)
            sent += [r["quote_id"] for r in rows]
            writer.submit_rows(rows)
        assert writer.flush(60)
        assert writer._child is not first and writer._child.is_alive()
        assert writer.status.written == 13  # both children's rows, not the new one's alone
    finally:
        writer.stop()
    store = _store(url)
    assert store.count_quotes() == 13 and store.known_ids(sent) == set(sent)


def test_the_child_ignores_a_group_sigterm_and_drains_on_stop(url: str, tmp_path: Path) -> None:
    """A supervisor's SIGTERM to the process group reaches the child too: it must keep
    its rows until the API's shutdown tells it to drain."""
    writer = _writer(url, tmp_path, batch_rows=10**5)
    writer.flush_seconds = 30  # nothing is written before stop
    child = writer._child
    os.kill(child.pid, signal.SIGTERM)
    time.sleep(0.3)
    assert child.is_alive()
    writer.submit_rows(_rows(6))
    writer.stop()
    assert not child.is_alive()
    assert _store(url).count_quotes() == 6 and not Spool(tmp_path / "spool").files()


def test_what_a_dead_child_never_settled_is_spooled_by_the_parent(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = _writer(url, tmp_path)
    monkeypatch.setattr(writer, "_respawn", lambda: None)  # the child stays dead
    writer._child.kill()
    writer._child.join(5)
    rows = _rows(7)
    writer.submit_rows(rows)
    time.sleep(0.3)  # the feeder sends into the dead pipe: the batch stays in flight
    writer.stop(5)
    spool = Spool(tmp_path / "spool")
    assert spool.pending_rows() == 7 and _store(url).count_quotes() == 0
    again = _writer(url, tmp_path)  # the next start replays them
    try:
        assert again.flush(20)
    finally:
        again.stop()
    assert _store(url).known_ids([r["quote_id"] for r in rows]) == {r["quote_id"] for r in rows}


def test_an_unreachable_database_spools_in_the_child_and_replays_later(
    url: str, tmp_path: Path
) -> None:
    from stack.ports import free_port

    down = f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/carprice"
    writer = _writer(down, tmp_path)
    try:
        writer.submit_rows(_rows(3))
        assert not writer.flush(20)
        assert not writer.status.database_ok and writer.status.spooled == 3
    finally:
        writer.stop(10)
    assert Spool(tmp_path / "spool").pending_rows() == 3
    up = _writer(url, tmp_path)
    try:
        assert up.flush(20) and up.status.replayed == 3
    finally:
        up.stop()
    assert _store(url).count_quotes() == 3


def test_a_large_upload_waits_for_the_child_to_settle(url: str, tmp_path: Path) -> None:
    writer = _writer(url, tmp_path, max_waiting=100)
    try:
        for _ in range(10):
            writer.submit(60, lambda: _rows(60), block=True)
            assert writer.waiting <= 120
        assert writer.flush(20)
    finally:
        writer.stop()
    assert _store(url).count_quotes() == 600


def test_a_batch_the_child_could_not_spool_stays_with_the_parent(tmp_path: Path) -> None:
    """Database down and the spool unwritable (a file where its folder should be, failing
    like a full disk): the child keeps the rows in memory and doesn't call them settled, so
    the parent still holds the batch when the child dies, and gives it to the next child."""
    from stack.ports import free_port

    down = f"postgresql+psycopg2://nobody@127.0.0.1:{free_port()}/carprice"
    blocked = tmp_path / "spool"
    blocked.write_text("")
    writer = _writer(down, tmp_path)
    try:
        writer.submit_rows(_rows(3))
        assert not writer.flush(3)
        assert writer.waiting == 3 and writer.unsettled()
        first = writer._child
        first.kill()
        first.join(5)
        blocked.unlink()  # room again: the next child can spool them
        deadline = time.monotonic() + 60
        while writer.waiting and time.monotonic() < deadline:
            writer.flush(5)
        assert writer.waiting == 0 and writer._child is not first
    finally:
        writer.stop(10)
    assert Spool(tmp_path / "spool").pending_rows() == 3
