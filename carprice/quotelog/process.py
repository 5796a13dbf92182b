"""The quote-log writer in a process of its own, so that writing never holds the API's GIL.

In one process, the writer thread's row building and SQL parameter binding (and the GIL
hand-over at every row SQLite steps) slow the request thread that is pricing the next CSV
chunk; on a 10,000-row upload the log cost about 45% of the throughput. Here the API's side
only turns each hand-over into a compact, picklable batch (`records.QuoteBatch`: the priced
frame's columns, prices and ids, no per-row Python) and sends it down a pipe; the child runs
the ordinary `QuoteWriter` (batching, outage spool, replay) on the other core.

Nothing is lost when the child fails: each batch stays in the parent until the child says
it was written or spooled (`settled`). A child that dies is started again and given every
unsettled batch again, in order (inserts skip known ids, so a batch written twice counts
once); on `stop`, whatever the child didn't settle is spooled by the parent itself.

`multiprocessing` (spawn) is the library for the job: the child imports only the quote log,
not the model, and the pipe carries pickled batches. The child ignores SIGINT and SIGTERM,
which a terminal or a supervisor sends to the whole process group: it stops when its parent
tells it to, after draining, or when the pipe closes because the parent died.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import partial
from typing import Any

from carprice.quotelog.spool import Spool
from carprice.quotelog.writer import (
    Pending,
    QuoteWriter,
    Rows,
    WriterStatus,
    build_rows,
    built,
    materialise,
)

log = logging.getLogger("carprice.quotelog")

START_SECONDS = 120.0  # a child that doesn't say "ready" by then (imports, migrations) failed


class ProcessWriter:
    """`QuoteWriter`'s interface (submit, flush, stop, status), writing from a child process."""

    def __init__(
        self,
        database_url: str,
        spool: Spool,
        *,
        batch_rows: int = 500,
        flush_seconds: float = 0.5,
        max_waiting: int = 50_000,
    ) -> None:
        self.database_url = database_url
        self.spool = spool
        self.batch_rows = batch_rows
        self.flush_seconds = flush_seconds
        self.max_waiting = max_waiting
        self.status = WriterStatus()
        self._retired = WriterStatus()  # what children before the current one wrote, spooled…
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._queue: deque[Pending] = deque()
        self._queued = 0  # rows in `_queue`
        self._building = 0  # rows the feeder took from `_queue` and hasn't put in flight yet
        self._inflight: dict[int, tuple[int, bytes]] = {}  # seq → (rows, pickled batch), in order
        self._inflight_rows = 0
        self._seq = 0  # batches sent
        self._flush_asked = 0  # flush tokens: asked, and answered by the child
        self._flush_answered = 0
        self._flush_ok = False
        self._flush_timeout = 10.0  # how long the newest flush may take in the child
        self._stopping = False
        self._wake = threading.Event()
        self._ctx = multiprocessing.get_context("spawn")
        self._child: Any = None  # multiprocessing Process
        self._conn: Any = None  # the parent's end of the pipe
        self._listener: threading.Thread | None = None  # reads the current child's answers
        self._flush_sent = 0  # the newest flush token the current child was asked
        self._feeder: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the child and wait until its writer is running (schema migrated, or the
        database found down and spooling), then the thread that feeds it."""
        self._spawn()
        self._feeder = threading.Thread(target=self._feed, name="quote-feeder", daemon=True)
        self._feeder.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Drain: everything submitted ends in the database or in the spool (the child's,
        or, for what a dead or hung child didn't settle, this process's)."""
        with self._lock:
            self._stopping = True
        self._wake.set()
        if self._feeder is not None:
            self._feeder.join(timeout)
        child, listener = self._child, self._listener
        if child is not None and child.is_alive() and self._send(("stop", timeout)):
            child.join(timeout + 5)
            if listener is not None:
                listener.join(5)  # its last "settled" read before the pipe closed
        with self._changed:
            self._retire_child()
            rest = list(self._queue)
            self._queue.clear()
            self._queued = 0
            unsettled = list(self._inflight.values())
            self._inflight.clear()
            self._inflight_rows = 0
            self._changed.notify_all()
        rows: Rows = []
        for _, blob in unsettled:
            rows.extend(_rows_of(blob))
        rows.extend(build_rows(rest))
        if rows:  # the child died, hung or couldn't spool: keep the rows on disk
            log.error("quote log: writer process did not settle %d rows; spooling them", len(rows))
            try:
                self.spool.append(rows)
            except OSError:
                log.exception("quote log: %d quotes are lost: the database is down and the "
                              "spool can't be written", len(rows))  # fmt: skip
                return
            self.status.spooled += len(rows)

    # ------------------------------------------------------------------ request path
    def submit(self, count: int, build: Callable[[], Any], *, block: bool = False) -> None:
        """As `QuoteWriter.submit`; `build()` runs on the feeder thread and returns rows or a
        `QuoteBatch`-like object with `rows()`, which is what crosses to the child."""
        if count <= 0:
            return
        with self._changed:
            if block and self._feeder is not None:
                self._changed.wait_for(
                    lambda: self.waiting < self.max_waiting or self._stopping,
                    timeout=60,
                )
            self._queue.append(Pending(count, build))
            self._queued += count
            wake = self._queued >= self.batch_rows
        if wake:  # else the feeder's timer collects it with the next ones
            self._wake.set()

    def submit_rows(self, rows: Rows) -> None:
        self.submit(len(rows), lambda: rows)

    def flush(self, timeout: float = 10.0) -> bool:
        """Write everything submitted so far now; True when it all reached the database."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._flush_asked += 1
            token = self._flush_asked
            self._flush_timeout = timeout
        self._wake.set()
        with self._changed:
            while self._flush_answered < token:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping:
                    return False
                self._changed.wait(min(left, 0.1))
            ok = self._flush_ok
        return ok and self.status.database_ok and not self.spool.files()

    @property
    def waiting(self) -> int:
        """Rows not yet settled by the child: queued here, being built, or sent."""
        return self._queued + self._building + self._inflight_rows

    def unsettled(self) -> bool:
        """Whether some submitted quotes may not be in the database yet. Rows the feeder is
        building count too: without them a sale on a quote made a moment ago could find
        nothing to flush and be refused as unknown."""
        with self._lock:
            busy = bool(self._queue or self._building or self._inflight)
        return busy or bool(self.spool.files())

    # ------------------------------------------------------------------ the feeder thread
    def _feed(self) -> None:
        """Build each hand-over's batch (cheap: columnar), pickle it, send it; keep it until
        the child settles it. Restarts a dead child and resends what it held. The only
        thread that writes to the pipe, and never under the lock: a busy child blocks the
        feeder, never a request."""
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            try:
                self._cycle()
            except Exception:  # noqa: BLE001 - the feeder must outlive any one bad cycle
                log.exception("quote log: feeder cycle failed")
            if self._stopping and not self._queue:
                return

    def _cycle(self) -> None:
        with self._lock:
            items = list(self._queue)
            self._queue.clear()
            self._building += self._queued
            self._queued = 0
            stopping = self._stopping
            flush_token, flush_timeout = self._flush_asked, self._flush_timeout
            dead = self._child is None or not self._child.is_alive()
        if dead and not stopping:
            self._respawn()
        if items:
            self._hand_over(items)
        if flush_token > self._flush_sent:
            self._flush_sent = flush_token
            if not self._send(("flush", flush_token, flush_timeout)):
                with self._changed:
                    self._flush_answered, self._flush_ok = flush_token, False
                    self._changed.notify_all()

    def _hand_over(self, items: list[Pending]) -> None:
        """One message for a cycle's hand-overs. Their rows count as `_building` until
        they are in flight, or dropped by a failing builder."""
        taken = sum(item.count for item in items)
        packed: tuple[int, bytes] | None = None
        seq = 0
        try:
            packed = _pack(items)
        finally:
            with self._lock:
                self._building -= taken
                if packed is not None:
                    self._seq += 1
                    seq = self._seq
                    self._inflight[seq] = packed
                    self._inflight_rows += packed[0]
        if packed is not None:
            self._send(("batch", seq, *packed))

    def _send(self, message: tuple) -> bool:
        """False when the child is gone (the batch stays in flight for the next child)."""
        conn = self._conn
        if conn is None:
            return False
        try:
            conn.send(message)
            return True
        except (OSError, ValueError):  # broken pipe, closed connection
            return False

    # ------------------------------------------------------------------ the child
    def _spawn(self) -> None:
        """Start a child and wait for its "ready"; then it takes over from the last one."""
        parent_end, child_end = self._ctx.Pipe(duplex=True)
        child = self._ctx.Process(
            target=serve,
            args=(child_end, self.database_url, str(self.spool.directory)),
            kwargs={"batch_rows": self.batch_rows, "flush_seconds": self.flush_seconds},
            name="carprice-quote-writer",
            daemon=True,
        )
        child.start()
        child_end.close()
        if not parent_end.poll(START_SECONDS):
            child.kill()
            raise RuntimeError("the quote-log writer process did not start")
        try:
            kind, status = parent_end.recv()
        except EOFError:
            kind, status = f"nothing (exit code {child.exitcode})", {}
        if kind != "ready":
            raise RuntimeError(f"the quote-log writer process answered {kind!r}")
        listener = threading.Thread(
            target=self._listen, args=(parent_end,), name="quote-listener", daemon=True
        )
        with self._lock:
            self._apply(status)
            self._child, self._conn, self._listener = child, parent_end, listener
        listener.start()

    def _respawn(self) -> None:
        """No child, or it died: start another and give it every unsettled batch, in order
        (from the feeder thread, outside the lock: requests keep submitting meanwhile)."""
        with self._lock:
            code = self._child.exitcode if self._child is not None else None
            self._retire_child()
            self._flush_sent = self._flush_answered  # unanswered flushes go to the new child
        log.error("quote log: writer process exited (%s); starting another", code)
        try:
            self._spawn()
        except Exception:  # noqa: BLE001 - try again on the next cycle; rows stay in flight
            log.exception("quote log: could not start the writer process")
            time.sleep(1.0)
            return
        with self._lock:
            unsettled = list(self._inflight.items())
        for seq, (count, blob) in unsettled:
            self._send(("batch", seq, count, blob))

    def _retire_child(self) -> None:
        self._retired = replace(self.status)  # the next child counts from zero: keep the sum
        if self._conn is not None:
            self._conn.close()
        if self._child is not None and self._child.is_alive():
            self._child.kill()
        self._child = self._conn = self._listener = None

    def _listen(self, conn: Any) -> None:
        """The child's answers: batches settled up to a sequence number, flushes answered.
        Ends when the child's end closes (it exited): the feeder then starts another."""
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                self._wake.set()
                with self._changed:
                    self._changed.notify_all()
                return
            kind = message[0]
            with self._changed:
                if conn is not self._conn:  # a retired child's last word: its batches are resent
                    return
                if kind == "settled":
                    for seq in [s for s in self._inflight if s <= message[1]]:
                        self._inflight_rows -= self._inflight.pop(seq)[0]
                elif kind == "flushed":
                    self._flush_answered = max(self._flush_answered, message[1])
                    self._flush_ok = message[2]
                self._apply(message[-1])
                self._changed.notify_all()

    def _apply(self, status: dict[str, Any]) -> None:
        """The current child's status; its counters added to its predecessors'."""
        child, before = WriterStatus(**status), self._retired
        self.status = replace(
            child,
            written=before.written + child.written,
            spooled=before.spooled + child.spooled,
            replayed=before.replayed + child.replayed,
        )


def serve(
    conn: Any, database_url: str, spool_dir: str, *, batch_rows: int, flush_seconds: float
) -> None:
    """The child: an ordinary `QuoteWriter` fed from the pipe, answering with what it
    settled. Runs until told to stop, or until the parent's end of the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    log.setLevel(logging.INFO)  # outages and replays, as the thread writer logs them
    import pandas as pd  # what unpickling the first batch would import, before "ready"

    from carprice.quotelog.store import QuoteStore

    pd.DataFrame({"warm": ["up"]}, dtype="string").to_json(orient="records")
    store = QuoteStore.from_url(database_url, chunk_rows=batch_rows)
    sent = threading.Lock()
    seqs: deque[int] = deque()  # the parent's number of each unsettled submission, in order
    done = [0, 0]  # submissions settled (and dropped from `seqs`), the newest one's number

    def settled(count: int) -> None:
        """Tell the parent; from the writer thread after each cycle, and before a flush's
        answer, so that the parent's `flush` returns with those batches counted settled."""
        with sent:
            if count <= done[0]:
                return
            while done[0] < count:
                done[1] = seqs.popleft()
                done[0] += 1
            with contextlib.suppress(OSError):  # the parent is gone: the loop sees EOF
                conn.send(("settled", done[1], asdict(writer.status)))

    writer = QuoteWriter(
        store,
        Spool(spool_dir),
        batch_rows=1,  # the parent batched: write each message as it arrives
        flush_seconds=flush_seconds,
        max_waiting=10**9,  # the parent bounds what is in flight
        on_settled=settled,
    )
    writer.start()
    with sent:
        conn.send(("ready", asdict(writer.status)))
    timeout = 30.0
    try:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):  # the parent died: drain and go
                break
            kind = message[0]
            if kind == "batch":
                _, seq, count, blob = message
                if count > 0:  # as `submit` counts it
                    seqs.append(seq)
                    writer.submit(count, partial(_rows_of, blob))
            elif kind == "flush":
                ok = writer.flush(message[2])
                settled(writer.settled)
                with sent:
                    conn.send(("flushed", message[1], ok, asdict(writer.status)))
            elif kind == "stop":
                timeout = message[1]
                break
    finally:
        writer.stop(timeout)
        store.engine.dispose()
        # After `stop` all are settled, unless the spool refused some (disk full while the
        # database is down): then only what was, and the parent keeps the rest.
        newest = seqs[-1] if seqs and not writer.waiting else done[1]
        with sent, contextlib.suppress(OSError):
            conn.send(("settled", newest, asdict(writer.status)))


def _pack(items: list[Pending]) -> tuple[int, bytes] | None:
    """Build the hand-overs' batches and pickle them together: (rows, pickled batches), or
    None when every builder failed."""
    done = list(built(items))
    count, payloads = sum(n for n, _ in done), [payload for _, payload in done]
    if not payloads:
        return None
    try:
        blob = pickle.dumps(payloads, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - a payload that won't pickle: send its rows instead
        log.exception("quote log: a batch did not pickle; sending its rows")
        blob = pickle.dumps([_flatten(payloads)], protocol=pickle.HIGHEST_PROTOCOL)
    return count, blob


def _rows_of(blob: bytes) -> Rows:
    """The rows of one message's batches."""
    return _flatten(pickle.loads(blob))


def _flatten(payloads: list[Any]) -> Rows:
    return [row for payload in payloads for row in materialise(payload)]
