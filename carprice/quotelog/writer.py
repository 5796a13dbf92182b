"""The background writer: the request path only hands quote-log rows over (quotes and
refused rows, `records`); a thread writes them.

`submit` appends to an in-memory queue (microseconds, no I/O, no row building: a CSV chunk
is handed over as a function that builds its rows later, off the request path). Every
`flush_seconds`, or as soon as `batch_rows` are waiting, the thread builds the rows and
writes them in one transaction. When the database can't be reached the batch goes to the
`Spool` instead, and the thread retries with exponential backoff; the spooled batches are
replayed, oldest first, before anything newer is written. `stop` drains the queue to the
database or, failing that, to the spool.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from carprice.quotelog.spool import Spool
from carprice.quotelog.store import OUTAGE_ERRORS, QuoteStore

if TYPE_CHECKING:
    from carprice.quotelog.process import ProcessWriter

log = logging.getLogger("carprice.quotelog")

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Pending:
    """`count` rows (quotes and refusals) that `build` makes when the writer gets to them:
    a list of rows, or an object whose `rows()` makes them (`records.LogBatch`), which is
    what a writer in another process is sent."""

    count: int
    build: Callable[[], Any]


def materialise(payload: Any) -> Rows:
    """A `Pending.build()` result as rows."""
    return payload if isinstance(payload, list) else payload.rows()


def built(items: Sequence[Pending]) -> Iterator[tuple[int, Any]]:
    """(row count, payload) of each hand-over whose builder works; one that fails is logged
    and skipped, not the rest."""
    for item in items:
        try:
            payload = item.build()
        except Exception:  # noqa: BLE001 - a bug in one builder must not stop the log
            log.exception("quote log: building %d quote rows failed", item.count)
            continue
        yield item.count, payload


def build_rows(items: Sequence[Pending]) -> Rows:
    """The rows of hand-overs whose builders work (`built`)."""
    return [row for _, payload in built(items) for row in materialise(payload)]


@dataclass
class WriterStatus:
    """What the writer knows about its database, for /health-style reporting and tests."""

    database_ok: bool = True
    last_error: str | None = None
    written: int = 0  # rows inserted into the database by this process
    spooled: int = 0  # rows written to the spool by this process
    replayed: int = 0  # spooled rows (this process's or earlier ones) written to the database


class QuoteWriter:
    """Batches quotes into the database from one thread; never blocks or fails a quote."""

    def __init__(
        self,
        store: QuoteStore,
        spool: Spool,
        *,
        batch_rows: int = 500,
        flush_seconds: float = 0.5,
        min_backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_waiting: int = 50_000,
        on_settled: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.on_settled = on_settled  # told how many submissions are settled, after each cycle
        self.spool = spool
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.min_backoff = min_backoff
        self.max_backoff = max_backoff
        self.max_waiting = max_waiting
        self.status = WriterStatus()
        self._lock = threading.Lock()
        self._done = threading.Condition(self._lock)
        self._queue: deque[Pending] = deque()
        self._waiting = 0  # rows in the queue
        self._submitted = 0  # batches ever submitted; `_settled` catches up with it
        self._settled = 0
        self._wake = threading.Event()
        self._urgent = False  # a flush() is waiting: ignore the backoff once
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._backoff = min_backoff
        self._retry_at = 0.0
        self._migrated = False

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Migrate the schema if the database answers now (else the thread keeps trying),
        then start the thread."""
        try:
            self._ensure_schema()
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
        self._thread = threading.Thread(target=self._run, name="quote-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Drain: everything submitted ends in the database or in the spool."""
        with self._lock:
            self._stopping = True
            self._urgent = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("quote log: writer still busy after %.0f s; spooling the rest", timeout)
        rest = self._take()
        # The thread never ran, is stuck, or holds rows the spool refused: keep them on disk.
        if rest and not self._to_spool(build_rows(rest)):
            log.error("quote log: %d quotes are lost: the database is down and the spool "
                      "can't be written", self._waiting)  # fmt: skip

    # ------------------------------------------------------------------ request path
    def submit(self, count: int, build: Callable[[], Rows], *, block: bool = False) -> None:
        """Hand over `count` rows (quotes, refusals) that `build()` makes later, on the writer
        thread.

        `block=True` (a large upload, on a worker thread, never the event loop) first waits
        while `max_waiting` rows are queued: a million-row CSV is priced faster than its rows
        are written, and the queue holds each chunk's frames, so memory would grow with the
        file. It waits at most a minute, then queues anyway (nothing is ever dropped).
        """
        if count <= 0:
            return
        if block and self._waiting >= self.max_waiting and self._thread is not None:
            self._wake.set()
            with self._done:
                self._done.wait_for(
                    lambda: self._waiting < self.max_waiting or self._stopping, timeout=60
                )
        with self._lock:
            self._queue.append(Pending(count, build))
            self._waiting += count
            self._submitted += 1
            wake = self._waiting >= self.batch_rows
        if wake:
            self._wake.set()

    def submit_rows(self, rows: Rows) -> None:
        self.submit(len(rows), lambda: rows)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything submitted so far now (replaying the spool first); True when it
        all reached the database, False when the database is down (rows are spooled) or the
        timeout passed."""
        with self._lock:
            target = self._submitted
            self._urgent = True
        self._wake.set()
        deadline = time.monotonic() + timeout
        with self._done:
            while self._settled < target or self._urgent:
                left = deadline - time.monotonic()
                if left <= 0 or not (self._thread and self._thread.is_alive()):
                    return False
                self._done.wait(min(left, 0.1))
        return self.status.database_ok and not self.spool.files()

    @property
    def waiting(self) -> int:
        """Rows queued and not yet taken by the thread."""
        return self._waiting

    @property
    def settled(self) -> int:
        """Submissions written or spooled so far (`flush` waits for this to catch up)."""
        return self._settled

    def unsettled(self) -> bool:
        """Whether some submitted quotes may not be in the database yet (queued, being
        written, or spooled)."""
        return self._submitted > self._settled or bool(self.spool.files())

    # ------------------------------------------------------------------ the thread
    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            with self._lock:
                stopping, urgent = self._stopping, self._urgent
                target = self._submitted
            try:
                kept = self._cycle(force=urgent or stopping)
            except Exception:  # noqa: BLE001 - the thread must outlive any one bad batch
                log.exception("quote log: writer cycle failed")
                kept = True
            with self._done:
                if kept:  # else some are only in memory: not settled until written or spooled
                    self._settled = max(self._settled, target)
                if urgent:
                    self._urgent = False
                self._done.notify_all()
                settled = self._settled
            if self.on_settled is not None:
                self.on_settled(settled)
            if stopping and not self._queue:
                return

    def _cycle(self, force: bool) -> bool:
        """One pass: replay the spool, write what was submitted (or spool it while the
        database is down). False when rows could be neither written nor spooled."""
        rows = build_rows(self._take())
        due = force or time.monotonic() >= self._retry_at
        if not due:
            return self._to_spool(rows)
        try:
            self._ensure_schema()
            self._replay()
            if rows:
                self.store.insert_rows(rows)
                self.status.written += len(rows)
        except OUTAGE_ERRORS as exc:
            self._failed(exc)
            return self._to_spool(rows)
        except Exception as exc:  # noqa: BLE001 - a batch the database refuses: keep it aside
            log.exception("quote log: the database refused a batch of %d quotes", len(rows))
            self.status.last_error = f"{type(exc).__name__}: {exc}"
            if rows:
                self.spool.reject(self.spool.append(rows), str(exc)[:200])
            return True
        self._recovered()
        return True

    def _take(self) -> list[Pending]:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
            self._waiting = 0
            self._done.notify_all()  # uploads waiting for room
        return items

    def _ensure_schema(self) -> None:
        if not self._migrated:
            self.store.migrate()
            self._migrated = True

    def _replay(self) -> None:
        """Spooled batches, oldest first; each file is removed only after its commit."""
        for path in self.spool.files():
            try:
                rows = self.spool.read(path)
            except FileNotFoundError:  # another process replayed it
                continue
            try:
                self.store.insert_rows(rows)
            except OUTAGE_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - this file's content, not an outage
                self.spool.reject(path, str(exc)[:200])
                continue
            self.spool.remove(path)
            self.status.replayed += len(rows)
            log.info("quote log: replayed %d spooled quotes from %s", len(rows), path.name)

    def _to_spool(self, rows: Rows) -> bool:
        """Spool `rows`; False if the disk refused them and they went back to the queue."""
        if not rows:
            return True
        try:
            self.spool.append(rows)
            self.status.spooled += len(rows)
        except OSError:  # disk full or unwritable: keep them in memory and try again later
            log.exception("quote log: could not spool %d quotes; keeping them in memory", len(rows))
            with self._lock:
                self._queue.appendleft(Pending(len(rows), lambda: rows))
                self._waiting += len(rows)
            return False
        return True

    def _failed(self, exc: BaseException) -> None:
        first = self.status.database_ok
        self.status.database_ok = False
        self.status.last_error = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
        self._retry_at = time.monotonic() + self._backoff
        if first:
            log.warning("quote log: database unreachable, spooling to %s (%s)",
                        self.spool.directory, self.status.last_error)  # fmt: skip
        self._backoff = min(self.max_backoff, self._backoff * 2)

    def _recovered(self) -> None:
        if not self.status.database_ok:
            log.info("quote log: database back")
        self.status.database_ok = True
        self._backoff = self.min_backoff
        self._retry_at = 0.0


@dataclass
class QuoteLog:
    """The store and its writer, as a service holds them (the API's lifespan starts and stops
    it); `known_ids` sees a quote made a moment ago by flushing the queue first."""

    store: QuoteStore
    writer: QuoteWriter | ProcessWriter

    @classmethod
    def from_settings(cls, settings: Any) -> QuoteLog:
        """From `carprice.settings.Settings` (database URL, spool folder, batching, and
        whether the writer is a thread or a process of its own)."""
        store = QuoteStore.from_url(settings.database_url, chunk_rows=settings.quote_batch_rows)
        spool = Spool(settings.quote_spool_dir)
        batching = {
            "batch_rows": settings.quote_batch_rows,
            "flush_seconds": settings.quote_flush_seconds,
        }
        writer: QuoteWriter | ProcessWriter
        if settings.quote_writer == "process":
            from carprice.quotelog.process import ProcessWriter

            writer = ProcessWriter(settings.database_url, spool, **batching)
        else:
            writer = QuoteWriter(store, spool, **batching)
        return cls(store, writer)

    def describe(self) -> str:
        """The database URL without its password, for logs."""
        return self.store.engine.url.render_as_string(hide_password=True)

    def start(self) -> None:
        self.writer.start()

    def stop(self, timeout: float = 30.0) -> None:
        self.writer.stop(timeout)
        self.store.engine.dispose()

    def submit(self, count: int, build: Callable[[], Rows], *, block: bool = False) -> None:
        self.writer.submit(count, build, block=block)

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of `ids` are logged quotes; a miss flushes the writer (a quote still in its
        queue or spool) and asks once more. Raises the store's outage errors."""
        known = self.store.known_ids(ids)
        if len(known) < len(set(ids)) and self.writer.unsettled():
            self.writer.flush()
            known = self.store.known_ids(ids)
        return known
