"""Batch quotes in Chromium at a laptop's 1280 px and a phone's 390 px: a priced lot survives
a full reload of the page (its id in the URL, the lot kept by the dashboard's server), its
table writes prices the Indian way (₹4,50,000, never ₹450,000) and still sorts them as
numbers, its figures show whole, and Clear forgets it (a reload then starts empty)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.conftest import wait_idle
from tests.e2e.test_batch_browser import UPLOAD, download, no_trace, press_price, put_file

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
SIZES = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# The western grouping the page must no longer show (₹450,000, ₹1,006,500).
WESTERN = re.compile(r"₹\d{1,3},\d{3},\d{3}|₹\d{3},\d{3}\b")
# Every figure's element whose content is wider than its box (cut off), in the page.
CUT_OFF_JS = """(root) => [...document.querySelectorAll(root + ' [data-testid=stMetricValue],'
    + root + ' [data-testid=stMetricLabel],' + root + ' [data-testid=stMetricDelta]')]
  .flatMap(e => [e, ...e.querySelectorAll('*')])
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth)
  .map(e => `${e.innerText} (${e.scrollWidth} > ${e.clientWidth} px)`)"""
# The grid is a canvas: what it draws is recorded from fillText (DRAWN_JS, run before the
# page's scripts); Glide's accessible copy of the cells on screen holds their raw values.
DRAWN_JS = """(() => {
  const fill = CanvasRenderingContext2D.prototype.fillText;
  window.__drawn = new Set();
  CanvasRenderingContext2D.prototype.fillText = function (text, ...rest) {
    window.__drawn.add(String(text));
    return fill.call(this, text, ...rest);
  };
})()"""
CELLS_JS = """(key) => [...document.querySelectorAll(`.st-key-${key} [role=gridcell]`)]
  .map(td => td.textContent)"""
HEADERS_JS = """(key) => [...document.querySelectorAll(`.st-key-${key} [role=columnheader]`)]
  .map(th => th.textContent)"""


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


def lot_in_url(page: Page) -> str | None:
    return (parse_qs(urlparse(page.url).query).get("lot") or [None])[0]


def cut_off(page: Page, root: str = "[data-testid=stMain]") -> list[str]:
    return page.evaluate(CUT_OFF_JS, root)


def snap(page: Page, shoot, name: str) -> None:  # noqa: ANN001
    """A full-page screenshot, then this test's viewport again (`shoot` leaves 1440 px)."""
    size = dict(page.viewport_size or {})
    shoot(page, name)
    page.set_viewport_size(size)
    page.wait_for_timeout(500)


def price_cells(page: Page) -> list[str]:
    """The drawn cells of the lot table's Price column (the rows on screen)."""
    headers = page.evaluate(HEADERS_JS, "batch_result")
    cells = page.evaluate(CELLS_JS, "batch_result")
    if "Price" not in headers or not cells:  # not drawn yet
        return []
    width = len(headers)
    column = headers.index("Price")
    return [cells[i] for i in range(column, len(cells), width)]


def test_a_priced_lot_survives_a_reload_in_indian_rupees(
    sized: Page, dashboard_url: str, shoot
) -> None:  # noqa: ANN001
    page = sized
    width = page.viewport_size["width"]
    page.goto(f"{dashboard_url}/batch_quotes")
    page.locator(UPLOAD).wait_for(state="attached")
    wait_idle(page)
    name = "raw_listings.csv"
    put_file(page, name, (SAMPLES / name).read_bytes())
    press_price(page, name)
    lot_id = lot_in_url(page)
    assert lot_id, f"no lot id in the URL: {page.url}"
    check_the_lot_as_seen(page, width)
    snap(page, shoot, f"batch_lot_{width}px")

    page.reload()
    page.locator(UPLOAD).wait_for(state="attached")
    wait_idle(page)
    expect(page.get_by_role("heading", name=f"Priced lot: {name}")).to_be_visible()
    expect(page.locator(".st-key-batch_result")).to_be_visible()
    assert lot_in_url(page) == lot_id
    check_the_lot_as_seen(page, width)
    assert len(download(page, "Download CSV").splitlines()) == 21  # every row, after reload
    no_trace(page, "after a reload")
    snap(page, shoot, f"batch_lot_reloaded_{width}px")

    page.get_by_role("button", name="Clear").first.click()
    wait_idle(page)
    expect(page.get_by_role("heading", name=f"Priced lot: {name}")).to_have_count(0)
    assert lot_in_url(page) is None
    page.reload()
    page.locator(UPLOAD).wait_for(state="attached")
    wait_idle(page)
    expect(page.get_by_text("Upload a file to price")).to_be_visible()
    expect(page.get_by_role("heading", name=f"Priced lot: {name}")).to_have_count(0)
    no_trace(page, "after Clear and a reload")


def check_the_lot_as_seen(page: Page, width: int) -> None:
    """Figures whole, the lot value in rupees, the table's prices Indian and sortable."""
    summary = page.locator("[data-testid=stMetric]").filter(has_text="Lot value")
    expect(summary.locator("[data-testid=stMetricValue]")).to_contain_text("₹")
    assert cut_off(page) == [], f"cut off at {width} px: {cut_off(page)}"
    box = summary.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1
    grid = page.locator(".st-key-batch_result [data-testid=stDataFrame]")
    grid.scroll_into_view_if_needed()
    expect(grid).to_be_visible()
    raw: list[str] = []
    for _ in range(20):  # the grid draws (and fills its accessible copy) after it appears
        raw = [c for c in price_cells(page) if c]
        if raw:
            break
        page.wait_for_timeout(500)
    assert raw, "no price in the lot table"
    assert any(float(c) >= 100_000 for c in raw), "expected a price of a lakh or more"
    drawn = set(page.evaluate("() => [...window.__drawn]"))
    for value in raw:  # each price on screen is drawn in Indian grouping
        assert grouped(float(value)) in drawn, (value, sorted(drawn)[:40])
    assert not [t for t in drawn if WESTERN.search(t)], sorted(drawn)


def grouped(rupees: float) -> str:
    """₹ and Indian digit grouping, written independently of the dashboard: ₹10,06,500."""
    digits = str(round(rupees))
    head, tail = digits[:-3], digits[-3:]
    pairs = [head[max(0, i - 2) : i] for i in range(len(head), 0, -2)][::-1]
    return "₹" + ",".join([*pairs, tail] if head else [tail])
