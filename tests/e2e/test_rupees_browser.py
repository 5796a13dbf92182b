"""Model and Experiments pages in Chromium at a laptop's 1280 px and a phone's 390 px: their
tables draw rupees the Indian way (₹10,06,500, never ₹1,006,500) and their figures show
whole. What the grids (canvases) draw is recorded from fillText; see
tests/e2e/test_batch_reload_browser.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, expect

from carprice.names import REPORT_ARTIFACT
from tests.e2e.conftest import wait_idle
from tests.e2e.test_batch_reload_browser import DRAWN_JS, SIZES, WESTERN, cut_off, grouped, snap
from tests.e2e.test_experiments_browser import _pick
from tests.plugins.api_stack import ApiServer, Champion

#: A report whose errors run into lakhs, where Indian and western grouping differ.
REPORT = [
    {"dimension": "variant", "group": "seen in training", "rows": 1200, "mae": 1_006_500.0,
     "mape": 0.12, "median_ape": 0.09},
    {"dimension": "variant", "group": "unseen in training", "rows": 300, "mae": 2_07_430.0,
     "mape": 0.2, "median_ape": 0.15},
]  # fmt: skip


EXPECT_TIMEOUT_MS = 60_000  # conftest's _expect_timeout: assertions wait this long here


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=SIZES[request.param], accept_downloads=True)
    context.set_default_timeout(60_000)
    context.add_init_script(DRAWN_JS)
    try:
        yield context.new_page()
    finally:
        context.close()


def drawn(page: Page) -> set[str]:
    return set(page.evaluate("() => [...window.__drawn]"))


def scroll_until_drawn(page: Page, grid, wanted: set[str]) -> set[str]:  # noqa: ANN001
    """Scroll `grid` sideways a step at a time, as a thumb or a trackpad would, until all of
    `wanted` has been drawn (columns right of the screen are drawn once scrolled to)."""
    grid.hover()
    for _ in range(12):
        if wanted <= drawn(page):
            break
        page.mouse.wheel(250, 0)
        page.wait_for_timeout(400)
    return wait_drawn(page, wanted, seconds=5)


def wait_drawn(page: Page, texts: set[str], seconds: float = 30) -> set[str]:
    """What the page's canvases drew, once it holds all of `texts` (or the time is up)."""
    for _ in range(int(seconds * 2)):
        seen = drawn(page)
        if texts <= seen:
            return seen
        page.wait_for_timeout(500)
    return drawn(page)


@pytest.fixture(scope="module")
def lakh_runs(api_server: ApiServer) -> str:
    """An experiment of two training runs whose MAE and report run into lakhs (the second
    25% worse); returns its name."""
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=api_server.mlflow_url)
    name = f"e2e_lakhs_{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name)
    for run_name, scale in (("lakh-before", 1.0), ("lakh-after", 1.25)):
        run = client.create_run(experiment, run_name=run_name)
        rows = [r | {"mae": r["mae"] * scale} for r in REPORT]
        client.log_metric(run.info.run_id, "test_mae", 1_006_500.0 * scale)
        client.log_table(run.info.run_id, pd.DataFrame(rows), REPORT_ARTIFACT)
        client.set_terminated(run.info.run_id)
    return name


def test_experiments_draws_indian_rupees(
    sized: Page,
    dashboard_factory: Callable[..., str],
    api_server: ApiServer,
    lakh_runs: str,
    shoot: Callable,
) -> None:
    page = sized
    width = page.viewport_size["width"]
    url = dashboard_factory(  # lists cached 1 s, so the new experiment is listed at once
        api_url=api_server.url, mlflow_url=api_server.mlflow_url, cache_ttl_seconds="1"
    )
    page.goto(f"{url}/experiments")
    expect(page.get_by_text("Champion vs the champion it replaced")).to_be_visible()
    wait_idle(page)
    card = page.locator(".st-key-exp_card_champion [data-testid=stMetricValue]")
    expect(card).to_contain_text("MAE")
    assert cut_off(page) == [], f"cut off at {width} px: {cut_off(page)}"
    assert not WESTERN.search(page.locator("[data-testid=stMain]").inner_text())

    experiment = page.locator(".st-key-exp_experiment input")
    experiment.click()
    experiment.fill(lakh_runs)
    page.get_by_role("option", name=lakh_runs, exact=True).click()
    wait_idle(page)
    expect(experiment).to_have_value(lakh_runs)
    expect(page.get_by_text("Pick two or more runs")).to_be_visible(timeout=30_000)
    expect(page.get_by_text("2 of 2 matching runs shown")).to_be_visible()  # its runs listed
    runs = {"₹10,06,500", "₹12,58,125"}  # metric.test_mae, the runs table's last column
    assert "open" in wait_drawn(page, {"open"})  # the MLflow links still say open
    seen = scroll_until_drawn(page, page.locator(".st-key-exp_runs_box"), runs)
    assert runs <= seen, sorted(seen)
    _pick(page, "lakh-before")
    _pick(page, "lakh-after")
    box = page.locator(".st-key-exp_report_box [data-testid=stDataFrame]")
    expect(box).to_be_visible()
    box.scroll_into_view_if_needed()
    # A = lakh-before: ₹10,06,500 and ₹2,07,430; B = lakh-after, 25% more; Δ B−A.
    first = {"₹10,06,500", "₹2,07,430"}
    seen = wait_drawn(page, first)
    assert first <= seen, sorted(seen)
    if width >= 1000:  # the whole table fits: B's figures and the changes are drawn too
        rest = {"₹12,58,125", "₹2,59,288", "+₹2,51,625", "+₹51,858"}
        seen = wait_drawn(page, rest)
        assert rest <= seen, sorted(seen)
    page.get_by_text("Metrics", exact=True).scroll_into_view_if_needed()
    seen = wait_drawn(page, {"₹10,06,500", "₹12,58,125"})
    assert {"₹12,58,125"} <= seen, sorted(seen)  # the metric table (text cells)
    assert not [t for t in seen if WESTERN.search(t)], sorted(seen)
    assert page.locator("[data-testid='stException']").count() == 0
    snap(page, shoot, f"experiments_rupees_{width}px")


def test_model_page_draws_indian_rupees(
    sized: Page, dashboard_url: str, champion: Champion, shoot: Callable
) -> None:
    page = sized
    width = page.viewport_size["width"]
    metrics = champion.client().get_run(champion.run_id).data.metrics
    page.goto(f"{dashboard_url}/model")
    card = page.locator(".st-key-model_card")
    card.locator("[data-testid='stMetricValue']").nth(2).wait_for()
    wait_idle(page)
    assert cut_off(page, ".st-key-model_card") == [], f"cut off at {width} px"
    history = page.locator(".st-key-model_history [data-testid=stDataFrame]")
    history.scroll_into_view_if_needed()
    expect(history).to_be_visible()
    # The history's MAE columns are its 7th and 8th, right of a wide "Why": scroll the grid
    # sideways a step at a time, as a thumb would, until both have been drawn.
    wanted = {grouped(metrics["frozen_mae"]), grouped(metrics["test_mae"])}
    seen = scroll_until_drawn(page, history, wanted)
    assert wanted <= seen, (wanted, sorted(seen))
    report = page.locator(".st-key-model_report [data-testid=stDataFrame]")
    report.scroll_into_view_if_needed()
    expect(report).to_be_visible()
    page.wait_for_timeout(1000)
    seen = drawn(page)
    assert not [t for t in seen if WESTERN.search(t)], sorted(seen)
    assert page.locator("[data-testid='stException']").count() == 0
    snap(page, shoot, f"model_rupees_{width}px")
