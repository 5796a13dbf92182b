"""Quote page in Chromium: quote a car by its name alone (brand → model → variant pickers)
against the real API, measure submit → price."""

from __future__ import annotations

import time

import httpx
from playwright.sync_api import expect

from carprice import names
from tests.e2e.conftest import wait_idle
from tests.plugins.api_stack import ApiServer, served_version, wait_for
from tests.servers import free_port

PRICE = ".st-key-quote_price [data-testid='stMetricValue']"
FILLED = ".st-key-quote_filled"


def choose(page, key: str, text: str, *, typed: bool = False) -> None:  # noqa: ANN001
    """Search a selectbox and take the listed option `text`, or (typed) add `text` as new."""
    box = page.locator(f".st-key-{key} input")
    if typed and box.input_value():
        # Clear first and let that rerun finish: a rerun that lands while the new text is
        # typed resets the box, as it would for a user typing at that moment.
        page.locator(f".st-key-{key}").get_by_role("button", name="Clear value").click()
        wait_idle(page)
    box.click()
    box.fill(text)
    if typed:
        page.get_by_role("option", name=f"Add: {text}").wait_for()
        box.press("Enter")
    else:
        page.get_by_role("option", name=text, exact=True).click()
    wait_idle(page)
    expect(box).to_have_value(text)


def price_button(page):  # noqa: ANN001, ANN201
    """The Get price button once the page has settled: while Streamlit swaps a rerun's
    elements in, the old button can still be on the page beside the new one."""
    button = page.get_by_role("button", name="Get price")
    expect(button).to_have_count(1, timeout=30_000)
    return button


def get_price(page, old: str | None = None) -> float:  # noqa: ANN001
    """Press Get price; wait for a (new) price; seconds from click to price shown."""
    button = price_button(page)
    t0 = time.perf_counter()
    button.click()
    if old is None:
        page.locator(PRICE).wait_for(state="visible")
    else:
        page.wait_for_function(
            '(old) => { const e = document.querySelector("' + PRICE + '");'
            " return e && e.innerText !== old; }",
            arg=old,
        )
    return time.perf_counter() - t0


def test_price_a_car_by_its_name(
    page, dashboard_url: str, api_server: ApiServer, shoot, record
) -> None:
    """Brand → model → variant, km, Get price: no spec typed, every assumed spec named."""
    api = api_server.url
    # Earlier tests move the session registry's champion; the price compared below must come
    # from the version the page quoted with, so start once the API serves the current one.
    from mlflow import MlflowClient

    registry = MlflowClient(api_server.mlflow_url, registry_uri=api_server.mlflow_url)
    champion = registry.get_model_version_by_alias(names.MODEL_NAME, names.CHAMPION).version
    wait_for(lambda: served_version(api) == str(champion), timeout=90)
    page.goto(dashboard_url)
    price_button(page).wait_for()
    wait_idle(page)
    # Before a quote: the model's error and what moves prices, drawn while the form is filled.
    expect(page.locator("[data-testid='stPlotlyChart']")).to_have_count(1)
    expect(page.get_by_text("Typical error on unseen cars")).to_be_visible()
    shoot(page, "quote_empty")

    # A new brand clears the model: no price until one is chosen.
    choose(page, "quote_brand", "Hyundai")
    expect(page.locator(".st-key-quote_model input")).to_have_value("")
    expect(price_button(page)).to_be_disabled()
    choose(page, "quote_model", "i20")
    choose(page, "quote_variant", "Asta")
    asta = next(v for v in httpx.get(f"{api}/catalogue/Hyundai/i20/variants").json()
                if v["variant"] == "Asta")  # fmt: skip
    # The specs are the variant's, in a collapsed section that names the typical values.
    specs = page.locator(".st-key-quote_specs")
    expect(specs).to_contain_text(f"{asta['engine_cc']:,.0f} cc")
    expect(page.locator(".st-key-quote_engine_cc input")).to_be_hidden()
    km = page.locator(".st-key-quote_km_driven input")
    km.fill("63000")
    km.press("Tab")
    elapsed = get_price(page)
    record("Quote: form submit → price shown", elapsed, 1.5)
    wait_idle(page)
    shown = page.locator(PRICE).inner_text()
    assert shown.startswith("₹")
    # The exact price in the caption is the API's price for the car by name alone.
    example = httpx.get(f"{api}/model/info").json()["example"]
    car = {
        "brand": "Hyundai", "model": "i20", "variant": "Asta", "km_driven": 63000,
        "year": example["year"], "seller_type": example["seller_type"],
        "owner_rank": example["owner_rank"], "fuel": asta["fuel"],
        "transmission": asta["transmission"],
    }  # fmt: skip
    expected = httpx.post(f"{api}/predict", json=car).json()
    caption = page.get_by_text("Model version").first.inner_text()
    assert f"Model version {expected['model_version']} " in caption, caption
    assert page.get_by_text(f"₹{expected['price']:,.0f}").count() == 1, (caption, car)
    expect(page.locator("h3").filter(has_text="Hyundai i20 Asta")).to_have_count(1)
    # The quote names every spec it assumed, with the value used.
    assert set(expected["filled"].values()) == {"variant"}
    expect(page.locator(FILLED)).to_contain_text("Assumed from the variant's typical specs")
    expect(page.locator(FILLED)).to_contain_text(f"engine {asta['engine_cc']:,.0f} cc")
    # The charts come after the headline in the same script run: wait for them, don't race.
    expect(page.locator("[data-testid='stPlotlyChart']")).to_have_count(3)  # waterfall + what-ifs
    expect(page.locator("[data-testid='stDataFrame']")).to_have_count(1)  # comparables
    wait_idle(page)
    assert page.locator("[data-testid='stException']").count() == 0
    specs.locator("summary").click()  # open Specifications for the picture
    expect(page.locator(".st-key-quote_engine_cc input")).to_have_value(f"{asta['engine_cc']:.0f}")
    shoot(page, "quote")

    # A second quote (changed km) must replace the first one as quickly.
    km.fill("120000")
    km.press("Tab")
    record("Quote: changed input → new price shown", get_price(page, shown), 1.5)
    wait_idle(page)

    # A variant that isn't listed is typed in, and priced from a broader level.
    choose(page, "quote_variant", "Asta Special Edition", typed=True)
    expect(page.get_by_text("isn't in the catalogue")).to_be_visible()
    # Its price may equal the listed variant's (it is priced from the model line "Hyundai i20
    # Asta" with the same specs), so wait for the new car's heading, not for a new price.
    price_button(page).click()
    expect(page.locator("h3").filter(has_text="Hyundai i20 Asta Special Edition")).to_have_count(1)
    wait_idle(page)
    expect(page.locator(FILLED)).not_to_contain_text("the variant's typical specs")
    assert page.locator("[data-testid='stException']").count() == 0


def test_api_down_banner(page, dashboard_factory, shoot) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    url = dashboard_factory(api_url=closed, mlflow_url=closed, airflow_url=closed)
    page.goto(url)
    alert = page.locator("[data-testid='stAlert']").filter(has_text="pricing API is down")
    alert.wait_for()
    assert closed in alert.inner_text()
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "quote_api_down")
