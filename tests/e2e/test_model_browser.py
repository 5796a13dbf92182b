"""Model page in Chromium: champion card, importance and a dependence curve."""

from __future__ import annotations

from tests.e2e.conftest import wait_idle


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
