"""Quote page in Chromium: quote a car by its name alone (brand → model → variant pickers)
against the real API, measure submit → price; then what a salesperson sees at a laptop's
1280 px and a phone's 390 px: every figure whole, rupees grouped the Indian way, a what-if
price drop that reads as a drop, and a reason next to a field that blocks the quote."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from carprice import names
from dashboard.quote_answer import number
from tests.e2e.conftest import SCREENSHOTS, wait_idle
from tests.plugins.api_stack import ApiServer, served_version, wait_for
from tests.servers import free_port

PRICE = ".st-key-quote_price [data-testid='stMetricValue']"
FILLED = ".st-key-quote_filled"
WHATIF = ".st-key-quote_whatif_price"
LAPTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# A headline figure: ₹85,000 · ₹10.07 lakh · ₹1.25 crore; an exact one: ₹10,06,500.
HEADLINE = re.compile(r"^₹(\d{1,2},)?\d{1,3}$|^₹\d{1,2}\.\d\d lakh$|^₹[\d,]+\.\d\d crore$")
# Every element of a figure (metric values, labels, deltas; the form's year and km) whose
# content is wider than its box, i.e. cut off or hidden; evaluated in the page.
CUT_OFF_JS = """() => [...document.querySelectorAll(
    '[data-testid=stMetricValue], [data-testid=stMetricLabel], [data-testid=stMetricDelta],'
    + ' .st-key-quote_year input, .st-key-quote_km_driven input')]
  .flatMap(e => [e, ...e.querySelectorAll('*')])
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth)
  .map(e => `${e.closest('[data-testid=stMetric]')?.innerText ?? e.value} `
            + `(${e.scrollWidth} > ${e.clientWidth} px)`)"""


EXPECT_TIMEOUT_MS = 30_000  # conftest's _expect_timeout: assertions wait this long here


def grouped(rupees: float) -> str:
    """₹ and Indian digit grouping, written independently of the dashboard: ₹10,06,500."""
    digits = str(round(rupees))
    head, tail = digits[:-3], digits[-3:]
    pairs = [head[max(0, i - 2) : i] for i in range(len(head), 0, -2)][::-1]
    return "₹" + ",".join([*pairs, tail] if head else [tail])


def cut_off(page) -> list[str]:  # noqa: ANN001
    return page.evaluate(CUT_OFF_JS)


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
    # The price compared below must come from the version the page's form was built for.
    start_on_champion(page, dashboard_url, api_server)
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
    # Its power, not only its engine: the i20's own typical engine is the same 1,197 cc, and
    # a price asked before the variant's rerun has landed sends the model's specs as typed.
    specs = page.locator(".st-key-quote_specs")
    expect(specs).to_contain_text(f"{asta['engine_cc']:,.0f} cc")
    expect(specs).to_contain_text(f"{number(asta['max_power_bhp'])} bhp")
    wait_idle(page)
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
    assert page.get_by_text(grouped(expected["price"])).count() == 1, (caption, car)
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


def start_on_champion(page, dashboard_url: str, api_server: ApiServer) -> None:  # noqa: ANN001
    """Open the Quote page once the API serves the registry's champion (earlier tests move
    it) and the page's form was built for it, and wait for the form.

    The dashboard keeps the API's health for 5 s, so a page opened just after a swap is built
    from the previous version's choices and defaults, which can differ from the example car
    the test prices through the API: open it again until its caption names the champion."""
    from mlflow import MlflowClient

    registry = MlflowClient(api_server.mlflow_url, registry_uri=api_server.mlflow_url)
    champion = registry.get_model_version_by_alias(names.MODEL_NAME, names.CHAMPION).version
    wait_for(lambda: served_version(api_server.url) == str(champion), timeout=90)
    built_for = re.compile(rf"Prices from model v{champion}\b")
    deadline = time.monotonic() + 60
    while True:
        page.goto(dashboard_url)
        price_button(page).wait_for()
        wait_idle(page)
        if page.get_by_text(built_for).count() or time.monotonic() > deadline:
            break
        page.wait_for_timeout(2_000)
    expect(page.get_by_text(built_for)).to_have_count(1)


def type_number(page, key: str, text: str) -> None:  # noqa: ANN001
    field = page.locator(f".st-key-{key} input")
    field.fill(text)
    field.press("Tab")


def test_figures_show_whole_in_indian_rupees_at_laptop_and_phone(
    page, dashboard_url: str, api_server: ApiServer, shoot
) -> None:
    """One page, two widths: the headline, the range and the what-if figure are never cut off,
    money is grouped the Indian way, and a what-if price drop reads as a drop."""
    page.set_viewport_size(LAPTOP)
    start_on_champion(page, dashboard_url, api_server)
    type_number(page, "quote_km_driven", "20000")  # low km: more km in the what-if costs money
    get_price(page)
    wait_idle(page)
    expect(page.locator("[data-testid='stPlotlyChart']")).to_have_count(3)
    price = page.locator(PRICE).inner_text().strip()
    assert HEADLINE.match(price), price
    low_high = page.locator(".st-key-quote_range [data-testid='stMetricValue']").inner_text()
    assert re.fullmatch(r"₹[\d.,]+( lakh| crore)? – ₹[\d.,]+ (lakh|crore)|₹[\d,]+ – ₹[\d,]+",
                        low_high.strip()), low_high  # fmt: skip
    caption = page.get_by_text("Model version").first.inner_text()
    exact = re.search(r"₹[\d,]+", caption).group(0)
    assert re.fullmatch(r"₹(\d{1,2},)*\d{1,2},\d{3}|₹\d{1,3}", exact), caption  # 10,06,500
    assert exact == grouped(float(exact[1:].replace(",", "")))
    assert cut_off(page) == []

    # The what-if: the most km and the oldest year the catalogue lists: a cheaper car.
    for key, end in (("quote_whatif_km", "End"), ("quote_whatif_year", "Home")):
        page.locator(f".st-key-{key} input[type=range]").focus()
        page.keyboard.press(end)
        wait_idle(page)
    delta = page.locator(f"{WHATIF} [data-testid='stMetricDelta']")
    expect(delta).to_contain_text("−₹")
    assert re.fullmatch(r"−₹(\d{1,2},)*\d{1,3}", delta.inner_text().strip()), delta.inner_text()
    expect(page.locator(f"{WHATIF} [data-testid='stMetricDeltaIcon-Down']")).to_have_count(1)
    expect(page.locator(f"{WHATIF} [data-testid='stMetricDeltaIcon-Up']")).to_have_count(0)
    red, green = page.evaluate(
        "(sel) => getComputedStyle(document.querySelector(sel)).color.match(/\\d+/g).map(Number)",
        f"{WHATIF} [data-testid='stMetricDelta']",
    )[:2]
    assert red > green, "a drop is shown in red"
    whatif_price = page.locator(f"{WHATIF} [data-testid='stMetricValue']").inner_text().strip()
    assert HEADLINE.match(whatif_price), whatif_price
    assert cut_off(page) == []
    shoot(page, "quote_laptop_whatif_drop")

    # The same quote on a phone.
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)  # let the columns stack
    expect(page.locator(PRICE)).to_have_text(price)
    assert cut_off(page) == []
    box = page.locator(PRICE).bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "quote_phone.png"))  # this viewport, not full page


def test_a_blocked_quote_says_why_next_to_the_field(
    page, dashboard_url: str, api_server: ApiServer
) -> None:
    """On a phone: an empty year and an impossible km give no price and a reason under each
    field; put right, the car is priced (and the figures fit the phone)."""
    page.set_viewport_size(PHONE)
    start_on_champion(page, dashboard_url, api_server)
    type_number(page, "quote_year", "")
    type_number(page, "quote_km_driven", "5000000")
    price_button(page).click()
    wait_idle(page)
    year_problem = page.locator(".st-key-quote_year_problem")
    expect(year_problem).to_have_text(re.compile("Enter the year of registration"))
    km_problem = page.locator(".st-key-quote_km_driven_problem")
    expect(km_problem).to_contain_text("50,00,000 km isn't possible")
    expect(km_problem).to_contain_text("10,00,000 km")
    # Next to the field: right under its input.
    field = page.locator(".st-key-quote_year input").bounding_box()
    message = year_problem.bounding_box()
    assert field and message and 0 <= message["y"] - (field["y"] + field["height"]) < 60
    expect(page.locator(PRICE)).to_have_count(0)
    expect(page.get_by_text("No price yet").first).to_be_visible()

    # An out-of-range year says why too; at a laptop's width as well.
    page.set_viewport_size(LAPTOP)
    type_number(page, "quote_year", "1900")
    type_number(page, "quote_km_driven", "60000")
    price_button(page).click()
    wait_idle(page)
    expect(year_problem).to_contain_text("1900 isn't possible")
    expect(page.locator(".st-key-quote_km_driven_problem")).to_have_count(0)
    expect(page.locator(PRICE)).to_have_count(0)

    type_number(page, "quote_year", "2015")
    get_price(page)
    wait_idle(page)
    expect(year_problem).to_have_count(0)
    assert HEADLINE.match(page.locator(PRICE).inner_text().strip())
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(500)
    assert cut_off(page) == []
