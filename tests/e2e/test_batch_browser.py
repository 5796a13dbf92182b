"""Batch quotes in Chromium: upload data_samples/ CSVs, every row back priced or with a reason."""

from __future__ import annotations

import io
import time
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import wait_idle

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"
BIG = "SYNTHETIC_raw_listings_5000.csv"


def open_batch_page(page, dashboard_url: str) -> None:  # noqa: ANN001
    page.goto(dashboard_url)
    page.get_by_role("link", name="Batch quotes").click()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").wait_for(state="attached")
    wait_idle(page)


def price_file(page, name: str) -> float:  # noqa: ANN001
    """Upload, press Price, wait for the result table; returns seconds from upload to table."""
    t0 = time.perf_counter()
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(SAMPLES / name)
    page.get_by_role("button", name="cars").filter(has_text="Price").click()
    page.locator(".st-key-batch_result").wait_for(state="visible", timeout=120_000)
    wait_idle(page, 120_000)
    return time.perf_counter() - t0


def download(page, label: str) -> bytes:  # noqa: ANN001
    with page.expect_download() as info:
        page.get_by_role("button", name=label).click()
    return Path(info.value.path()).read_bytes()


NAMES_ONLY = "identity_only_cars.csv"  # name, year, km, fuel, seller, transmission, owner


@pytest.mark.parametrize(
    "name", ["raw_listings.csv", "quote_cars.csv", "bad_rows.csv", NAMES_ONLY, BIG]
)
def test_every_row_comes_back(page, dashboard_url: str, name: str, shoot, record) -> None:
    open_batch_page(page, dashboard_url)
    elapsed = price_file(page, name)
    if name == BIG:
        record("Batch: 5,000-row upload → table", elapsed, 10)
    assert page.locator("[data-testid='stException']").count() == 0
    sent = pd.read_csv(SAMPLES / name, dtype=str, keep_default_na=False)
    back = pd.read_csv(io.BytesIO(download(page, "Download CSV")), dtype=str,
                       keep_default_na=False, encoding="utf-8-sig")  # fmt: skip
    assert len(back) == len(sent)
    assert back["row"].astype(int).tolist() == list(range(1, len(sent) + 1))
    priced = pd.to_numeric(back["predicted_price"], errors="coerce").notna()
    reasons = back["error"].str.strip() != ""
    assert (priced ^ reasons).all(), "every row is priced or carries a reason, never both/neither"
    # Same rows in the same order (the API defuses spreadsheet formulas with a leading ').
    assert back["name"].str.removeprefix("'").tolist() == sent["name"].tolist()
    if name == "bad_rows.csv":
        assert reasons.sum() >= 5
        page.get_by_text("Rows that could not be priced").wait_for()
    elif name == BIG:
        assert priced.mean() > 0.95  # a few generated rows are blank or impossible on purpose
    elif name == NAMES_ONLY:  # no specs at all: every row priced, every spec named as assumed
        assert priced.all() and back["filled"].str.contains("engine_cc from").all()
        expect(page.get_by_text("20 of 20 priced cars had specs filled")).to_be_visible()
    workbook = openpyxl.load_workbook(io.BytesIO(download(page, "Download Excel")), read_only=True)
    assert workbook["quotes"].max_row == len(sent) + 1
    if name in ("bad_rows.csv", NAMES_ONLY, BIG):
        shoot(page, f"batch_{Path(name).stem}")


def test_template_download(page, dashboard_url: str) -> None:  # noqa: ANN001
    """Before an upload, a template with the identity columns only is offered."""
    open_batch_page(page, dashboard_url)
    template = pd.read_csv(io.BytesIO(download(page, "Download a template CSV")))
    assert list(template.columns) == [
        "name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner",
    ]  # fmt: skip
    assert len(template) >= 1
