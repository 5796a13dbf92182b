"""Quote page in Chromium: price one car against the real API, measure submit → price."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import expect

from tests.e2e.conftest import wait_idle
from tests.plugins.api_stack import ApiServer
from tests.servers import free_port

PRICE = ".st-key-quote_price [data-testid='stMetricValue']"


def test_price_one_car(page, dashboard_url: str, api_server: ApiServer, shoot, record) -> None:
    page.goto(dashboard_url)
    page.get_by_role("button", name="Get price").wait_for()
    wait_idle(page)
    # Before a quote: the model's error and what moves prices, drawn while the form is filled.
    expect(page.locator("[data-testid='stPlotlyChart']")).to_have_count(1)
    expect(page.get_by_text("Typical error on unseen cars")).to_be_visible()
    shoot(page, "quote_empty")
    km = page.locator(".st-key-quote_km_driven input")
    km.fill("63000")
    km.press("Tab")
    t0 = time.perf_counter()
    page.get_by_role("button", name="Get price").click()
    page.locator(PRICE).wait_for(state="visible")
    elapsed = time.perf_counter() - t0
    record("Quote: form submit → price shown", elapsed, 1.5)
    wait_idle(page)
    shown = page.locator(PRICE).inner_text()
    assert shown.startswith("₹")
    # The exact price in the caption is the API's price for the car in the form.
    name = page.locator("h3").filter(has_text="Maruti").first.inner_text()
    info = httpx.get(api_server.url + "/model/info").json()
    car = {**info["example"], "name": name, "km_driven": 63000}
    expected = httpx.post(api_server.url + "/predict", json=car).json()
    assert page.get_by_text(f"₹{expected['price']:,.0f}").count() == 1
    # The charts come after the headline in the same script run: wait for them, don't race.
    expect(page.locator("[data-testid='stPlotlyChart']")).to_have_count(3)  # waterfall + what-ifs
    expect(page.locator("[data-testid='stDataFrame']")).to_have_count(1)  # comparables
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "quote")

    # A second quote (changed km) must replace the first one as quickly.
    km.fill("120000")
    km.press("Tab")
    t0 = time.perf_counter()
    page.get_by_role("button", name="Get price").click()
    page.wait_for_function(
        '(old) => { const e = document.querySelector("' + PRICE + '");'
        " return e && e.innerText !== old; }",
        arg=shown,
    )
    record("Quote: changed input → new price shown", time.perf_counter() - t0, 1.5)


def test_api_down_banner(page, dashboard_factory, shoot) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    url = dashboard_factory(api_url=closed, mlflow_url=closed, airflow_url=closed)
    page.goto(url)
    alert = page.locator("[data-testid='stAlert']").filter(has_text="pricing API is down")
    alert.wait_for()
    assert closed in alert.inner_text()
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "quote_api_down")
