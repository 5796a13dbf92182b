"""Live accuracy from logged quotes and their sale prices: overall, by version, by week."""

from __future__ import annotations

import pandas as pd
import pytest

from carprice import drift, monitoring


def quotes() -> pd.DataFrame:
    rows = [
        # created_at, version, price, low, high, sale, out_of_range
        ("2026-11-02T10:00Z", "3", 100_000, 80_000, 120_000, 110_000, False),  # Monday
        ("2026-11-04T10:00Z", "3", 200_000, 160_000, 250_000, 150_000, False),
        ("2026-11-08T23:00Z", "3", 300_000, 240_000, 360_000, None, True),  # Sunday
        ("2026-11-09T01:00Z", "4", 400_000, 320_000, 500_000, 400_000, False),  # next Monday
    ]
    frame = pd.DataFrame(rows, columns=list(monitoring.QUOTE_COLUMNS))
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    return frame


def test_accuracy_on_matched_sales() -> None:
    out = monitoring.summary(quotes(), refused=1)
    assert (out["quotes"], out["refused"], out["sales"]) == (4, 1, 3)
    acc = out["accuracy"]
    assert acc["mae"] == pytest.approx((10_000 + 50_000 + 0) / 3, abs=0.01)
    assert acc["mape"] == pytest.approx((10_000 / 110_000 + 50_000 / 150_000) / 3, abs=1e-5)
    assert acc["median_ape"] == pytest.approx(10_000 / 110_000, abs=1e-5)
    assert acc["coverage"] == pytest.approx(2 / 3, abs=1e-5)  # 150k is below 160k
    assert out["rates"] == {"out_of_range": 0.25, "refused": 0.2}


def test_by_version_and_by_iso_week() -> None:
    out = monitoring.summary(quotes())
    assert out["by_model_version"]["3"]["quotes"] == 3
    assert out["by_model_version"]["3"]["sales"] == 2
    assert out["by_model_version"]["4"]["mae"] == 0
    assert [(w["week"], w["quotes"], w["sales"]) for w in out["by_week"]] == [
        ("2026-11-02", 3, 2),
        ("2026-11-09", 1, 1),
    ]


def test_no_sales_and_no_quotes_give_empty_figures() -> None:
    none_sold = quotes().assign(sale_price=float("nan"))
    assert monitoring.summary(none_sold)["accuracy"]["mae"] is None
    empty = monitoring.summary(quotes().iloc[:0])
    assert empty["quotes"] == 0 and empty["rates"]["out_of_range"] is None
    assert empty["by_week"] == [] and empty["drift"]["verdict"] == "no reference"


def test_drift_is_against_the_given_reference() -> None:
    frame = pd.concat([quotes()] * 20, ignore_index=True).assign(fuel="Diesel")
    ref = drift.reference(pd.DataFrame({"fuel": ["Petrol"] * 90 + ["Diesel"] * 10}))
    out = monitoring.summary(frame, ref)
    assert out["drift"]["verdict"] == "drift"
    assert out["drift"]["features"]["fuel"]["band"] == "major"


def test_a_frame_without_the_quote_columns_is_refused() -> None:
    with pytest.raises(ValueError, match="sale_price"):
        monitoring.summary(quotes().drop(columns=["sale_price"]))


def test_logged_inputs_become_columns_for_drift() -> None:
    frame = quotes().assign(inputs=[{"year": 2015, "fuel": "Diesel", "price": -1}] * 4)
    out = monitoring.with_inputs(frame)
    assert list(out["year"]) == [2015] * 4 and list(out["fuel"]) == ["Diesel"] * 4
    assert list(out["price"]) == list(frame["price"])  # a logged column is never replaced
    assert monitoring.summary(out)["rates"]["refused"] is None  # refusals not counted


def test_refusal_rate_is_refused_over_everything_asked_for() -> None:
    """refused / (quotes + refused): 0 with none refused, 1 with nothing priced, None only
    when the window holds neither."""
    out = monitoring.summary(quotes(), refused=0)
    assert out["refused"] == 0 and out["rates"]["refused"] == 0.0
    out = monitoring.summary(quotes(), refused=2)
    assert out["refused"] == 2 and out["rates"]["refused"] == pytest.approx(2 / 6, abs=1e-5)
    only = monitoring.summary(quotes().iloc[:0], refused=3)
    assert (only["quotes"], only["refused"], only["rates"]["refused"]) == (0, 3, 1.0)
    assert only["rates"]["out_of_range"] is None  # a share of quotes: there are none
    nothing = monitoring.summary(quotes().iloc[:0], refused=0)
    assert nothing["rates"]["refused"] is None
    assert monitoring.summary(quotes())["refused"] is None  # the caller didn't count
