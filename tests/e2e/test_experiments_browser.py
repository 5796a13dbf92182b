"""Experiments page in Chromium: the session's real MLflow (one training run, two trials)."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.e2e.conftest import wait_idle


def test_compare_two_runs(
    page: Page, dashboard_url: str, shoot: Callable, record: Callable
) -> None:
    page.goto(f"{dashboard_url}/experiments")
    expect(page.get_by_text("Champion vs challenger")).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect(page.locator('[data-testid="stMetricValue"]').first).to_contain_text("test MAE")
    runs = page.locator(".st-key-exp_runs_box [data-testid='stDataFrame']")
    expect(runs).to_be_visible()

    picker = page.locator(".st-key-exp_compare")
    started = time.perf_counter()
    for name in ("trial-000", "trial-001"):
        picker.locator("input").click()
        picker.locator("input").fill(name)
        page.get_by_role("option").filter(has_text=name).first.click()
        page.keyboard.press("Escape")
        wait_idle(page)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts).to_have_count(2, timeout=30_000)
    expect(page.locator(".js-plotly-plot .parcoords").first).to_be_attached()
    expect(page.get_by_text("Parameters that differ")).to_be_visible()
    record("experiments: pick two runs → comparison drawn", time.perf_counter() - started)

    # the MLflow links point at real runs of the session's server
    link = page.get_by_role("link", name="trial-000").first
    href = link.get_attribute("href") or ""
    assert "/#/experiments/" in href and "/runs/" in href
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "experiments")
