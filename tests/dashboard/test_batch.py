"""Batch quotes page (AppTest) against the real API, and against fakes for what the real one
won't do on demand (refuse a file, answer garbage, fail with a 5xx): every upload ends in a
priced table or a clear message, never a traceback; the mapping travels with each chunk."""

from __future__ import annotations

import io
import json
import re
from email.parser import BytesParser
from email.policy import HTTP

import httpx
import pandas as pd
import pytest

from dashboard import batch
from tests.dashboard import fake_http
from tests.dashboard.awkward_files import CORPUS, semicolon_bom_decimal_comma
from tests.dashboard.conftest import SAMPLES, app_env, page_text
from tests.plugins.api_stack import ApiServer, start_api

NAMES_ONLY = "identity_only_cars.csv"


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


def tables(at) -> list[pd.DataFrame]:  # noqa: ANN001
    """Every st.dataframe on the page (AppTest keeps no key for them), in order."""
    frames = [d.value for d in at.dataframe]
    return [f.data if hasattr(f, "data") else f for f in frames]


def table_with(at, *columns: str) -> pd.DataFrame | None:  # noqa: ANN001
    """The first table holding all these columns."""
    return next((t for t in tables(at) if set(columns) <= set(t.columns)), None)


def result_frame(at) -> pd.DataFrame:  # noqa: ANN001
    frame = table_with(at, "row", "status", "predicted_price")
    assert frame is not None, "no priced table on the page"
    return frame


def metrics(at) -> dict[str, str]:  # noqa: ANN001
    return {m.label: m.value for m in at.metric}


def no_trace(at) -> None:  # noqa: ANN001
    assert not at.exception, [e.message for e in at.exception]
    assert "Traceback" not in page_text(at)


# --------------------------------------------------------------------------- the real API


def test_prices_every_row_in_chunks_and_never_reposts(apptest, api_server: ApiServer) -> None:
    with app_env(api_server.url, batch_chunk_rows="10"):
        at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
        no_trace(at)
        assert not at.error
        assert "20 cars" in " ".join(c.value for c in at.caption)
        before = rows_posted(api_server.url)
        at.button(key="batch_price").click().run()
        no_trace(at)
        assert not at.error
        assert rows_posted(api_server.url) - before == 20  # two chunks of 10, posted once
        table = result_frame(at)
        assert len(table) == 20 and table["row"].tolist() == list(range(1, 21))
        priced = table["predicted_price"].notna()
        assert (priced ^ (table["error"] != "")).all()  # priced, or a reason; never neither
        assert priced.sum() >= 10  # the synthetic model doesn't know every real brand
        assert (table.loc[priced, "price_low"] <= table.loc[priced, "predicted_price"]).all()
        names = pd.read_csv(SAMPLES / "raw_listings.csv")["name"].tolist()
        assert table["name"].tolist() == names
        shown = metrics(at)
        assert shown["Cars priced"] == f"{priced.sum()} of 20"
        assert shown["Lot value"].startswith("₹")
        value = next(m for m in at.metric if m.label == "Lot value")
        assert value.delta.startswith("80% range ₹") and " – " in value.delta
        assert "independent" in " ".join(c.value for c in at.caption)
        assert not table_with(at, "brand", "cars", "priced").empty
        charts = [c.proto.spec for c in at.get("plotly_chart")]
        assert len(charts) == 2 and "Median price by brand" in charts[1]
        labels = {b.label for b in at.download_button}
        assert {"Download CSV", "Download Excel", "Download a template CSV"} <= labels
        at.run()  # a rerun (any widget) must not post the file again
        at.run()
        assert rows_posted(api_server.url) - before == 20
        assert len(result_frame(at)) == 20


def test_a_semicolon_excel_export_is_split_and_priced(apptest, live_env) -> None:
    """The new user's lot: 200 rows, UTF-8 BOM, ';' and decimal commas, from Excel."""
    content = semicolon_bom_decimal_comma(repeat=10)
    at = upload(apptest("batch_quotes").run(), "lot.csv", content)
    no_trace(at)
    assert not at.error
    preview = tables(at)[0]
    assert len(preview.columns) == 12 and preview["mileage"].iloc[0] == "20.0 kmpl"
    captions = " ".join(c.value for c in at.caption)
    assert "200 cars" in captions
    assert "semicolon-separated CSV, UTF-8 with BOM, decimal commas" in captions
    assert at.button(key="batch_price").label == "Price 200 cars"
    at.button(key="batch_price").click().run()
    no_trace(at)
    assert not at.error
    table = result_frame(at)
    assert len(table) == 200 and pd.api.types.is_float_dtype(table["predicted_price"])
    assert table["predicted_price"].notna().sum() >= 100


def test_bad_rows_come_back_with_reasons(apptest, live_env) -> None:
    at = upload(apptest("batch_quotes").run(), "bad_rows.csv")
    at.button(key="batch_price").click().run()
    no_trace(at)
    table = result_frame(at)
    assert len(table) == 9
    bad = table[table["error"] != ""]
    assert len(bad) >= 5 and bad["predicted_price"].isna().all()
    assert (bad["status"] == "not priced").all()
    assert table.loc[table["error"] == "", "predicted_price"].notna().all()
    assert "Rows that could not be priced" in " ".join(h.value for h in at.subheader)
    assert metrics(at)["Not priced"] == str(len(bad))


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
    sample = pd.read_csv(SAMPLES / NAMES_ONLY, dtype=str)
    assert list(sample.columns) == list(batch.IDENTITY_COLUMNS) and len(sample) == 20
    at = upload(apptest("batch_quotes").run(), NAMES_ONLY)
    at.button(key="batch_price").click().run()
    no_trace(at)
    assert not at.error
    table = result_frame(at)
    assert len(table) == 20 and table["name"].tolist() == sample["name"].tolist()
    assert table["predicted_price"].notna().all(), table.loc[table["error"] != "", "error"]
    assert table["filled"].str.match(r"^(all specs from|variant|model|brand)").all()
    direct = pd.read_csv(
        io.BytesIO(
            httpx.post(
                api_server.url + "/predict/csv",
                files={"file": ("cars.csv", (SAMPLES / NAMES_ONLY).read_bytes())},
            ).content
        )
    )
    assert table["predicted_price"].tolist() == direct["predicted_price"].tolist()


def test_a_template_is_offered_and_no_server_folder_is_named(apptest, live_env) -> None:
    at = apptest("batch_quotes").run()
    no_trace(at)
    template = next(b for b in at.download_button if b.key == "batch_template")
    assert template.label == "Download a template CSV"
    assert "data_samples" not in page_text(at)
    at = upload(at, NAMES_ONLY)
    assert any(b.key == "batch_template" for b in at.download_button)  # with a file too


def test_the_mapping_is_checked_then_priced_as_chosen(apptest, live_env) -> None:
    """A header no one guesses: pricing is not offered until the user says what it holds."""
    sample = pd.read_csv(SAMPLES / NAMES_ONLY, dtype=str)
    content = sample.rename(columns={"km_driven": "Clock"}).to_csv(index=False).encode()
    at = upload(apptest("batch_quotes").run(), "lot.csv", content)
    no_trace(at)
    assert "km_driven" in at.error[0].value and "pick the column" in at.error[0].value
    assert not [b for b in at.button if b.key == "batch_price"]
    key = f"batch_mapping_{batch.digest(content)}"
    editor = next(d for d in at.dataframe if d.key == key).value
    clock = editor.index[editor["column"] == "Clock"][0]
    at.session_state[key] = {
        "edited_rows": {int(clock): {"field": "km_driven"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    no_trace(at)
    assert not at.error
    at.button(key="batch_price").click().run()
    no_trace(at)
    assert not at.error, at.error[0].value
    table = result_frame(at)
    assert table["predicted_price"].notna().all()
    assert table["Clock"].tolist() == sample["km_driven"].tolist()


@pytest.mark.parametrize("name", list(CORPUS))
def test_awkward_files_end_in_a_table_or_a_message(apptest, live_env, name: str) -> None:
    content, expected = CORPUS[name]
    at = upload(apptest("batch_quotes").run(), name, content)
    no_trace(at)
    if expected == "message":
        assert at.error and "can't be read" in at.error[0].value
        assert not [b for b in at.button if b.key == "batch_price"]
        return
    assert not at.error
    at.button(key="batch_price").click().run()
    no_trace(at)
    table = result_frame(at)
    assert len(table) >= 2 and table["predicted_price"].notna().any()
    assert ((table["predicted_price"].notna()) ^ (table["error"] != "")).all()


def test_unreadable_files_get_a_reason(apptest, live_env) -> None:
    at = upload(apptest("batch_quotes").run(), "old.xls", b"\xd0\xcf\x11\xe0" + b"\x00" * 600)
    no_trace(at)
    assert ".xlsx" in at.error[0].value


# --------------------------------------------------------------------------- the session


def test_the_last_lot_survives_another_page_and_is_cleared_on_request(apptest, live_env) -> None:
    at = apptest("app").run()
    at.switch_page("views/batch_quotes.py").run()
    upload(at, "raw_listings.csv")
    at.button(key="batch_price").click().run()
    assert len(result_frame(at)) == 20
    at.switch_page("views/quote.py").run()
    no_trace(at)
    at.switch_page("views/batch_quotes.py").run()
    no_trace(at)
    assert at.file_uploader(key="batch_upload").value is None  # the upload is gone…
    assert "Priced lot: raw_listings.csv" in [s.value for s in at.subheader]  # …the lot isn't
    assert len(result_frame(at)) == 20
    assert {"Download CSV", "Download Excel"} <= {b.label for b in at.download_button}
    at.button(key="batch_clear").click().run()
    no_trace(at)
    assert table_with(at, "row", "status", "predicted_price") is None
    assert "Upload a file to price" in at.info[0].value


def test_another_file_keeps_the_last_lot_in_one_line(apptest, live_env) -> None:
    at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
    at.button(key="batch_price").click().run()
    upload(at, NAMES_ONLY)
    no_trace(at)
    assert any("Last priced lot: raw_listings.csv" in i.value for i in at.info)
    assert table_with(at, "row", "status", "predicted_price") is None
    assert {b.key for b in at.download_button} >= {"batch_last_download_csv"}
    at.button(key="batch_price").click().run()
    assert "Priced lot: identity_only_cars.csv" in [s.value for s in at.subheader]


# --------------------------------------------------------------------------- a fake API


def multipart(request: httpx.Request) -> dict[str, bytes]:
    """The form fields of a multipart request, by name."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    return {
        part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
        for part in message.iter_parts()
    }


class FakeApi:
    """Health says a model is served; /predict/csv answers with `answer(fields)`."""

    def __init__(self, answer) -> None:  # noqa: ANN001
        self.answer = answer
        self.posts: list[dict[str, bytes]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok", "model_version": "7"})
        if request.url.path == "/predict/csv":
            fields = multipart(request)
            self.posts.append(fields)
            return self.answer(fields)
        return httpx.Response(404, json={"detail": "not here"})


def priced(fields: dict[str, bytes]) -> httpx.Response:
    frame = pd.read_csv(io.BytesIO(fields["file"]), dtype=str, keep_default_na=False)
    frame["predicted_price"], frame["price_low"], frame["price_high"] = 500000, 450000, 560000
    frame["model_version"], frame["filled"], frame["error"] = "7", "", ""
    return httpx.Response(200, content=frame.to_csv(index=False).encode())


def with_fake(answer) -> tuple[FakeApi, str]:  # noqa: ANN001
    fake = FakeApi(answer)
    return fake, fake_http.serve(fake).url


def test_the_mapping_and_plain_csv_travel_with_every_chunk(apptest) -> None:
    fake, url = with_fake(priced)
    sample = pd.read_csv(SAMPLES / NAMES_ONLY, dtype=str).rename(columns={"km_driven": "KMs"})
    with app_env(url, batch_chunk_rows="10"):
        content = sample.to_csv(index=False, sep=";").encode()
        at = upload(apptest("batch_quotes").run(), "lot.csv", content)
        at.button(key="batch_price").click().run()
        no_trace(at)
    assert len(fake.posts) == 2
    for post in fake.posts:
        mapping = json.loads(post["mapping"])
        assert mapping["KMs"] == "km_driven" and mapping["name"] == "name"
        sent = pd.read_csv(io.BytesIO(post["file"]), dtype=str)
        assert list(sent.columns) == list(sample.columns)  # the user's headers, comma CSV
    assert metrics(at)["Cars priced"] == "20 of 20"
    assert metrics(at)["Lot value"] == "₹1.00 crore"


def test_a_refusal_shows_the_apis_reason_and_no_retry(apptest) -> None:
    def refuse(fields: dict[str, bytes]) -> httpx.Response:
        return httpx.Response(422, json={"detail": "Unusable columns: missing column(s): fuel"})

    fake, url = with_fake(refuse)
    with app_env(url, batch_chunk_rows="10"):
        at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
        at.button(key="batch_price").click().run()
        no_trace(at)
        assert len(fake.posts) == 1  # the second chunk would be refused the same way
        text = at.error[0].value
        assert "refused this file" in text and "missing column(s): fuel" in text
        assert "Columns" in text and "Retry" not in text
        assert not [b for b in at.button if b.key == "batch_retry"]
        assert at.button(key="batch_price").disabled
        at.button(key="batch_clear").click().run()
        assert not at.button(key="batch_price").disabled


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b"<html>gateway says hello</html>", "no predicted_price"),
        (200, b"\xff\xfe\x00\x00", "not UTF-8"),
        (502, b"Bad Gateway", "failed (502)"),
    ],
)
def test_a_service_failure_keeps_the_rows_and_offers_retry(
    apptest, status: int, body: bytes, reason: str
) -> None:
    calls = []

    def flaky(fields: dict[str, bytes]) -> httpx.Response:
        calls.append(1)
        if len(calls) == 2:
            return httpx.Response(status, content=body)
        return priced(fields)

    fake, url = with_fake(flaky)
    with app_env(url, batch_chunk_rows="10"):
        at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
        at.button(key="batch_price").click().run()
        no_trace(at)
        assert "1 of 2 parts of the file were not priced" in at.error[0].value
        assert reason in at.error[0].value
        table = result_frame(at)
        assert len(table) == 20 and table["predicted_price"].iloc[:10].notna().all()
        assert table["error"].iloc[10:].str.contains("retry them").all()
        at.button(key="batch_retry").click().run()
        no_trace(at)
        assert not at.error and result_frame(at)["predicted_price"].notna().all()
        assert len(fake.posts) == 3


def test_failed_chunks_are_kept_and_retried(apptest, api_server: ApiServer, tmp_path) -> None:
    """The API goes away mid-way: rows stay, marked 'not priced'; Retry prices them."""
    proc, url = start_api(api_server.mlflow_url, tmp_path)
    try:
        with app_env(url, batch_chunk_rows="10") as mp:
            at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
            proc.stop()  # health stays cached for a few seconds; the chunks then fail
            at.button(key="batch_price").click().run()
            no_trace(at)
            assert "2 of 2 parts of the file were not priced" in at.error[0].value
            table = result_frame(at)
            assert len(table) == 20
            assert table["error"].str.startswith("not priced").all()
            mp.setenv("CARPRICE_DASHBOARD_API_URL", api_server.url)  # back, at another address
            from dashboard.config import get_dashboard_settings

            get_dashboard_settings.cache_clear()
            at.button(key="batch_retry").click().run()
            no_trace(at)
            table = result_frame(at)
            assert len(table) == 20
            assert not table["error"].str.startswith("not priced").any()
            assert table["predicted_price"].notna().sum() >= 10
    finally:
        proc.stop()


def test_api_down_shows_a_banner(apptest, down_env: str) -> None:
    at = apptest("batch_quotes").run()
    no_trace(at)
    assert "pricing API is down" in at.error[0].value


def test_an_unexpected_failure_is_a_message_not_a_traceback(
    apptest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page's last guard: a bug anywhere below it shows what to do, the lot is kept."""
    fake, url = with_fake(priced)

    def broken(results: pd.DataFrame) -> batch.LotSummary:
        raise RuntimeError("summary exploded")

    with app_env(url):
        at = upload(apptest("batch_quotes").run(), "raw_listings.csv")
        at.button(key="batch_price").click().run()
        monkeypatch.setattr(batch, "summarise", broken)
        at.run()
        no_trace(at)
        assert "Something went wrong on this page" in at.error[-1].value
        assert "summary exploded" in at.error[-1].value
        monkeypatch.undo()
        at.run()
        assert not at.error and len(result_frame(at)) == 20  # the lot was kept
