"""Monitoring page and sale recording (Quote page) against a fake API and a fake MLflow.

One fake (served on loopback by tests/dashboard/fake_http.py) answers the pricing API's
/monitoring/summary and /quotes/* routes, the Quote page's routes (tests/dashboard/
test_quote_form.py's FakeApi, with a quote_id on every price) and MLflow's
experiments/runs search; every request is kept, so each test checks what the page sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from dashboard import monitoring_view as view
from tests.dashboard import fake_http
from tests.dashboard.conftest import app_env, page_text
from tests.dashboard.test_quote_form import FakeApi

QUOTE_ID = "0b6f9a52-3c1e-4d8e-9f7a-5e2d1c0b9a87"
TODAY = datetime.now(UTC).date()


def _week(days_ago: int) -> str:
    day = TODAY - timedelta(days=days_ago)
    return (day - timedelta(days=day.weekday())).isoformat()


SUMMARY: dict[str, Any] = {
    "since": None, "until": None, "model_version": None, "quotes": 240, "sales": 36,
    "accuracy": {"sales": 36, "mae": 61234.0, "mape": 0.187, "median_ape": 0.12,
                 "coverage": 0.72},
    "by_model_version": {
        "7": {"quotes": 200, "sales": 30, "mae": 60000.0, "mape": 0.18, "median_ape": 0.12,
              "coverage": 0.73},
        "6": {"quotes": 40, "sales": 6, "mae": 67400.0, "mape": 0.22, "median_ape": 0.15,
              "coverage": 0.67},
    },
    "by_week": [
        {"week": _week(14), "quotes": 80, "sales": 10, "mae": 50000.0, "mape": 0.15,
         "median_ape": 0.1, "coverage": 0.8},
        {"week": _week(7), "quotes": 90, "sales": 0, "mae": None, "mape": None,
         "median_ape": None, "coverage": None},
        {"week": _week(0), "quotes": 70, "sales": 26, "mae": 65000.0, "mape": 0.2,
         "median_ape": 0.13, "coverage": 0.69},
    ],
    "refused": 12,
    "rates": {"out_of_range": 0.05, "refused": 12 / 252},
    "drift": {
        "verdict": "drift", "rows": 240, "major": 1,
        "features": {
            "km_driven": {"kind": "numeric", "rows": 240, "psi": 0.41, "band": "major",
                          "median": 95000.0, "train_median": 60000.0},
            "year": {"kind": "numeric", "rows": 240, "psi": 0.03, "band": "stable",
                     "median": 2014.0, "train_median": 2015.0},
            "fuel": {"kind": "category", "rows": 240, "psi": 0.14, "band": "moderate",
                     "share_changes": [
                         {"value": "Diesel", "train_share": 0.4, "share": 0.55,
                          "change_points": 15.0},
                         {"value": "Petrol", "train_share": 0.55, "share": 0.42,
                          "change_points": -13.0}]},
        },
    },
    "reference": {"model_version": "7", "test_mae": 55000.0, "test_mape": 0.142,
                  "test_coverage": 0.8},
}  # fmt: skip


def _run(run_id: str, when: datetime, retrain: bool, reasons: str, drift: str) -> dict:
    return {
        "info": {"run_id": run_id, "run_name": f"monitor {when:%Y-%m-%d}", "experiment_id": "9",
                 "status": "FINISHED", "start_time": int(when.timestamp() * 1000)},
        "data": {
            "metrics": [{"key": "quotes", "value": 240}, {"key": "sales", "value": 36},
                        {"key": "live_mape", "value": 0.187}],
            "tags": [{"key": "retrain", "value": str(retrain).lower()},
                     {"key": "reasons", "value": reasons}, {"key": "drift", "value": drift},
                     {"key": "champion", "value": "7"}],
        },
    }  # fmt: skip


RUNS = [
    _run("a" * 32, datetime(2026, 11, 30, 2, tzinfo=UTC), False,
         "36 sales (accuracy needs 30), no threshold crossed", "watch"),
    _run("b" * 32, datetime(2026, 12, 1, 2, tzinfo=UTC), True,
         "2 inputs drifted (PSI ≥ 0.25: km_driven, year; threshold 2)", "drift"),
]  # fmt: skip


@dataclass
class FakeStack(FakeApi):
    """The pricing API (with quote ids, sales and the monitoring summary) and MLflow."""

    summary: dict = field(default_factory=lambda: json.loads(json.dumps(SUMMARY)))
    summary_status: int = 200
    summary_detail: str = ""
    monitor_runs: list[dict] | None = field(default_factory=lambda: list(RUNS))
    sold: dict[str, dict] = field(default_factory=dict)  # quote id → last sale body
    sale_calls: list[tuple[str, str, dict]] = field(default_factory=list)
    summary_queries: list[dict] = field(default_factory=list)
    uploads: list[bytes] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/api/2.0/mlflow/"):
            return self._mlflow(path.removeprefix("/api/2.0/mlflow"))
        if path == "/monitoring/summary":
            self.summary_queries.append(dict(request.url.params))
            if self.summary_status != 200:
                return httpx.Response(self.summary_status, json={"detail": self.summary_detail})
            return httpx.Response(200, json=self.summary)
        if path == "/quotes/sales":
            self.uploads.append(request.content)
            return httpx.Response(200, json=self._sales_answer())
        if path.startswith("/quotes/") and path.endswith("/sale"):
            return self._sale(request, path.split("/")[2])
        response = super().__call__(request)
        if path == "/predict" and response.status_code == 200:
            return httpx.Response(200, json={**response.json(), "quote_id": QUOTE_ID})
        return response

    def _mlflow(self, path: str) -> httpx.Response:
        if path == "/experiments/search":
            found = [{"experiment_id": "1", "name": "car_price"}]
            if self.monitor_runs is not None:
                found.append({"experiment_id": "9", "name": view.MONITOR_EXPERIMENT})
            return httpx.Response(200, json={"experiments": found})
        if path == "/runs/search":
            return httpx.Response(200, json={"runs": self.monitor_runs or []})
        return httpx.Response(404, json={"error_code": "RESOURCE_DOES_NOT_EXIST"})

    def _sale(self, request: httpx.Request, quote_id: str) -> httpx.Response:
        body = json.loads(request.content)
        self.sale_calls.append((request.method, quote_id, body))
        if quote_id != QUOTE_ID:
            return httpx.Response(404, json={"detail": f"No quote has the id {quote_id!r}."})
        if request.method == "POST" and quote_id in self.sold:
            return httpx.Response(
                409,
                json={
                    "detail": "This quote already has a sale. To "
                    "correct it, send the right values with PUT."
                },
            )
        history = [self.sold[quote_id]] if request.method == "PUT" else []
        self.sold[quote_id] = body
        return httpx.Response(201, json={
            "quote_id": quote_id, "sale_price": body["sale_price"], "sold_on": body["sold_on"],
            "recorded_at": "2026-12-02T10:00:00Z", "price": 480_000.0, "price_low": 400_000.0,
            "price_high": 600_000.0, "model_version": "7", "history": history,
        })  # fmt: skip

    def _sales_answer(self) -> dict:
        rows = [
            {"row": 1, "quote_id": QUOTE_ID, "status": "recorded", "reason": None},
            {"row": 2, "quote_id": "nope", "status": "refused",
             "reason": "unknown quote_id 'nope'"},
            {"row": 3, "quote_id": QUOTE_ID, "status": "refused",
             "reason": "a second sale for this quote (row 1 has one)"},
        ]  # fmt: skip
        return {"recorded": 1, "refused": 2, "rows": rows}


@pytest.fixture
def stack() -> Iterator[FakeStack]:
    fake = FakeStack()
    url = fake_http.serve(fake).url
    with app_env(url, mlflow_url=url, airflow_url=url):
        yield fake


def _ok(at) -> None:  # noqa: ANN001
    assert not at.exception, [e.message for e in at.exception]


def table(at, column: str):  # noqa: ANN001, ANN201 - the first table with this column
    return next(d.value for d in at.dataframe if column in d.value.columns)


def metric(at, key: str) -> str:  # noqa: ANN001
    return next(m.value for m in at.metric if m.proto.label and key in m.proto.label)


def test_figures_charts_drift_and_runs(apptest, stack: FakeStack) -> None:
    at = apptest("monitoring").run()
    _ok(at)
    # The only red box is the drift verdict.
    assert [e.value[:10] for e in at.error] == ["**Drift.**"]
    assert "1 input(s) are in the major band (PSI ≥ 0.25: Kilometres driven)" in at.error[0].value
    # The 7-day window asked from the start of the day six days back (UTC), all versions.
    since = (TODAY - timedelta(days=6)).isoformat()
    assert stack.summary_queries[-1] == {"since": f"{since}T00:00:00+00:00"}
    assert metric(at, "Quotes") == "240" and metric(at, "Sales matched") == "36"
    assert metric(at, "Live MAPE") == "18.7%"
    assert metric(at, "Live MAE") == "₹61,234"
    assert metric(at, "Coverage") == "72%" and metric(at, "Out of range") == "5.0%"
    assert metric(at, "Refused") == "4.8%"
    mape = next(m for m in at.metric if m.proto.label == "Live MAPE")
    assert mape.proto.delta == "+4.5 pts vs test"

    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    assert len(charts) == 3
    mape_chart = next(s for s in charts.values() if "Live MAPE" in s["layout"]["title"]["text"])
    line = mape_chart["data"][0]
    assert line["x"] == [_week(14), _week(0)]  # the week without sales isn't a point
    assert line["y"] == pytest.approx([15.0, 20.0])
    (reference,) = mape_chart["layout"]["shapes"]
    assert reference["y0"] == pytest.approx(14.2)
    assert "test MAPE 14.2%" in mape_chart["layout"]["annotations"][0]["text"]

    drift = table(at, "moved")
    assert list(drift["feature"]) == ["Kilometres driven", "Fuel", "Year"]
    assert list(drift["band"]) == ["major", "moderate", "stable"]
    assert drift["moved"][0] == "median 95,000 (training 60,000)"
    assert drift["moved"][1].startswith("Diesel +15.0 pts (40.0% → 55.0%)")

    runs = table(at, "decision")
    assert list(runs["decision"]) == ["Retrain triggered", "No retrain"]  # newest first
    assert "km_driven, year" in runs["reasons"][0]
    assert list(runs["drift"]) == ["drift", "watch"]
    assert runs["when"][0] == "2026-12-01 02:00 UTC"


def test_window_and_version_pickers_ask_the_api(apptest, stack: FakeStack) -> None:
    at = apptest("monitoring").run()
    at.radio(key="monitoring_window").set_value("Last 90 days").run()
    _ok(at)
    since = (TODAY - timedelta(days=89)).isoformat()
    assert stack.summary_queries[-1] == {"since": f"{since}T00:00:00+00:00"}
    assert at.selectbox(key="monitoring_version").options == ["All versions", "7", "6"]
    at.selectbox(key="monitoring_version").set_value("6").run()
    _ok(at)
    assert stack.summary_queries[-1]["model_version"] == "6"


def test_no_sales_stable_and_no_monitor_runs(apptest, stack: FakeStack) -> None:
    stack.summary |= {"sales": 0, "by_week": [], "drift": {"verdict": "too few rows",
                      "rows": 12, "min_rows": 50, "features": {}}}  # fmt: skip
    stack.summary["accuracy"] = {"sales": 0, "mae": None, "mape": None, "median_ape": None,
                                 "coverage": None}  # fmt: skip
    stack.monitor_runs = None
    at = apptest("monitoring").run()
    _ok(at)
    assert not at.error
    assert metric(at, "Live MAPE") == "—"
    text = page_text(at)
    assert "No sale is recorded yet" in text
    assert "Too few quotes to judge drift" in text and "least 50" in text
    assert "has not logged a run yet" in text
    assert not at.get("plotly_chart")


@pytest.mark.parametrize(
    ("status", "detail", "shown"),
    [
        (503, "The quote log's database can't be reached (OperationalError); try again shortly.",
         "The quote log's database can't be reached"),
        (401, "missing key", "CARPRICE_DASHBOARD_API_KEY"),
        (500, "boom", "failed (500)"),
    ],
)  # fmt: skip
def test_api_errors_are_shown_without_traceback(
    apptest, stack: FakeStack, status: int, detail: str, shown: str
) -> None:
    stack.summary_status, stack.summary_detail = status, detail
    at = apptest("monitoring").run()
    _ok(at)
    assert len(at.error) == 1 and shown in at.error[0].value
    assert "no model to serve" not in at.error[0].value
    assert "Traceback" not in page_text(at)


def test_api_down_is_a_banner(apptest, down_env: str) -> None:
    at = apptest("monitoring").run()
    _ok(at)
    assert "The pricing API is down" in at.error[0].value


def test_mlflow_down_still_shows_the_figures(apptest, stack: FakeStack, monkeypatch) -> None:
    from dashboard.config import get_dashboard_settings

    monkeypatch.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", "http://127.0.0.1:9")
    get_dashboard_settings.cache_clear()
    at = apptest("monitoring").run()
    _ok(at)
    assert metric(at, "Sales matched") == "36"
    assert any("monitor runs could not be read" in w.value for w in at.warning)


def test_sales_upload_shows_each_rows_status(apptest, stack: FakeStack) -> None:
    at = apptest("monitoring").run()
    content = f"quote_id,sale_price,sold_on\n{QUOTE_ID},450000,{TODAY}\n".encode()
    at.file_uploader(key="monitoring_upload_file").set_value(("sales.csv", content, "text/csv"))
    at.run()
    _ok(at)
    assert not stack.uploads  # nothing posted before the button
    at.button(key="monitoring_upload_send").click().run()
    _ok(at)
    assert stack.uploads and b"450000" in stack.uploads[0]
    rows = table(at, "status")
    assert list(rows["status"]) == ["recorded", "refused", "refused"]
    assert rows["reason"][1] == "unknown quote_id 'nope'"
    assert "1 recorded, 2 refused." in page_text(at)
    # The recorded sale asks for fresh figures; a rerun doesn't post the file again.
    queries = len(stack.summary_queries)
    at.run()
    _ok(at)
    assert len(stack.uploads) == 1 and len(stack.summary_queries) == queries


def test_one_sale_unknown_id_then_409_offers_the_correction(apptest, stack: FakeStack) -> None:
    at = apptest("monitoring").run()
    at.text_input(key="monitoring_sale_quote_id").set_value("no-such-id")
    at.number_input(key="monitoring_sale_price").set_value(450000)
    at.button(key="monitoring_sale_submit").click().run()
    _ok(at)
    assert any("No quote has the id 'no-such-id'" in e.value for e in at.error)
    at.text_input(key="monitoring_sale_quote_id").set_value(QUOTE_ID)
    at.button(key="monitoring_sale_submit").click().run()
    _ok(at)
    assert any("Recorded" in s.value and "₹4,50,000" in s.value for s in at.success)
    at.number_input(key="monitoring_sale_price").set_value(455000)
    at.button(key="monitoring_sale_submit").click().run()
    _ok(at)
    assert any("already has a sale" in w.value for w in at.warning)
    at.button(key="monitoring_sale_correct").click().run()
    _ok(at)
    assert stack.sale_calls[-1][0] == "PUT" and stack.sale_calls[-1][2]["sale_price"] == 455000
    assert any("corrected" in s.value for s in at.success)


def test_quote_page_shows_the_quote_id_and_records_the_sale(apptest, stack: FakeStack) -> None:
    at = apptest("quote").run()
    at.form_submit_button(key="quote_submit").click().run()
    _ok(at)
    assert QUOTE_ID in [c.value for c in at.code]
    at.number_input(key="quote_sale_price").set_value(470000)
    at.date_input(key="quote_sale_sold_on").set_value(TODAY - timedelta(days=1))
    at.button(key="quote_sale_submit").click().run()
    _ok(at)
    method, quote_id, body = stack.sale_calls[-1]
    assert (method, quote_id) == ("POST", QUOTE_ID)
    assert body == {"sale_price": 470000.0, "sold_on": (TODAY - timedelta(days=1)).isoformat()}
    assert any("₹4,70,000" in s.value and "inside its range" in s.value for s in at.success)
    # Sold again: the API's reason and the correction on offer.
    at.button(key="quote_sale_submit").click().run()
    assert any("already has a sale" in w.value for w in at.warning)


def test_quote_page_sale_refused_reason_is_shown(apptest, stack: FakeStack) -> None:
    def refuse(request: httpx.Request, quote_id: str) -> httpx.Response:
        return httpx.Response(422, json={"detail": "sold_on 2031-01-01 is in the future"})

    stack._sale = refuse  # type: ignore[method-assign]
    at = apptest("quote").run()
    at.form_submit_button(key="quote_submit").click().run()
    at.number_input(key="quote_sale_price").set_value(470000)
    at.button(key="quote_sale_submit").click().run()
    _ok(at)
    assert any("is in the future" in e.value for e in at.error)
    assert "Traceback" not in page_text(at)


def test_sale_words_and_what_moved() -> None:
    answer = {"sale_price": 450000.0, "price": 480000.0, "price_low": 400000.0,
              "price_high": 600000.0, "sold_on": "2026-11-30", "history": []}  # fmt: skip
    assert view.sale_words(answer) == (
        "**Recorded:** sold for ₹4,50,000 on 2026-11-30; the quote was ₹4,80,000 "
        "(6.7% off, inside its range)."
    )
    assert view.what_moved({"kind": "category", "share_changes": []}) == "shares as in training"
    assert view.window_since(7, date(2026, 12, 2)) == date(2026, 11, 26)
    level, words = view.drift_words({"verdict": "stable", "rows": 1200, "features": {"a": {}}})
    assert level == "success" and "1,200 quotes" in words


def test_client_methods_send_what_the_api_takes() -> None:
    from dashboard.clients.api_client import ApiClient, ApiError

    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/quotes/gone/sale":
            return httpx.Response(
                503,
                json={
                    "detail": "The quote log's database can't be "
                    "reached (OperationalError); nothing was recorded."
                },
            )
        if request.url.path == "/quotes/sold/sale":
            return httpx.Response(409, json={"detail": "This quote already has a sale."})
        return httpx.Response(200, json={"ok": True})

    client = ApiClient("http://api.test", transport=httpx.MockTransport(handler))
    client.monitoring_summary(date(2026, 11, 1), datetime(2026, 12, 1, 12, tzinfo=UTC), "7")
    assert dict(seen[-1].url.params) == {"since": "2026-11-01T00:00:00+00:00",
                                         "until": "2026-12-01T12:00:00+00:00",
                                         "model_version": "7"}  # fmt: skip
    client.record_sale("a b", 450000.0, date(2026, 11, 30))
    assert (seen[-1].method, seen[-1].url.raw_path) == ("POST", b"/quotes/a%20b/sale")
    assert json.loads(seen[-1].content) == {"sale_price": 450000.0, "sold_on": "2026-11-30"}
    client.correct_sale("q", 1.0, date(2026, 11, 30))
    assert seen[-1].method == "PUT"
    client.upload_sales("sales.csv", b"quote_id,sale_price,sold_on\n")
    assert b'filename="sales.csv"' in seen[-1].content
    with pytest.raises(ApiError) as down:
        client.record_sale("gone", 1.0, date(2026, 11, 30))
    assert down.value.status == 503 and str(down.value).startswith("The quote log's database")
    with pytest.raises(ApiError) as sold:
        client.record_sale("sold", 1.0, date(2026, 11, 30))
    assert sold.value.status == 409 and "already has a sale" in str(sold.value)
