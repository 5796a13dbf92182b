"""GET /monitoring/summary on the real API (in process) with a SQLite quote log: quotes made
through /predict/batch, sales recorded through /quotes/sales, figures checked by hand."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from carprice.synthetic import generate
from tests.api.conftest import CAR, Champion, api_env


@pytest.fixture(scope="module")
def api(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    from fastapi.testclient import TestClient

    from api.main import create_app

    base = tmp_path_factory.mktemp("monitoring")
    env = {
        "CARPRICE_DATABASE_URL": f"sqlite:///{base / 'carprice.db'}",
        "CARPRICE_QUOTE_SPOOL_DIR": str(base / "spool"),
        "CARPRICE_QUOTE_FLUSH_SECONDS": "0.1",
    }
    with api_env(champion.url, **env), TestClient(create_app()) as client:
        yield client


@pytest.fixture(scope="module")
def sold(api) -> dict:  # noqa: ANN001
    """120 synthetic cars quoted, the first 60 sold at their listed price."""
    cars = generate(rows=120, seed=4)
    listed = cars.pop("selling_price").astype(float).to_numpy()
    answer = api.post("/predict/csv", files={"file": ("cars.csv", cars.to_csv(index=False))})
    assert answer.status_code == 200, answer.text
    out = pd.read_csv(io.StringIO(answer.text), dtype={"quote_id": str}, keep_default_na=False)
    items = [
        {"quote_id": r["quote_id"], "price": float(r["predicted_price"]),
         "price_low": float(r["price_low"]), "price_high": float(r["price_high"])}
        for r in out.to_dict("records") if r["quote_id"]
    ]  # fmt: skip
    priced = [(i, it) for i, it in zip(out.index[out["quote_id"] != ""], items, strict=True)]
    assert len(priced) >= 100
    chosen = priced[:60]
    lines = ["quote_id,sale_price,sold_on"] + [
        f"{it['quote_id']},{listed[i]:.0f},{date.today().isoformat()}" for i, it in chosen
    ]
    answer = api.post("/quotes/sales", files={"file": ("sales.csv", "\n".join(lines) + "\n")})
    assert answer.status_code == 200, answer.text
    assert {r["status"] for r in answer.json()["rows"]} == {"recorded"}
    price = np.array([it["price"] for _, it in chosen])
    truth = listed[[i for i, _ in chosen]]
    low = np.array([it["price_low"] for _, it in chosen])
    high = np.array([it["price_high"] for _, it in chosen])
    return {
        "quotes": len(priced),
        "mae": float(np.mean(np.abs(price - truth))),
        "mape": float(np.mean(np.abs(price - truth) / truth)),
        "coverage": float(np.mean((low <= truth) & (truth <= high))),
    }


def test_live_figures_match_the_sales(api, sold: dict) -> None:  # noqa: ANN001
    out = api.get("/monitoring/summary").json()
    assert out["quotes"] == sold["quotes"] and out["sales"] == 60
    acc = out["accuracy"]
    assert acc["mae"] == pytest.approx(sold["mae"], abs=0.01)
    assert acc["mape"] == pytest.approx(sold["mape"], abs=1e-5)
    assert acc["coverage"] == pytest.approx(sold["coverage"], abs=1e-5)
    version = out["reference"]["model_version"]
    assert out["by_model_version"][version]["sales"] == 60
    assert [w["quotes"] for w in out["by_week"]] == [sold["quotes"]]
    assert out["reference"]["test_mape"] > 0
    # The cars are like the training data: drift is measured and nothing is major.
    assert out["drift"]["verdict"] in {"stable", "watch"}
    assert {"year", "km_driven", "brand", "fuel"} <= set(out["drift"]["features"])


def test_filters_narrow_the_window(api, sold: dict) -> None:  # noqa: ANN001
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    empty = api.get("/monitoring/summary", params={"since": future}).json()
    assert empty["quotes"] == 0 and empty["accuracy"]["mae"] is None
    assert empty["drift"]["verdict"] == "too few rows"
    other = api.get("/monitoring/summary", params={"model_version": "no-such"}).json()
    assert other["quotes"] == 0
    until = api.get("/monitoring/summary", params={"until": future}).json()
    assert until["quotes"] == sold["quotes"]


def test_a_backwards_window_is_empty_and_a_bad_date_refused(api) -> None:  # noqa: ANN001
    now = datetime.now(UTC)
    answer = api.get(
        "/monitoring/summary",
        params={"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()},
    )
    assert answer.status_code == 200 and answer.json()["quotes"] == 0
    for bad in ("yesterday", "0.5", "2026-12-01"):  # not an ISO date-time, as documented
        assert api.get("/monitoring/summary", params={"since": bad}).status_code == 422, bad


def test_explorations_are_not_quotes(api, sold: dict) -> None:  # noqa: ANN001
    """What-if variations (record=false) are priced but neither logged nor counted."""
    before = api.get("/monitoring/summary").json()["quotes"]
    batch = api.post("/predict/batch", params={"record": "false"}, json=[CAR] * 3).json()
    assert batch["priced"] == 3
    assert all(item["quote_id"] is None and item["price"] > 0 for item in batch["items"])
    single = api.post("/predict", params={"record": "false"}, json=CAR).json()
    assert single["quote_id"] is None and single["price"] > 0
    assert api.app.state.quote_log.writer.flush(10)
    assert api.get("/monitoring/summary").json()["quotes"] == before
    # A quote proper is still logged and counted.
    assert api.post("/predict", json=CAR).json()["quote_id"]
    assert api.app.state.quote_log.writer.flush(10)
    assert api.get("/monitoring/summary").json()["quotes"] == before + 1
