"""Model page against the real API: champion card, importance, dependence curve."""

from __future__ import annotations

import json

import httpx

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
    assert len(importance["data"][0]["y"]) == len(served)
    dependence = next(v for k, v in charts.items() if k.startswith("Price vs"))
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
