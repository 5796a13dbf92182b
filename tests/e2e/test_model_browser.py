"""Model page in Chromium: champion card, importance, a dependence curve, and the evaluation
report of the served model (variant split first, then the price deciles)."""

from __future__ import annotations

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import wait_idle

EXPECT_TIMEOUT_MS = 30_000  # conftest's _expect_timeout: assertions wait this long here


def test_model_page(page, dashboard_url: str, shoot) -> None:
    page.goto(dashboard_url)
    page.get_by_role("link", name="Model", exact=True).click()
    card = page.locator(".st-key-model_card")
    card.wait_for()
    card.locator("[data-testid='stMetricValue']").nth(2).wait_for()
    page.locator("[data-testid='stPlotlyChart']").nth(1).wait_for()
    wait_idle(page)
    assert "Champion: car_price v" in card.inner_text()
    assert "Typical error (MAE)" in card.inner_text()
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "model")


def test_evaluation_report(page, dashboard_url: str, api_server, shoot) -> None:
    """The report the API serves, drawn as tiles, a table and a MAPE chart per dimension."""
    rows = httpx.get(api_server.url + "/model/report", timeout=30).json()["rows"]
    variant = {r["group"]: r for r in rows if r["dimension"] == "variant"}
    assert variant, "the session champion has an evaluation report"
    page.goto(f"{dashboard_url}/model")
    expect(page.get_by_text("Where it errs: the evaluation report")).to_be_visible(timeout=60_000)
    picker = page.locator(".st-key-model_report_dimension")
    expect(picker).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect(picker.get_by_role("radio", name="Seen vs unseen variant")).to_be_checked()
    for group, row in variant.items():
        tile = page.locator(".st-key-model_report [data-testid='stMetric']").filter(
            has_text=f"variants {group}"
        )
        expect(tile.locator("[data-testid='stMetricValue']")).to_have_text(f"{row['mape']:.1%}")
    report = page.locator(".st-key-model_report")
    expect(report.locator("[data-testid='stDataFrame']")).to_have_count(1)
    expect(report.locator("[data-testid='stDataFrame']")).to_be_visible()
    chart = report.locator(".js-plotly-plot")
    expect(chart.locator(".gtitle")).to_have_text("MAPE by seen vs unseen variant")
    expect(chart.locator(".bars .point")).to_have_count(len(variant))
    for group in variant:
        expect(chart.locator(".ytick").filter(has_text=group)).to_have_count(1)
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "model_report")

    picker.get_by_text("Price decile").click()
    wait_idle(page)
    deciles = [r for r in rows if r["dimension"] == "price decile"]
    # Plotly draws the new figure before removing the old one: wait for the new title alone.
    expect(chart.locator(".gtitle").filter(has_text="MAPE by price decile")).to_have_count(
        1, timeout=30_000
    )
    expect(chart.locator(".gtitle")).to_have_count(1)
    expect(chart.locator(".bars .point")).to_have_count(len(deciles))
    expect(chart.locator(".ytick").filter(has_text="D01")).to_have_count(1)
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "model_report_deciles")


def test_history_of_champions(page, dashboard_url: str, api_server, shoot) -> None:
    """The champions over time, newest first: the served version is "live now", with its
    MAE on the frozen evaluation set beside its own split's, and the synthetic sample named."""
    info = httpx.get(api_server.url + "/model/info", timeout=30).json()
    page.goto(f"{dashboard_url}/model")
    expect(page.get_by_text("Champions over time")).to_be_visible(timeout=60_000)
    wait_idle(page)
    tiles = page.locator(".st-key-model_card [data-testid='stMetric']")
    frozen = tiles.filter(has_text="MAE · frozen evaluation set")
    expect(frozen.locator("[data-testid='stMetricValue']")).to_contain_text("₹")
    own = tiles.filter(has_text="MAE · its own test split")
    expect(own.locator("[data-testid='stMetricValue']")).to_contain_text("₹")
    expect(page.get_by_text("trained on the synthetic sample")).to_be_visible()
    table = page.locator(".st-key-model_history [data-testid='stDataFrame']")
    expect(table).to_be_visible()
    # The grid is a canvas (its cells are checked in tests/dashboard/test_model.py).
    expect(page.get_by_text("Each period a version was live")).to_be_visible()
    assert info["version"]
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "model_history")
