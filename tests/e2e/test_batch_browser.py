"""Batch quotes in Chromium against the real API: awkward files end in a priced table or a
clear message (never a traceback), samples come back row for row in both downloads, a priced
lot survives a visit to another page, and how long a 5,000-row lot takes (measured, printed).

One browser page is shared by the module (uploads replace each other), to keep it quick.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from carprice.sheets import read_table
from tests.dashboard.awkward_files import CORPUS
from tests.e2e.conftest import VIEWPORT, wait_idle

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
REAL_DATA = Path(os.environ.get("CARPRICE_RAW_DATA", "../shared/data/car_details_v3.csv"))
UPLOAD = "[data-testid='stFileUploaderDropzoneInput']"
TRACE = "[data-testid='stException']"
PRICE = re.compile(r"^Price [\d,]+ cars$")
SLOW = 180_000  # ms: a loaded machine prices 5,000 rows in well under this


EXPECT_TIMEOUT_MS = 60_000  # conftest's _expect_timeout: assertions wait this long here


@pytest.fixture(scope="module")
def batch_page(browser, dashboard_url: str) -> Iterator[Page]:  # noqa: ANN001
    """One tab on Batch quotes for the whole module."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(60_000)
    page = context.new_page()
    open_batch_page(page, dashboard_url)
    try:
        yield page
    finally:
        context.close()


def open_batch_page(page: Page, dashboard_url: str) -> None:
    page.goto(dashboard_url)
    page.get_by_role("link", name="Batch quotes").click()
    page.locator(UPLOAD).wait_for(state="attached")
    wait_idle(page)


def put_file(page: Page, name: str, content: bytes, readable: bool = True) -> None:
    """Drop `content` as file `name` into the uploader (replacing any file there) and wait
    until the page speaks of this file: its preview, or why it can't be read. (The upload
    reaches the server before the rerun starts, so waiting for an idle page isn't enough.)"""
    mime = "application/octet-stream" if name.endswith(".xlsx") else "text/csv"
    page.locator(UPLOAD).set_input_files({"name": name, "mimeType": mime, "buffer": content})
    if readable:
        shown = page.locator("[data-testid='stCaptionContainer']").filter(has_text=f"{name}: ")
    else:
        shown = page.locator("[data-testid='stAlert']").filter(has_text=f"{name} can't be read")
    shown.wait_for(timeout=SLOW)
    wait_idle(page, SLOW)


def press_price(page: Page, name: str) -> float:
    """Press Price and wait for this file's priced table; seconds from the click."""
    button = page.get_by_role("button", name=PRICE)
    expect(button).to_be_visible()
    if button.is_disabled():  # this very file was the last lot priced: forget it first
        page.get_by_role("button", name="Clear").first.click()
        wait_idle(page)
    expect(button).to_be_enabled()
    t0 = time.perf_counter()
    button.click()
    page.get_by_role("heading", name=f"Priced lot: {name}").wait_for(timeout=SLOW)
    page.locator(".st-key-batch_result").wait_for(state="visible", timeout=SLOW)
    elapsed = time.perf_counter() - t0
    wait_idle(page, SLOW)
    return elapsed


def download(page: Page, label: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("button", name=label).first.click()
    return Path(info.value.path()).read_bytes()


def no_trace(page: Page, what: str) -> None:
    assert page.locator(TRACE).count() == 0, f"{what}: {page.locator(TRACE).first.inner_text()}"
    assert "Traceback" not in page.locator("[data-testid='stMain']").inner_text(), what


def test_awkward_files_end_in_a_table_or_a_message(batch_page: Page, shoot) -> None:  # noqa: ANN001
    page = batch_page
    for name, (content, expected) in CORPUS.items():
        put_file(page, name, content, readable=expected == "table")
        no_trace(page, name)
        if expected == "message":
            expect(page.get_by_role("button", name=PRICE)).to_have_count(0)
            continue
        press_price(page, name)
        no_trace(page, name)
        if name.startswith("semicolon"):
            shoot(page, "batch_semicolon_priced")
            check_semicolon_downloads(page, content)


def check_semicolon_downloads(page: Page, content: bytes) -> None:
    """Semicolon in, semicolon out: prices are numbers, the user's columns come back as sent."""
    sent = read_table(content, "sent.csv")
    back = read_table(download(page, "Download CSV"), "back.csv")
    assert back.dialect.delimiter == ";" and back.dialect.encoding == "utf-8-sig"
    frame = back.frame
    assert back.headers[: len(sent.headers)] == sent.headers
    assert frame.iloc[:, : len(sent.headers)].equals(sent.frame)
    prices = pd.to_numeric(frame["Price (Rs)"], errors="coerce")
    reasons = frame["Reason not priced"].str.strip() != ""
    assert (prices.notna() ^ reasons).all() and prices.notna().sum() >= len(frame) // 2
    assert (prices.dropna() > 10_000).all()
    book = openpyxl.load_workbook(io.BytesIO(download(page, "Download Excel")))
    ws = book["quotes"]
    header = [c.value for c in ws[1]]
    years = [ws.cell(r, header.index("year") + 1).value for r in range(2, ws.max_row + 1)]
    assert ws.max_row == len(frame) + 1 and all(isinstance(y, int) for y in years)
    assert ws.freeze_panes == "A2"


@pytest.mark.parametrize(
    "name", ["raw_listings.csv", "quote_cars.csv", "bad_rows.csv", "identity_only_cars.csv"]
)
def test_samples_come_back_row_for_row(batch_page: Page, name: str) -> None:
    page = batch_page
    content = (SAMPLES / name).read_bytes()
    put_file(page, name, content)
    press_price(page, name)
    no_trace(page, name)
    sent = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    back = pd.read_csv(io.BytesIO(download(page, "Download CSV")), dtype=str,
                       keep_default_na=False, encoding="utf-8-sig")  # fmt: skip
    assert list(back.columns[: len(sent.columns)]) == list(sent.columns)
    assert len(back) == len(sent)
    # Same rows in the same order (formula-like text defused with a leading ').
    assert back["name"].str.removeprefix("'").tolist() == sent["name"].tolist()
    priced = pd.to_numeric(back["Price (Rs)"], errors="coerce").notna()
    reasons = back["Reason not priced"].str.strip() != ""
    assert (priced ^ reasons).all(), "every row is priced or carries a reason, never both/neither"
    if name == "bad_rows.csv":
        assert reasons.sum() >= 5
        page.get_by_text("Rows that could not be priced").wait_for()
    workbook = openpyxl.load_workbook(io.BytesIO(download(page, "Download Excel")), read_only=True)
    assert workbook["quotes"].max_row == len(sent) + 1


def test_a_priced_lot_survives_another_page(batch_page: Page) -> None:
    page = batch_page
    put_file(page, "raw_listings.csv", (SAMPLES / "raw_listings.csv").read_bytes())
    press_price(page, "raw_listings.csv")
    page.get_by_role("link", name="Quote", exact=True).click()
    wait_idle(page)
    page.get_by_role("link", name="Batch quotes").click()
    wait_idle(page)
    expect(page.get_by_role("heading", name="Priced lot: raw_listings.csv")).to_be_visible()
    expect(page.locator(".st-key-batch_result")).to_be_visible()
    assert len(download(page, "Download CSV").splitlines()) == 21
    no_trace(page, "back on Batch quotes")


def test_template_download(batch_page: Page) -> None:
    template = pd.read_csv(io.BytesIO(download(batch_page, "Download a template CSV")))
    assert list(template.columns) == [
        "name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner",
    ]  # fmt: skip
    assert len(template) >= 1
    assert "data_samples" not in batch_page.locator("[data-testid='stMain']").inner_text()


def five_thousand_rows() -> tuple[str, bytes]:
    """5,000 listings saved as Excel does in a semicolon locale: the real CarDekho file when
    it is next to the checkout, else the synthetic sample."""
    if REAL_DATA.is_file():
        frame = pd.read_csv(REAL_DATA, dtype=str, keep_default_na=False).head(5000)
        name = "cardekho_5000_semicolon.csv"
    else:
        frame = pd.read_csv(SAMPLES / "SYNTHETIC_raw_listings_5000.csv", dtype=str,
                            keep_default_na=False)  # fmt: skip
        name = "synthetic_5000_semicolon.csv"
    return name, codecs.BOM_UTF8 + frame.to_csv(index=False, sep=";").encode()


def test_five_thousand_rows_time_to_table(batch_page: Page, record, shoot) -> None:  # noqa: ANN001
    """Measured, not asserted: seconds from pressing Price to the priced table."""
    page = batch_page
    name, content = five_thousand_rows()
    t0 = time.perf_counter()
    put_file(page, name, content)
    record(f"Batch: {name} upload → preview and columns", time.perf_counter() - t0)
    expect(page.get_by_role("button", name="Price 5,000 cars")).to_be_visible()
    elapsed = press_price(page, name)
    record(f"Batch: {name} Price → priced table", elapsed)
    no_trace(page, name)
    shoot(page, "batch_5000")
