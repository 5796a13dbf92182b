"""The database-outage drill on a real PostgreSQL server that this test starts, stops and
restarts itself (never the shared one on 5432): quotes keep coming through the real app
while the server is down, and afterwards every quote row is in the database exactly once."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from stack.ports import free_port
from tests.plugins.api_stack import CAR, Champion, api_env

pytestmark = pytest.mark.integration


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if found:
        return found[-1].parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class PgServer:
    """A throwaway PostgreSQL cluster in `base`, run as `user` (initdb refuses root)."""

    bin: Path
    base: Path
    port: int
    user: str | None  # None: run as the current user
    running: bool = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://carprice@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed: {done.stdout}\n{done.stderr}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.base / "data"), "-U", "carprice", "--auth=trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")  # fmt: skip
        self._run("pg_ctl", "-D", str(self.base / "data"), "-o", options,
                  "-l", str(self.base / "postgres.log"), "-w", "-t", "60", "start")  # fmt: skip
        self.running = True

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.base / "data"), "-m", "fast", "-w", "stop")
        self.running = False


@pytest.fixture
def own_postgres() -> Iterator[PgServer]:
    pg_bin = _pg_bin()
    if pg_bin is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    user = None
    if os.geteuid() == 0:  # initdb refuses to run as root: run the server as nobody
        if shutil.which("runuser") is None:
            pytest.skip("running as root and `runuser` is missing: initdb can't run as root")
        user = "nobody"
    base = Path(tempfile.mkdtemp(prefix="carprice-pg-", dir="/tmp"))
    if user:
        shutil.chown(base, user=user)
    server = PgServer(pg_bin, base, free_port(), user)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running:
            server.stop()
        shutil.rmtree(base, ignore_errors=True)


def _quote_all(client, sent: list[str], round_: int) -> None:  # noqa: ANN001
    """One of each: a single quote, a batch of 3, a CSV of 4 rows; every one must succeed.
    Plus one refused row of each source: a single car, a batch item, a CSV row."""
    single = client.post("/predict", json={**CAR, "km_driven": 40_000 + round_})
    assert single.status_code == 200, single.text
    sent.append(single.json()["quote_id"])
    assert client.post("/predict", json={**CAR, "brand": "Tesla"}).status_code == 422
    cars = [{**CAR, "year": 2012 + i} for i in range(3)] + [{**CAR, "brand": "Tesla"}]
    batch = client.post("/predict/batch", json=cars)
    assert batch.status_code == 200 and batch.json()["priced"] == 3, batch.text
    sent += [item["quote_id"] for item in batch.json()["items"] if item["error"] is None]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(CAR))
    writer.writeheader()
    writer.writerows([{**CAR, "km_driven": 10_000 * (i + 1)} for i in range(4)])
    writer.writerow({**CAR, "fuel": "Electric"})
    priced = client.post("/predict/csv", files={"file": ("c.csv", out.getvalue(), "text/csv")})
    assert priced.status_code == 200, priced.text
    sent += [
        row["quote_id"] for row in csv.DictReader(io.StringIO(priced.text)) if not row["error"]
    ]


def test_outage_loses_no_quote(own_postgres: PgServer, champion: Champion, tmp_path) -> None:  # noqa: ANN001
    import time

    from fastapi.testclient import TestClient
    from sqlalchemy import create_engine, text

    from api.main import create_app

    env = {
        "CARPRICE_DATABASE_URL": own_postgres.url,
        "CARPRICE_QUOTE_SPOOL_DIR": str(tmp_path / "spool"),
        "CARPRICE_QUOTE_FLUSH_SECONDS": "0.2",
    }
    sent: list[str] = []
    with api_env(champion.url, **env), TestClient(create_app()) as client:
        quote_log = client.app.state.quote_log
        for i in range(5):
            _quote_all(client, sent, i)
            time.sleep(0.1)
        own_postgres.stop()  # mid-stream: some rows are still in the writer's queue
        for i in range(5, 15):
            _quote_all(client, sent, i)
            time.sleep(0.1)
        assert not quote_log.writer.status.database_ok
        assert list((tmp_path / "spool").glob("*.jsonl")), "nothing was spooled"
        own_postgres.start()
        for i in range(15, 20):
            _quote_all(client, sent, i)
        assert quote_log.writer.flush(60)
        assert quote_log.writer.status.database_ok
        assert quote_log.writer.status.spooled > 0 and quote_log.writer.status.replayed > 0
    assert len(sent) == 20 * 8 and len(set(sent)) == len(sent) and all(sent)
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    engine = create_engine(own_postgres.url)
    try:
        with engine.connect() as conn:
            stored = [r[0] for r in conn.execute(text("SELECT quote_id FROM quotes"))]
            sources = dict(
                conn.execute(text("SELECT source, count(*) FROM quotes GROUP BY source")).all()
            )
            refused = dict(
                conn.execute(text("SELECT source, count(*) FROM refusals GROUP BY source")).all()
            )
    finally:
        engine.dispose()
    lost = set(sent) - set(stored)
    assert not lost, f"{len(lost)} quotes lost"
    assert len(stored) == len(sent)  # each exactly once (no strays, no doubles)
    assert sources == {"predict": 20, "batch": 60, "csv": 80}
    assert refused == {"predict": 20, "batch": 20, "csv": 20}  # each exactly once too
