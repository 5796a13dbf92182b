"""Model page against the real API: champion card, importance, dependence curve, and the
evaluation report (the real one, and its edge cases through an httpx.MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from dashboard import charts as charts_mod
from dashboard.model_card import REPORT_COLUMNS
from tests.plugins.api_stack import ApiServer


def test_champion_card_importance_and_dependence(apptest, live_env, api_server: ApiServer) -> None:
    info = httpx.get(api_server.url + "/model/info").json()
    at = apptest("model").run()
    assert not at.exception and not at.error
    assert f"v{info['version']}" in at.subheader[0].value
    labels = {m.label: m.value for m in at.metric}
    assert "Typical error (MAE)" in labels and labels["R²"] == f"{info['metrics']['r2']:.3f}"
    assert any("synthetic" in w.value for w in at.warning)  # the session model is synthetic
    charts = {json.loads(c.proto.spec)["layout"]["title"]["text"]: json.loads(c.proto.spec)
              for c in at.get("plotly_chart")}  # fmt: skip
    importance = next(v for k, v in charts.items() if k.startswith("What moves prices"))
    served = httpx.get(api_server.url + "/model/importance").json()["importance"]
    bars = importance["data"][0]
    top = sorted(served, key=served.get, reverse=True)[:12]  # the top inputs, then the rest
    assert list(bars["y"])[::-1] == [
        *(charts_mod.feature_name(f) for f in top),
        f"{len(served) - 12} other inputs together",
    ]
    assert sum(bars["x"]) == pytest.approx(sum(served.values()))
    dependence = next(v for k, v in charts.items() if k.startswith("Price vs"))
    # The example car is the API's own (a Maruti by its name), not the first brand listed.
    brand = info["example"]["name"].split()[0]
    assert at.selectbox(key="model_dependence_brand").value == brand
    assert f"({brand} example car)" in dependence["layout"]["title"]["text"]
    # Years read as years on the axis and in the hover: 2014, not 2,014.
    assert dependence["layout"]["title"]["text"].startswith("Price vs year")
    assert dependence["layout"]["xaxis"].get("tickformat") == "d"
    assert "ticktext" not in dependence["layout"]["xaxis"]
    assert all("," not in point[0] for point in dependence["data"][2]["customdata"])
    prices = dependence["data"][2]["y"]
    assert len(prices) > 5 and all(p and p > 0 for p in prices)
    at.selectbox(key="model_dependence_feature").set_value("max_power_bhp").run()
    assert not at.exception
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("Price vs max power") for t in titles)


def test_api_down_shows_a_banner(apptest, down_env: str) -> None:
    at = apptest("model").run()
    assert not at.exception
    assert "pricing API is down" in at.error[0].value


def test_app_shell_lists_the_pages_and_service_status(apptest, down_env: str) -> None:
    at = apptest("app").run()
    assert not at.exception
    status = " ".join(m.value for m in at.sidebar.markdown)
    for service in ("Pricing API", "MLflow", "Airflow"):
        assert f":red[●] {service} — **down**" in status
    assert "pricing API is down" in at.error[0].value  # the default page is Quote


# --------------------------------------------------------------------------- evaluation report


def report_table(at):  # noqa: ANN001, ANN201 - AppTest → DataFrame
    """The report table (AppTest keeps no keys of read-only dataframes: found by columns)."""
    return next(d.value for d in at.dataframe if list(d.value.columns) == REPORT_COLUMNS)


def test_evaluation_report_of_the_served_model(apptest, live_env, api_server: ApiServer) -> None:
    """The session champion's report, as /model/report serves it, one dimension at a time."""
    served = httpx.get(api_server.url + "/model/report").json()
    rows = served["rows"]
    assert rows, "the session champion was trained with an evaluation report"
    at = apptest("model").run()
    assert not at.exception and not at.error
    assert any(s.value.startswith("Where it errs") for s in at.subheader)

    dimension = at.radio(key="model_report_dimension")
    assert dimension.value == "variant"
    variant = {r["group"]: r for r in rows if r["dimension"] == "variant"}
    table = report_table(at)
    assert list(table["Group"]) == sorted(variant)
    for _, shown in table.iterrows():
        row = variant[shown["Group"]]
        assert shown["Rows"] == row["rows"]
        assert shown["MAE"] == pytest.approx(row["mae"])
        assert shown["MAPE"] == pytest.approx(100 * row["mape"])
        assert shown["Median APE"] == pytest.approx(100 * row["median_ape"])
    tiles = {m.label: m.value for m in at.metric}
    for group, row in variant.items():
        assert tiles[f"MAPE, variants {group}"] == f"{row['mape']:.1%}"
    specs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    chart = next(s for s in specs if s["layout"]["title"]["text"].startswith("MAPE by"))
    assert chart["layout"]["title"]["text"] == "MAPE by seen vs unseen variant"
    assert chart["data"][0]["x"] == pytest.approx(list(table["MAPE"])[::-1])  # first on top

    at = dimension.set_value("price decile").run()
    assert not at.exception
    deciles = report_table(at)
    assert list(deciles["Group"]) == sorted(
        r["group"] for r in rows if r["dimension"] == "price decile"
    )
    assert deciles["Group"].iloc[0].startswith("D01")
    assert deciles["Rows"].sum() == table["Rows"].sum()  # every priced test car, once


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        (lambda v: httpx.Response(200, json={"model_version": v, "rows": []}),
         "has no evaluation report"),
        (lambda v: httpx.Response(404, json={"detail": "Not Found"}),
         "does not serve evaluation reports"),
    ],
    ids=["trained-before-reports", "api-without-reports"],
)  # fmt: skip
def test_no_report_is_said_plainly(
    apptest, live_env, api_server: ApiServer, monkeypatch: pytest.MonkeyPatch, answer, shown
) -> None:
    version = httpx.get(api_server.url + "/health").json()["model_version"]
    calls = _report_answered_by(monkeypatch, api_server.url, lambda _: answer(version))
    at = apptest("model").run()
    assert not at.exception and not at.error
    assert calls, "the page asked for the report"
    info = " ".join(i.value for i in at.info)
    assert shown in info
    if "trained before" in shown:
        assert f"Version {version} has no evaluation report" in info
    assert not any(list(d.value.columns) == REPORT_COLUMNS for d in at.dataframe)
    assert not [r for r in at.radio if r.key == "model_report_dimension"]
    assert any(s.value == "How price follows one input" for s in at.subheader)  # page goes on


def test_report_failure_is_an_error_and_the_page_goes_on(
    apptest, live_env, api_server: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    _report_answered_by(
        monkeypatch,
        api_server.url,
        lambda _: httpx.Response(500, json={"detail": "report store corrupted"}),
    )
    at = apptest("model").run()
    assert not at.exception
    assert len(at.error) == 1
    error = at.error[0].value
    assert "evaluation report could not be read" in error and "report store corrupted" in error
    assert "Reload the page" in error
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.startswith("Price vs") for t in titles)


def test_report_frame_orders_groups_as_people_read_them() -> None:
    from dashboard.model_card import report_dimensions, report_frame

    rows = [  # carprice.report's order: groups sorted as text
        {"dimension": d, "group": g, "rows": n, "mae": 1000.0 * n, "mape": n / 100,
         "median_ape": n / 200}
        for d, g, n in [
            ("age band", "0–3 years", 5), ("age band", "11–15 years", 7),
            ("age band", "16+ years", 2), ("age band", "4–6 years", 9),
            ("brand", "Audi", 3), ("brand", "Maruti", 40), ("brand", "Tata", 12),
            ("price decile", "D01 ₹1–₹2", 4), ("price decile", "D10 ₹9–₹10", 4),
            ("price decile", "D02 ₹2–₹3", 4),
            ("variant", "unseen in training", 6), ("variant", "seen in training", 30),
        ]
    ]  # fmt: skip
    assert report_dimensions(rows) == ["variant", "price decile", "brand", "age band"]
    assert list(report_frame(rows, "age band")["Group"]) == [
        "0–3 years", "4–6 years", "11–15 years", "16+ years",
    ]  # fmt: skip
    assert list(report_frame(rows, "brand")["Group"]) == ["Maruti", "Tata", "Audi"]
    assert [g[:3] for g in report_frame(rows, "price decile")["Group"]] == ["D01", "D02", "D10"]
    variant = report_frame(rows, "variant")
    assert list(variant["Group"]) == ["seen in training", "unseen in training"]
    assert variant.iloc[1].tolist() == ["unseen in training", 6, 6000.0, 6.0, 3.0]


def _report_answered_by(
    monkeypatch: pytest.MonkeyPatch, api_url: str, answer: Callable[[httpx.Request], httpx.Response]
) -> list[httpx.Request]:
    """The page's API client on an httpx.MockTransport: GET /model/report is answered by
    `answer`; every other call is passed on to the real API, so the rest of the page works."""
    from dashboard import pricing
    from dashboard.clients.api_client import ApiClient

    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/model/report":
            calls.append(request)
            return answer(request)
        passed = httpx.request(
            request.method, api_url + request.url.raw_path.decode(), content=request.content,
            timeout=60,
            headers={k: v for k, v in request.headers.items() if k.lower() != "host"},
        )  # fmt: skip
        return httpx.Response(
            passed.status_code,
            content=passed.content,
            headers={"content-type": passed.headers.get("content-type", "application/json")},
        )

    client = ApiClient(api_url, transport=httpx.MockTransport(handler))
    monkeypatch.setattr(pricing, "api_client", lambda: client)
    return calls


# --------------------------------------------------------------------------- history, figures


def test_history_of_champions_and_frozen_set_figures(
    apptest, live_env, api_server: ApiServer
) -> None:
    """With MLflow reachable: the served champion heads the history ("live now", what it
    replaced, why), and the card shows its MAE on the frozen set beside its own split's."""
    live_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", api_server.mlflow_url)
    from dashboard.config import get_dashboard_settings

    get_dashboard_settings.cache_clear()
    info = httpx.get(api_server.url + "/model/info").json()
    at = apptest("model").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    labels = {m.label: m.value for m in at.metric}
    assert labels["MAE · frozen evaluation set"].startswith("₹")
    assert labels["MAE · its own test split"].startswith("₹")
    history = next(d.value for d in at.dataframe if "Went live (UTC)" in d.value.columns)
    live = history.iloc[0]
    assert live["Version"] == f"v{info['version']}" and live["Until (UTC)"] == "live now"
    assert live["Trained on"] == "SYNTHETIC sample"
    assert live["Evaluation set"].startswith("eval-") and live["MAE on frozen set"] > 0
    assert live["Why"]  # the gate's reason, an approval's or a rollback's
    assert any("synthetic sample" in c.value for c in at.caption)


def test_history_frame_reads_as_a_timeline() -> None:
    from carprice.champions import Reign
    from dashboard.clients.mlflow_client import Run
    from dashboard.model_card import history_frame

    reigns = [
        Reign("3", "2026-12-02T10:00:00.1Z", "rollback", "4", "rollback by ops: SUVs low", None),
        Reign("4", "2026-12-01T09:00:00.1Z", "approval", "3", "approved by ops",
              "2026-12-02T10:00:00.1Z", "3", "rollback by ops: SUVs low"),
    ]  # fmt: skip
    run = Run("r", "train", "1", "FINISHED", 0, {}, {"frozen_mae": 66_000.0, "test_mae": 67_000.0},
              {"carprice.eval_set": "eval-1", "data.synthetic": "false"})  # fmt: skip
    frame = history_frame(reigns, {"3": run, "4": None})
    assert list(frame["Version"]) == ["v3", "v4"]
    assert list(frame["Until (UTC)"]) == ["live now", "2026-12-02 10:00"]
    assert list(frame["Replaced"]) == ["v4", "v3"]
    assert list(frame["How"]) == ["rollback", "operator approval"]
    assert frame.loc[1, "Why"] == "approved by ops — ended: rollback by ops: SUVs low"
    assert frame.loc[0, "MAE on frozen set"] == 66_000.0 and frame.loc[0, "Trained on"] == (
        "real listings"
    )
