"""Batch quotes page against the real API: chunks, every row back, failures kept, no re-post."""

from __future__ import annotations

import io
import re

import httpx
import pandas as pd

from dashboard import batch
from tests.dashboard.conftest import SAMPLES, app_env
from tests.plugins.api_stack import ApiServer, start_api


def upload(at, name: str, content: bytes | None = None):  # noqa: ANN001, ANN201
    data = content if content is not None else (SAMPLES / name).read_bytes()
    at.file_uploader(key="batch_upload").set_value((name, data, "text/csv")).run()
    return at


def rows_posted(api_url: str) -> float:
    text = httpx.get(api_url + "/metrics").text
    found = re.findall(
        r'carprice_rows_priced_total\{endpoint="csv",outcome="\w+"\} ([0-9.e+]+)', text
    )
    return sum(float(v) for v in found)


def result_frame(at) -> pd.DataFrame:  # noqa: ANN001
    frame = at.dataframe[1].value  # [0] is the preview
    return frame.data if hasattr(frame, "data") else frame


def test_prices_every_row_in_chunks_and_never_reposts(apptest, api_server: ApiServer) -> None:
    with app_env(api_server.url, batch_chunk_rows="10"):
        at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
        assert not at.exception and not at.error
        assert "20 rows" in " ".join(c.value for c in at.caption)
        before = rows_posted(api_server.url)
        at.button(key="batch_price").click().run()
        assert not at.exception and not at.error
        assert rows_posted(api_server.url) - before == 20  # two chunks of 10, posted once
        table = result_frame(at)
        assert len(table) == 20 and table["row"].tolist() == list(range(1, 21))
        priced = table["predicted_price"].notna()
        assert (priced ^ (table["error"] != "")).all()  # priced, or a reason; never neither
        assert priced.sum() >= 10  # the synthetic model doesn't know every real brand
        assert (table.loc[priced, "price_low"] <= table.loc[priced, "predicted_price"]).all()
        names = pd.read_csv(SAMPLES / "raw_listings.csv")["name"].tolist()
        assert table["name"].tolist() == names
        charts = [c.proto.spec for c in at.get("plotly_chart")]
        assert len(charts) == 2 and "Median price by brand" in charts[1]
        assert {b.label for b in at.download_button} == {"Download CSV", "Download Excel"}
        at.run()  # a rerun (any widget) must not post the file again
        at.run()
        assert rows_posted(api_server.url) - before == 20
        assert len(result_frame(at)) == 20


def test_bad_rows_come_back_with_reasons(apptest, live_env, api_server: ApiServer) -> None:
    at = upload(apptest("batch_quotes").run(), "bad_rows.csv")
    at.button(key="batch_price").click().run()
    assert not at.exception
    table = result_frame(at)
    assert len(table) == 9
    bad = table[table["error"] != ""]
    assert len(bad) >= 5
    assert bad["predicted_price"].isna().all()
    assert table.loc[table["error"] == "", "predicted_price"].notna().all()
    assert "Rows that could not be priced" in " ".join(h.value for h in at.subheader)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Rows"] == "9" and int(metrics["With errors"]) == len(bad)


def test_features_shape_is_accepted(apptest, live_env) -> None:
    at = upload(apptest("batch_quotes").run(), "quote_cars.csv")
    at.button(key="batch_price").click().run()
    table = result_frame(at)
    priced = table["predicted_price"].notna()
    assert len(table) == 10 and priced.sum() >= 5
    assert (priced ^ (table["error"] != "")).all()


def test_a_csv_of_names_alone_is_priced_and_says_what_was_assumed(
    apptest, live_env, api_server: ApiServer
) -> None:
    """name, year, km_driven, fuel, seller_type, transmission, owner: no specs at all."""
    sample = pd.read_csv(SAMPLES / "identity_only_cars.csv", dtype=str)
    assert list(sample.columns) == list(batch.IDENTITY_COLUMNS) and len(sample) == 20
    at = upload(apptest("batch_quotes").run(), "identity_only_cars.csv")
    at.button(key="batch_price").click().run()
    assert not at.exception and not at.error
    table = result_frame(at)
    assert len(table) == 20 and table["name"].tolist() == sample["name"].tolist()
    assert table["predicted_price"].notna().all(), table.loc[table["error"] != "", "error"]
    # Every spec was assumed: the table says from which catalogue level.
    assert (table["filled"] != "").all()
    assert table["filled"].str.match(r"^(all specs from|variant|model|brand)").all()
    assert "20 of 20 priced cars had specs filled" in " ".join(c.value for c in at.caption)
    # The prices are the API's for the same rows.
    direct = pd.read_csv(
        io.BytesIO(
            httpx.post(
                api_server.url + "/predict/csv",
                files={"file": ("cars.csv", (SAMPLES / "identity_only_cars.csv").read_bytes())},
            ).content
        )
    )
    assert table["predicted_price"].tolist() == direct["predicted_price"].tolist()
    assert direct["filled"].str.contains("engine_cc from").all()


def test_a_template_is_offered_before_an_upload(apptest, live_env) -> None:
    at = apptest("batch_quotes").run()
    assert not at.exception
    template = at.get("download_button")[0]
    assert template.proto.label == "Download a template CSV"
    assert "identity_only_cars.csv" in at.info[0].value


def test_unreadable_files_get_a_reason(apptest, live_env) -> None:
    at = upload(
        apptest("batch_quotes").run(), "latin1.csv", "name,year\nCitroën,2019\n".encode("latin-1")
    )
    assert not at.exception
    assert "UTF-8" in at.error[0].value
    at = upload(apptest("batch_quotes").run(), "empty.csv", b"name,year\n")
    assert "no cars" in at.error[0].value


def test_failed_chunks_are_kept_and_retried(apptest, api_server: ApiServer, tmp_path) -> None:
    """The API goes away mid-way: rows stay, marked 'not priced'; Retry prices them."""
    proc, url = start_api(api_server.mlflow_url, tmp_path)
    try:
        with app_env(url, batch_chunk_rows="10") as mp:
            at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
            proc.stop()  # health stays cached for a few seconds; the chunks then fail
            at.button(key="batch_price").click().run()
            assert not at.exception
            assert "2 of 2 chunks were not priced" in at.error[0].value
            table = result_frame(at)
            assert len(table) == 20
            assert table["error"].str.startswith("not priced").all()
            # The API is back (here: at another address).
            mp.setenv("CARPRICE_DASHBOARD_API_URL", api_server.url)
            from dashboard.config import get_dashboard_settings

            get_dashboard_settings.cache_clear()
            at.button(key="batch_retry").click().run()
            assert not at.exception
            table = result_frame(at)
            assert len(table) == 20
            assert not table["error"].str.startswith("not priced").any()
            assert table["predicted_price"].notna().sum() >= 10
    finally:
        proc.stop()


def test_api_down_shows_a_banner(apptest, down_env: str) -> None:
    at = apptest("batch_quotes").run()
    assert not at.exception
    assert "pricing API is down" in at.error[0].value
