"""Monitoring in Chromium, on real parts: price a car on the Quote page, record what it sold
for there, then open Monitoring and see that one sale counted.

The API here is its own uvicorn on a fresh SQLite quote log (the session API's log is shared
with other tests, so its counts are not this test's), serving the session champion; the
dashboard is a real `streamlit run` wired to it and to the session MLflow.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import wait_idle
from tests.plugins.api_stack import Champion, served_version, start_api, wait_for

PRICE = ".st-key-quote_price [data-testid='stMetricValue']"
CUT_OFF_JS = """() => [...document.querySelectorAll('[data-testid=stMetricValue]')]
  .flatMap(e => [e, ...e.querySelectorAll('*')])
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth)
  .map(e => e.innerText)"""
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


EXPECT_TIMEOUT_MS = 30_000  # conftest's _expect_timeout: assertions wait this long here


@pytest.fixture(scope="module")
def logged_api(champion: Champion, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real API with its own empty quote log (SQLite) and spool folder."""
    home: Path = tmp_path_factory.mktemp("monitoring_api")
    proc, base = start_api(
        champion.url,
        home,
        CARPRICE_DATABASE_URL=f"sqlite:///{home / 'quotes.db'}",
        CARPRICE_QUOTE_SPOOL_DIR=str(home / "spool"),
    )
    try:
        wait_for(lambda: served_version(base) is not None, timeout=120)
        yield base
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def monitoring_dashboard(
    dashboard_factory: Callable[..., str], logged_api: str, champion: Champion
) -> str:
    return dashboard_factory(api_url=logged_api, mlflow_url=champion.url)


def test_a_sale_recorded_on_quote_is_counted_on_monitoring(
    page, monitoring_dashboard: str, logged_api: str, shoot
) -> None:
    page.goto(monitoring_dashboard)
    button = page.get_by_role("button", name="Get price")
    expect(button).to_have_count(1)
    wait_idle(page)
    button.click()  # the example car the form starts with
    page.locator(PRICE).wait_for(state="visible")
    wait_idle(page)

    quote_id = page.locator(".st-key-quote_id [data-testid='stCode'] code").inner_text().strip()
    assert UUID.match(quote_id), quote_id
    page.get_by_text("Record the sale", exact=True).first.click()  # the expander
    price = page.locator(".st-key-quote_sale_price input")
    price.fill("450000")
    price.press("Tab")
    page.locator(".st-key-quote_sale_submit button").click()
    answer = page.locator(".st-key-quote_sale_answer")
    expect(answer).to_contain_text("Recorded")
    expect(answer).to_contain_text("₹4,50,000")
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "quote_sale_recorded")

    # The API has it, against this quote.
    summary = httpx.get(f"{logged_api}/monitoring/summary", timeout=30).json()
    assert summary["sales"] == 1

    page.goto(monitoring_dashboard.rstrip("/") + "/monitoring")
    sales = page.locator(".st-key-monitoring_sales [data-testid='stMetricValue']")
    expect(sales).to_have_text("1")
    quotes = page.locator(".st-key-monitoring_quotes [data-testid='stMetricValue']")
    assert int(quotes.inner_text().replace(",", "")) >= 1
    mape = page.locator(".st-key-monitoring_mape [data-testid='stMetricValue']")
    expect(mape).to_have_text(re.compile(r"^\d+\.\d%$"))
    expect(page.locator("[data-testid='stPlotlyChart']").first).to_be_visible()
    wait_idle(page)
    assert page.evaluate(CUT_OFF_JS) == []  # six figures in a row, none cut off ("₹2.76 la…")
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "monitoring_one_sale")
