"""Money in the dashboard's tables is written the Indian way (₹10,06,500) and still sorts as
numbers: the Batch lot and its brands, the Model page's report and champions' history, the
Experiments report side by side and its cards and metric tables.

What the grid draws is the Styler's display value of a cell, unless the column's config has
a `format` (that wins); both are read here from the proto the page sends to the browser.
"""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest
from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df
from streamlit.elements.lib.pandas_styler_utils import marshall_styler
from streamlit.proto.ArrowData_pb2 import ArrowData

from dashboard import batch_view, charts
from tests.dashboard.conftest import app_env
from tests.dashboard.test_batch import upload, with_fake

INDIAN = r"^[−+]?₹\d{1,2}(,\d\d)*,\d{3}$|^[−+]?₹\d{1,3}$"  # ₹10,06,500, −₹39,200, ₹950


def drawn(element) -> pd.DataFrame:  # noqa: ANN001 - an AppTest Dataframe
    """The cells as the grid draws them: the Styler's display values, else the values."""
    shown = element.proto.arrow_data.styler.display_values
    if not shown:
        return element.value.astype(str)
    frame = convert_arrow_bytes_to_pandas_df(shown)
    frame.columns = element.value.columns
    return frame


def column_format(element, column: str) -> str | None:  # noqa: ANN001
    config = json.loads(element.proto.columns or "{}").get(column, {})
    return (config.get("type_config") or {}).get("format")


def styled(styler) -> pd.DataFrame:  # noqa: ANN001
    """A Styler's display values, marshalled as st.dataframe does it."""
    proto = ArrowData()
    marshall_styler(proto, styler, "t")
    frame = convert_arrow_bytes_to_pandas_df(proto.styler.display_values)
    frame.columns = styler.data.columns
    return frame


def test_rupee_styler_writes_indian_grouping_and_keeps_numbers() -> None:
    frame = pd.DataFrame({"price": [1_006_500.0, 95_000, np.nan], "change": [-39_200, 12_000, 0]})
    styler = charts.rupee_styler(frame, ["price", "not there"], signed=["change"])
    assert styler.data["price"].dtype == float  # numbers underneath: they sort as numbers
    shown = styled(styler)
    assert shown["price"].tolist() == ["₹10,06,500", "₹95,000", "—"]
    assert shown["change"].tolist() == ["−₹39,200", "+₹12,000", "₹0"]
    assert charts.rupee_styler(styler, ["price"]) is styler  # a Styler is formatted in place


def _lakhs(fields: dict[str, bytes]) -> httpx.Response:
    """Prices above ten lakh, where Indian and western grouping differ."""
    import io

    frame = pd.read_csv(io.BytesIO(fields["file"]), dtype=str, keep_default_na=False)
    frame["predicted_price"], frame["price_low"], frame["price_high"] = 1006500, 905000, 1258000
    frame["model_version"], frame["filled"], frame["error"] = "7", "", ""
    return httpx.Response(200, content=frame.to_csv(index=False).encode())


def test_the_batch_table_and_brands_show_indian_rupees(apptest) -> None:
    _, url = with_fake(_lakhs)
    with app_env(url):
        at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
        at.button(key="batch_price").click().run()
    assert not at.exception and not at.error
    table = next(d for d in at.dataframe if "predicted_price" in d.value.columns)
    assert table.value["predicted_price"].dtype == float  # sorts as numbers
    shown = drawn(table)
    assert set(shown["predicted_price"]) == {"₹10,06,500"}
    assert set(shown["price_low"]) == {"₹9,05,000"} and set(shown["price_high"]) == {"₹12,58,000"}
    assert all(column_format(table, c) is None for c in ("predicted_price", "price_low"))
    brands = next(d for d in at.dataframe if "brand" in d.value.columns)
    values = drawn(brands)["value"]
    assert values.str.match(INDIAN).all() and "₹20,13,000" in set(values)  # two cars of a brand
    assert "1,006,500" not in " ".join(shown.astype(str).to_numpy().ravel())


def test_a_large_lot_shows_its_prices_as_indian_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Beyond the Styler's budget the prices are text, still in Indian grouping."""
    monkeypatch.setattr(batch_view, "STYLE_MAX_CELLS", 4)
    frame = pd.DataFrame(
        {"predicted_price": [1_006_500.0, np.nan], "price_low": [905_000.0, np.nan],
         "price_high": [1_258_000.0, np.nan], "name": ["a", "b"]}
    )  # fmt: skip
    data = batch_view.table_data(frame, np.array([False, True]))
    assert isinstance(data, pd.DataFrame)
    assert data["predicted_price"].tolist() == ["₹10,06,500", ""]
    assert data["price_high"].tolist() == ["₹12,58,000", ""]
    monkeypatch.setattr(batch_view, "STYLE_MAX_CELLS", 1000)
    styler = batch_view.table_data(frame, np.array([False, True]))
    assert styled(styler)["predicted_price"].tolist() == ["₹10,06,500", "—"]


def test_model_report_and_history_tables_show_indian_rupees() -> None:
    from dashboard import model_card

    rows = [
        {"dimension": "brand", "group": "BMW", "rows": 12, "mae": 2_07_430.0, "mape": 0.1,
         "median_ape": 0.08},
        {"dimension": "brand", "group": "Maruti", "rows": 90, "mae": 67_964.0, "mape": 0.1,
         "median_ape": 0.08},
    ]  # fmt: skip
    table = model_card.report_frame(rows, "brand")
    assert model_card.report_column_config()["MAE"].get("type_config", {}).get("format") is None
    shown = styled(charts.rupee_styler(table, ["MAE"]))
    assert shown["MAE"].tolist() == ["₹67,964", "₹2,07,430"]  # the biggest group first
    tiles = model_card.variant_tiles(
        [{"dimension": "variant", "group": "seen", "rows": 120_000, "mae": 1_006_500.0,
          "mape": 0.1, "median_ape": 0.1}]
    )  # fmt: skip
    assert tiles[0][2].startswith("1,20,000 test cars · MAE ₹10,06,500")
    figures = model_card.figure_tiles(
        {"frozen_mae": 1_006_500.0, "frozen_rows": 123_456.0, "test_mae": 67_964.0}, {}
    )
    assert "1,23,456 cars" in figures[0][2]
    summary = {"train_rows": 1_234_567, "fit_rows": 1_543_209, "clean": {"dropped": 100_000}}
    data = dict(model_card.data_rows(summary))
    assert data["Training rows"] == "12,34,567" and data["Cleaning: dropped"] == "1,00,000"
    assert data["Served model fitted on"] == "15,43,209 rows"


def test_model_page_history_is_drawn_in_indian_rupees(
    apptest, live_env, api_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The champions' history on the Model page: its MAE columns drawn as ₹67,964 (numbers
    underneath), no printf format on them (it would win over the Styler, in threes)."""
    live_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", api_server.mlflow_url)
    from dashboard.config import get_dashboard_settings

    get_dashboard_settings.cache_clear()
    at = apptest("model").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    history = next(d for d in at.dataframe if "Went live (UTC)" in d.value.columns)
    assert history.value["MAE on frozen set"].dtype == float
    shown = drawn(history)
    for column in ("MAE on frozen set", "MAE on own test split"):
        assert column_format(history, column) is None
        assert shown[column].str.match(INDIAN).all(), shown[column].tolist()
    report = next(d for d in at.dataframe if "Median APE" in d.value.columns)
    assert drawn(report)["MAE"].str.match(INDIAN).all()
    assert column_format(report, "MAE") is None


def test_experiments_report_cards_and_metrics_in_indian_rupees() -> None:
    from carprice.names import CHAMPION
    from dashboard import experiments_view as view
    from dashboard.clients.mlflow_client import ModelVersion, Run

    def report(scale: float) -> list[dict]:
        return [{"dimension": "brand", "group": "BMW", "rows": 12, "mae": 2_07_430.0 * scale,
                 "mape": 0.1, "median_ape": 0.08}]  # fmt: skip

    side = view.report_side_by_side([report(1.0), report(1.5)], "brand")
    formats = view.report_formats(side.columns)
    assert formats["A MAE"] is None and formats["Δ MAE B−A"] is None  # the Styler's
    assert formats["A MAPE"] == "%.1f%%" and formats["Δ MAPE B−A"] == "%+.1f pp"
    shown = styled(view.report_styler(side))
    first = shown.iloc[0]
    assert first["A MAE"] == "₹2,07,430" and first["B MAE"] == "₹3,11,145"
    assert first["Δ MAE B−A"] == "+₹1,03,715"
    assert view.report_styler(side).data["Δ MAE B−A"].dtype == float

    run = Run("r1", "train", "1", "FINISHED", 0, {},
              {"frozen_mae": 1_006_500.0, "frozen_rows": 123_456.0, "test_mae": 2_07_430.0,
               "data_rows": 1_234_567.0}, {"carprice.eval_set": "eval-1"})  # fmt: skip
    card = view.alias_cards([view.AliasedModel(CHAMPION, ModelVersion("m", "3", "r1", {}, ()),
                                               run)])[0]  # fmt: skip
    assert card.value == "₹10,06,500 MAE"
    assert "(1,23,456 cars)" in card.caption and "own test split ₹2,07,430" in card.caption
    metrics = view.metrics_side_by_side([run])
    assert metrics.loc["frozen_mae"].tolist() == ["₹10,06,500"]
    assert metrics.loc["data_rows"].tolist() == ["12,34,567"]
    aliases = view.alias_table([view.AliasedModel(CHAMPION, ModelVersion("m", "3", "r1", {}, ()),
                                                  run)])  # fmt: skip
    assert aliases.loc["test_mae", CHAMPION] == "₹2,07,430"


def test_the_runs_table_writes_rupee_metrics_the_indian_way() -> None:
    from dashboard import experiments_view as view
    from dashboard.clients.mlflow_client import Run

    runs = [Run("r1", "train", "1", "FINISHED", 0, {"seed": "42"},
                {"test_mae": 1_006_500.0, "val_rmse": 2_07_430.0, "test_mape": 0.12,
                 "test_r2": 0.91})]  # fmt: skip
    table = view.runs_frame(runs)
    shown = styled(view.runs_styler(table)).iloc[0]
    assert shown["metric.test_mae"] == "₹10,06,500" and shown["metric.val_rmse"] == "₹2,07,430"
    assert shown["metric.test_mape"] != "₹0" and "₹" not in shown["metric.test_r2"]
    assert view.runs_styler(table).data["metric.test_mae"].dtype == float
