"""Refused rows reach the quote log and `/monitoring/summary`'s `rates.refused`.

First what `api.quoting` hands the writer (the in-memory model, a fake log: no servers), then
the real API (in process, SQLite quote log, an API key) given a batch and a CSV with bad rows,
refused single quotes, and requests that must not count (record=false, a body failing the
request schema)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from api.quoting import log_batch, log_chunk
from api.scoring import price_batch
from carprice.quotelog.records import is_refusal
from carprice.quotelog.writer import materialise
from tests.api.conftest import CAR, Champion, api_env

KEY = "refusal-test-key"
HEADERS = {"X-API-Key": KEY}


class FakeLog:
    """Records what the route hands over; `rows()` builds it as the writer would."""

    def __init__(self) -> None:
        self.submitted: list[tuple[int, object]] = []

    def submit(self, count: int, build, *, block: bool = False) -> None:  # noqa: ANN001
        self.submitted.append((count, build))

    def rows(self) -> list[dict]:
        return [row for _, build in self.submitted for row in materialise(build())]


def test_a_batch_hands_over_its_quotes_and_its_refusals(mem_model) -> None:  # noqa: ANN001
    cars = [CAR, {**CAR, "year": "not a year"}, {**CAR, "brand": "Tesla"}, CAR]
    batch = price_batch(mem_model, cars)
    fake = FakeLog()
    log_batch(fake, SimpleNamespace(model=mem_model, version="9"), batch, "partner")
    ((count, _),) = fake.submitted  # one hand-over for the whole batch
    rows = fake.rows()
    assert count == len(rows) == 4
    quotes = [r for r in rows if not is_refusal(r)]
    refused = [r for r in rows if is_refusal(r)]
    assert [q["quote_id"] for q in quotes] == [batch.items[0].quote_id, batch.items[3].quote_id]
    assert [r["reason"] for r in refused] == [batch.items[1].error, batch.items[2].error]
    assert "Tesla" in refused[1]["reason"] and refused[0]["reason"].startswith("year:")
    assert {(r["source"], r["model_version"], r["api_key_name"]) for r in refused} == {
        ("batch", "9", "partner")
    }


def test_a_batch_of_bad_items_only_is_all_refusals(mem_model) -> None:  # noqa: ANN001
    batch = price_batch(mem_model, [{"brand": "Maruti"}, {**CAR, "fuel": "Electric"}])
    fake = FakeLog()
    log_batch(fake, SimpleNamespace(model=mem_model, version="9"), batch, None)
    rows = fake.rows()
    assert len(rows) == 2 and all(is_refusal(r) for r in rows)
    assert "Electric" in rows[1]["reason"]


def test_a_csv_chunk_that_failed_to_price_is_refused_row_by_row() -> None:
    """A chunk whose pricing raised (no `prepared`): every row refused with its reason."""
    reason = "internal error while pricing this row (see server log)"
    scores = pd.DataFrame({"error": [reason] * 3})
    priced = np.zeros(3, dtype=bool)
    fake = FakeLog()
    served = SimpleNamespace(model=None, version="9")
    column = log_chunk(fake, served, None, scores, pd.DataFrame(index=range(3)), priced, None)
    assert column.null_count == 3
    rows = fake.rows()
    assert fake.submitted[0][0] == 3 and [r["reason"] for r in rows] == [reason] * 3
    assert {r["source"] for r in rows} == {"csv"}
    # Without a log nothing is handed over, and the column is still made.
    assert log_chunk(None, served, None, scores, scores, priced, None).null_count == 3


@pytest.fixture(scope="module")
def api(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from fastapi.testclient import TestClient

    from api.main import create_app

    base = tmp_path_factory.mktemp("refusals")
    env = {
        "CARPRICE_DATABASE_URL": f"sqlite:///{base / 'carprice.db'}",
        "CARPRICE_QUOTE_SPOOL_DIR": str(base / "spool"),
        "CARPRICE_QUOTE_FLUSH_SECONDS": "0.1",
        "CARPRICE_API_KEY": KEY,
    }
    with api_env(champion.url, **env), TestClient(create_app(), headers=HEADERS) as client:
        yield client


def _summary(api, **params: str) -> dict:  # noqa: ANN001
    assert api.app.state.quote_log.writer.flush(10)
    answer = api.get("/monitoring/summary", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_refused_rows_make_the_refusal_rate(api) -> None:  # noqa: ANN001
    start = _summary(api)
    assert (start["quotes"], start["refused"], start["rates"]["refused"]) == (0, 0, None)

    # A batch: two good cars, an item failing the schema, an unknown brand.
    cars = [CAR, {**CAR, "year": "abc"}, {**CAR, "brand": "Tesla"}, {**CAR, "km_driven": 60_000}]
    batch = api.post("/predict/batch", json=cars).json()
    assert (batch["priced"], batch["failed"]) == (2, 2)

    # A CSV: good rows, unknown values, and a line with too many fields.
    frame = pd.DataFrame([CAR, {**CAR, "fuel": "Electric"}, CAR, {**CAR, "brand": "Tesla"}, CAR])
    text = frame.to_csv(index=False) + "Maruti Alto,Maruti,2012,1,2,3,4,5,6,7,8,9,10,11,12,13\n"
    answer = api.post("/predict/csv", files={"file": ("cars.csv", text)})
    assert answer.status_code == 200, answer.text
    out = pd.read_csv(io.StringIO(answer.text), dtype=str, keep_default_na=False)
    csv_refused = int((out["error"] != "").sum())
    csv_priced = int((out["quote_id"] != "").sum())
    assert (csv_priced, csv_refused) == (3, 3)

    # /predict: one car refused by the pricing logic, one priced.
    single = api.post("/predict", json={**CAR, "brand": "Tesla"})
    assert single.status_code == 422 and single.json()["errors"][0]["type"] == "unknown_value"
    assert api.post("/predict", json=CAR).json()["quote_id"]

    # Not counted: explorations (record=false) and a body failing the request schema.
    explore = api.post("/predict", params={"record": "false"}, json={**CAR, "brand": "Tesla"})
    assert explore.status_code == 422
    explore = api.post("/predict/batch", params={"record": "false"}, json=[{**CAR, "fuel": "X"}])
    assert explore.json()["failed"] == 1
    assert api.post("/predict", json={**CAR, "year": "abc"}).status_code == 422

    quotes, refused = 2 + csv_priced + 1, 2 + csv_refused + 1
    out = _summary(api)
    assert (out["quotes"], out["refused"]) == (quotes, refused) == (6, 6)
    assert out["rates"]["refused"] == pytest.approx(refused / (quotes + refused), abs=1e-5)

    stored = api.app.state.quote_log.store.refusals()
    assert sorted(r["source"] for r in stored) == ["batch"] * 2 + ["csv"] * 3 + ["predict"]
    assert {r["api_key_name"] for r in stored} == {"default"}
    assert {r["model_version"] for r in stored} == {out["reference"]["model_version"]}
    (predict,) = [r for r in stored if r["source"] == "predict"]
    assert predict["reason"] == single.json()["detail"]
    batch_reasons = {r["reason"] for r in stored if r["source"] == "batch"}
    assert batch_reasons == {batch["items"][1]["error"], batch["items"][2]["error"]}

    # The window filters apply to refusals as to quotes.
    version = out["reference"]["model_version"]
    assert _summary(api, model_version=version)["refused"] == refused
    other = _summary(api, model_version="no-such")
    assert (other["quotes"], other["refused"], other["rates"]["refused"]) == (0, 0, None)
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert _summary(api, since=future)["rates"]["refused"] is None
    assert _summary(api, until=future)["refused"] == refused


def test_a_hand_over_pickles_to_the_same_rows(mem_model) -> None:  # noqa: ANN001
    """What a writer in another process is sent (a `LogBatch`) gives the same rows there."""
    import pickle

    batch = price_batch(mem_model, [CAR, {**CAR, "brand": "Tesla"}, {**CAR, "km_driven": 990_000}])
    fake = FakeLog()
    log_batch(fake, SimpleNamespace(model=mem_model, version="3"), batch, "k")
    payload = fake.submitted[0][1]()
    rows = payload.rows()
    assert pickle.loads(pickle.dumps(payload)).rows() == rows
    assert len(rows) == 3 and rows[2]["reason"]  # the Tesla, refused
    assert rows[1]["warnings"] != "[]"  # km outside the training range
