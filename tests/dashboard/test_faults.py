"""Faults the dashboard must survive, with real processes: a service down, the API restarted.

* Airflow down (a closed port): Pipelines names Airflow in a banner; Quote, Batch quotes, Model
  and Experiments keep working against the real API and MLflow.
* The pricing API down: every page names it (a banner on the pages that need it, a warning on
  those that don't), never a stack trace.
* The API restarted mid-batch (stopped between chunks, started again on the same port):
  the failed chunks are named and kept, Retry prices exactly those, no row goes missing.
Pages run through the app shell (`dashboard/app.py`) as a user sees them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from carprice.sheets import Table, read_table
from dashboard import batch, pricing
from dashboard.clients.api_client import ApiClient
from tests.dashboard.conftest import SAMPLES, app_env, page_text
from tests.dashboard.test_pipelines import AIRFLOW_PASSWORD, FakeAirflow
from tests.plugins.api_stack import ApiServer, served_version, start_api, wait_for
from tests.servers import ManagedProcess, free_port, wait_http

pytestmark = pytest.mark.timeout(600)

#: Page scripts under dashboard/, in navigation order.
PAGES = {
    "Quote": "views/quote.py",
    "Batch quotes": "views/batch_quotes.py",
    "Model": "views/model.py",
    "Experiments": "views/experiments.py",
    "Pipelines": "views/pipelines.py",
}


def closed_url() -> str:
    """A loopback URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


def assert_no_stack_trace(at: AppTest, page: str) -> None:
    assert not at.exception, f"{page}: {[e.message for e in at.exception]}"
    assert "Traceback" not in page_text(at), page


def open_page(at: AppTest, page: str) -> AppTest:
    return at.switch_page(PAGES[page]).run()


def shell() -> AppTest:
    path = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
    return AppTest.from_file(str(path), default_timeout=90).run()


def upload_and_price(at: AppTest, name: str) -> pd.DataFrame:
    data = (SAMPLES / name).read_bytes()
    at.file_uploader(key="batch_upload").set_value((name, data, "text/csv")).run()
    at.button(key="batch_price").click().run()
    return result_frame(at)


def result_frame(at: AppTest) -> pd.DataFrame:
    """The priced table: the one with the row number, status and price columns."""
    frames = [d.value.data if hasattr(d.value, "data") else d.value for d in at.dataframe]
    return next(f for f in frames if {"row", "status", "predicted_price"} <= set(f.columns))


# --------------------------------------------------------------------------- a service is down


@pytest.mark.integration
def test_airflow_down_only_pipelines_says_so(api_server: ApiServer) -> None:
    """Airflow at a closed port: one clear banner on Pipelines; the other pages all work."""
    airflow = closed_url()
    with app_env(api_server.url, mlflow_url=api_server.mlflow_url, airflow_url=airflow,
                 airflow_password=AIRFLOW_PASSWORD):  # fmt: skip
        at = shell()
        status = " ".join(m.value for m in at.sidebar.markdown)
        assert ":red[●] Airflow — **down**" in status
        assert ":green[●] Pricing API" in status and ":green[●] MLflow" in status

        at = open_page(at, "Pipelines")
        assert_no_stack_trace(at, "Pipelines")
        assert len(at.error) == 1, [e.value for e in at.error]
        banner = at.error[0].value
        assert "Airflow is not available" in banner and airflow in banner
        assert "The other pages keep working" in banner

        at = open_page(at, "Quote")
        assert_no_stack_trace(at, "Quote")
        assert not at.error and at.selectbox(key="quote_brand").options
        at.form_submit_button(key="quote_submit").click().run()
        assert not at.error and at.metric[0].value.startswith("₹")

        at = open_page(at, "Batch quotes")
        assert_no_stack_trace(at, "Batch quotes")
        table = upload_and_price(at, "quote_cars.csv")
        assert not at.error and len(table) == 10 and table["predicted_price"].notna().any()

        at = open_page(at, "Model")
        assert_no_stack_trace(at, "Model")
        assert not at.error and any(m.label == "R²" for m in at.metric)

        at = open_page(at, "Experiments")
        assert_no_stack_trace(at, "Experiments")
        assert not at.error and not at.warning
        assert any(s.value.startswith("Champion vs") for s in at.subheader)
        runs = next(d.value for d in at.dataframe if "run_id" in d.value.columns)
        assert len(runs) >= 1


@pytest.mark.integration
def test_api_down_every_page_says_so(api_server: ApiServer, fake_airflow: FakeAirflow) -> None:
    """The API at a closed port: each page names the pricing API as down; no trace anywhere."""
    api = closed_url()
    with app_env(api, mlflow_url=api_server.mlflow_url, airflow_password=AIRFLOW_PASSWORD):
        at = shell()
        assert ":red[●] Pricing API — **down**" in " ".join(m.value for m in at.sidebar.markdown)
        for page in PAGES:
            at = open_page(at, page)
            assert_no_stack_trace(at, page)
            banners = [e.value for e in (*at.error, *at.warning)]
            named = [b for b in banners if "pricing API is down" in b and api in b]
            assert named, f"{page}: {banners}"
            sidebar = " ".join(m.value for m in at.sidebar.markdown)
            assert ":red[●] Pricing API — **down**" in sidebar, page
            if page in ("Quote", "Batch quotes", "Model"):
                assert at.error and not at.metric and not at.get("file_uploader"), page
        # The pages that don't price cars keep working (they ran to the end above).
        at = open_page(at, "Experiments")
        assert any("run_id" in d.value.columns for d in at.dataframe)
        at = open_page(at, "Pipelines")
        assert "DAGs and their latest runs" in [s.value for s in at.subheader]


# --------------------------------------------------------------------------- restart mid-batch


@dataclass
class RestartableApi:
    """A real API process that a test can stop and start again on the same port."""

    process: ManagedProcess
    url: str

    def stop(self) -> None:
        self.process.stop()

    def start(self) -> None:
        old = self.process
        self.process = ManagedProcess(old.name, old.cmd, old.log_path, env=old.env, cwd=old.cwd)
        self.process.start()
        wait_http(self.url + "/health", 120, process=self.process)
        wait_for(lambda: served_version(self.url) is not None, timeout=120)

    def rows_priced(self) -> float:
        """CSV rows this process has priced (or failed) since it started."""
        text = httpx.get(self.url + "/metrics", timeout=10).text
        pattern = r'carprice_rows_priced_total\{endpoint="csv",outcome="\w+"\} (\S+)'
        found = re.findall(pattern, text)
        return sum(float(v) for v in found)


@pytest.fixture(scope="module")
def restartable(
    api_server: ApiServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestartableApi]:
    proc, url = start_api(api_server.mlflow_url, tmp_path_factory.mktemp("restart_api"))
    api = RestartableApi(proc, url)
    try:
        wait_for(lambda: served_version(url) is not None, timeout=120)
        yield api
    finally:
        api.process.stop()


def check_every_row(table: pd.DataFrame, names: list[str]) -> None:
    """Every input row, in order, priced or with a reason (never neither, never both)."""
    assert table["row"].tolist() == list(range(1, len(names) + 1))
    assert table["name"].tolist() == names
    priced = table["predicted_price"].notna()
    assert (priced ^ (table["error"] != "")).all()


def lot_frame(sheet: Table, chunks: list[batch.Chunk], outcome: batch.BatchOutcome) -> pd.DataFrame:
    """The lot's result columns beside its row numbers and names, as the page shows them."""
    results = batch.combine(sheet, chunks, outcome)
    return results.assign(row=range(1, len(results) + 1), name=sheet.frame["name"].tolist())


@pytest.mark.integration
def test_api_restart_between_chunks_loses_no_row(restartable: RestartableApi) -> None:
    """dashboard.batch against the real process: stopped after chunk 1, retried once it's back."""
    content = (SAMPLES / "quote_cars.csv").read_bytes()
    names = pd.read_csv(SAMPLES / "quote_cars.csv", dtype=str)["name"].tolist()
    sheet = read_table(content, "quote_cars.csv")
    chunks = batch.build_chunks(sheet, 4)  # rows 1–4, 5–8, 9–10
    assert [c.rows for c in chunks] == [4, 4, 2]
    client = ApiClient(restartable.url, timeout=10)

    def price(chunk: batch.Chunk) -> bytes:
        return client.predict_csv("cars.csv", chunk.content, {})

    def stop_after_first(done: int, todo: int) -> None:
        if done == 1:
            restartable.stop()

    outcome = batch.run(chunks, price, progress=stop_after_first)
    assert set(outcome.parts) == {0} and set(outcome.failures) == {1, 2}
    assert all("not reachable" in reason for reason in outcome.failures.values())
    table = lot_frame(sheet, chunks, outcome)
    check_every_row(table, names)
    lost = table.iloc[4:]
    assert lost["predicted_price"].isna().all()
    assert lost["error"].iloc[0].startswith("not priced: rows 5–8 failed")
    assert lost["error"].iloc[-1].startswith("not priced: rows 9–10 failed")
    assert lost["error"].str.endswith("retry them").all()

    restartable.start()  # same port, a fresh process (its counters start at zero)
    batch.run(chunks, price, outcome)
    assert not outcome.failures
    assert restartable.rows_priced() == 6  # only the failed chunks were sent again
    table = lot_frame(sheet, chunks, outcome)
    check_every_row(table, names)
    assert not table["error"].str.startswith("not priced").any()
    assert table["predicted_price"].notna().sum() >= 5


@pytest.mark.integration
def test_batch_page_names_failed_chunks_and_retries_after_restart(
    apptest, restartable: RestartableApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page: chunk 1 priced, the API stops, chunk 2 is named; Retry prices it once back."""
    original = pricing.price_chunk
    sent: list[bytes] = []

    def stop_after_first(url: str, filename: str, chunk: bytes, mapping: str | None) -> bytes:
        answer = original(url, filename, chunk, mapping)
        sent.append(chunk)
        if len(sent) == 1:
            restartable.stop()
        return answer

    monkeypatch.setattr(pricing, "price_chunk", stop_after_first)
    names = pd.read_csv(SAMPLES / "raw_listings.csv", dtype=str)["name"].tolist()
    with app_env(restartable.url, batch_chunk_rows="10"):
        at = apptest("batch_quotes").run()
        table = upload_and_price(at, "raw_listings.csv")
        assert_no_stack_trace(at, "Batch quotes")
        assert "1 of 2 parts of the file were not priced:** 2 (rows 11–20)" in at.error[0].value
        assert "not reachable" in at.error[0].value
        check_every_row(table, names)
        assert table.iloc[:10]["error"].str.startswith("not priced").sum() == 0
        assert table.iloc[10:]["error"].str.startswith("not priced: rows 11–20").all()
        assert at.button(key="batch_retry").label == "Retry failed chunks"

        restartable.start()
        at.button(key="batch_retry").click().run()
        assert_no_stack_trace(at, "Batch quotes")
        assert not at.error
        table = result_frame(at)
        check_every_row(table, names)
        assert not table["error"].str.startswith("not priced").any()
        assert restartable.rows_priced() == 10  # the retry sent chunk 2 only
        metrics = {m.label: m.value for m in at.metric}
        assert metrics["Cars priced"].endswith("of 20")
