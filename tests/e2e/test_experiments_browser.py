"""Experiments page in Chromium: the session's real MLflow (one training run, two trials),
and the evaluation reports of compared runs side by side."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import httpx
import pandas as pd
import pytest
from playwright.sync_api import Page, expect

from carprice.names import REPORT_ARTIFACT
from tests.e2e.conftest import wait_idle

if TYPE_CHECKING:
    from tests.plugins.api_stack import ApiServer, Champion


EXPECT_TIMEOUT_MS = 30_000  # conftest's _expect_timeout: assertions wait this long here


def test_compare_two_runs(
    page: Page, dashboard_url: str, shoot: Callable, record: Callable
) -> None:
    page.goto(f"{dashboard_url}/experiments")
    expect(page.get_by_text("Champion vs the champion it replaced")).to_be_visible(timeout=60_000)
    wait_idle(page)
    expect(page.locator('[data-testid="stMetricValue"]').first).to_contain_text("MAE")
    card = page.locator(".st-key-exp_card_champion")
    expect(card).to_contain_text("on frozen set eval-")  # the frozen set, named
    expect(card).to_contain_text("own test split ₹")  # and its own split beside it
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
    # tuning trials log no evaluation report: said for each, and no report table
    legend = page.locator(".st-key-exp_report_legend")
    expect(legend.get_by_text("no report for this run")).to_have_count(2)
    expect(page.get_by_text("None of the picked runs has an evaluation report")).to_be_visible()
    assert not page.locator(".st-key-exp_report_box").count()
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "experiments")


@pytest.fixture
def reported_runs(api_server: ApiServer) -> tuple[str, list[dict]]:
    """A new experiment on the session's MLflow with two training runs, each logging the
    served model's report the way the pipeline does (`log_table`), the second with 20% less
    error everywhere. Returns (experiment name, the report rows)."""
    from mlflow import MlflowClient

    rows = httpx.get(api_server.url + "/model/report", timeout=30).json()["rows"]
    client = MlflowClient(tracking_uri=api_server.mlflow_url)
    name = f"e2e_reports_{uuid.uuid4().hex[:8]}"
    experiment = client.create_experiment(name)
    for run_name, scale in (("train-before", 1.0), ("train-after", 0.8)):
        run = client.create_run(experiment, run_name=run_name)
        scaled = [r | {k: r[k] * scale for k in ("mae", "mape", "median_ape")} for r in rows]
        client.log_metric(run.info.run_id, "test_mape", 0.12 * scale)  # as a training run
        client.log_table(run.info.run_id, pd.DataFrame(scaled), REPORT_ARTIFACT)
        client.set_terminated(run.info.run_id)
    return name, rows


@pytest.fixture
def short_ttl_dashboard(dashboard_factory: Callable[..., str], api_server: ApiServer) -> str:
    """The session stack's dashboard with MLflow lists cached for 1 s (the default is 30 s),
    so an experiment created by this test is listed even if the page was visited before."""
    return dashboard_factory(
        api_url=api_server.url, mlflow_url=api_server.mlflow_url, cache_ttl_seconds="1"
    )


def _pick(page: Page, text: str) -> None:
    """Add the run whose label contains `text` to the compare list."""
    picker = page.locator(".st-key-exp_compare")
    picker.locator("input").click()
    picker.locator("input").fill(text)
    page.get_by_role("option").filter(has_text=text).first.click()
    page.keyboard.press("Escape")
    wait_idle(page)


def _report_csv(page: Page) -> pd.DataFrame:
    """The side-by-side report as the table's own "Download as CSV" button gives it."""
    table = page.locator(".st-key-exp_report_box [data-testid='stDataFrame']")
    expect(table).to_be_visible()
    table.hover()
    with page.expect_download() as download:
        table.get_by_role("button", name="Download as CSV").click()
    return pd.read_csv(download.value.path(), index_col=0)


def test_reports_side_by_side(
    page: Page,
    short_ttl_dashboard: str,
    champion: Champion,
    reported_runs: tuple[str, list[dict]],
    shoot: Callable,
) -> None:
    """The session training run (its report logged by the real pipeline) against a trial;
    then two training runs with reports: groups as rows, each run's figures and the Δ."""
    # Chromium offers a save-file dialog for "Download as CSV"; without it, a plain download.
    page.add_init_script("delete window.showSaveFilePicker")
    page.goto(f"{short_ttl_dashboard}/experiments")
    expect(page.get_by_text("Champion vs the champion it replaced")).to_be_visible(timeout=60_000)
    wait_idle(page)
    _pick(page, champion.run_id[:8])
    _pick(page, "trial-000")
    legend = page.locator(".st-key-exp_report_legend")
    expect(legend).to_contain_text(f"{champion.run_id[:8]}")
    expect(legend.get_by_text("no report for this run")).to_have_count(1)
    dimension = page.locator(".st-key-exp_report_dimension")
    expect(dimension.get_by_role("radio", name="Seen vs unseen variant")).to_be_checked()
    real = _report_csv(page)
    assert list(real.columns) == ["A rows", "A MAPE", "A MAE"]
    name, rows = reported_runs
    variant = {r["group"]: r for r in rows if r["dimension"] == "variant"}
    assert sorted(real.index) == sorted(variant)
    for group, row in variant.items():  # the pipeline's artifact = what the API serves
        assert real.loc[group, "A rows"] == row["rows"]
        assert real.loc[group, "A MAPE"] == pytest.approx(100 * row["mape"])
        assert real.loc[group, "A MAE"] == pytest.approx(row["mae"])

    experiment = page.locator(".st-key-exp_experiment input")
    experiment.click()
    experiment.fill(name)
    page.get_by_role("option", name=name, exact=True).click()
    wait_idle(page)
    expect(experiment).to_have_value(name)
    expect(page.get_by_text("Pick two or more runs")).to_be_visible(timeout=30_000)
    _pick(page, "train-before")
    _pick(page, "train-after")
    expect(legend).to_contain_text("A = train-before")
    expect(legend).to_contain_text("B = train-after")
    expect(legend.get_by_text("no report for this run")).to_have_count(0)
    side = _report_csv(page)
    assert list(side.columns) == [
        "A rows", "A MAPE", "A MAE", "B rows", "B MAPE", "B MAE", "Δ MAPE B−A", "Δ MAE B−A",
    ]  # fmt: skip
    for group, row in variant.items():
        assert side.loc[group, "A rows"] == side.loc[group, "B rows"] == row["rows"]
        assert side.loc[group, "B MAPE"] == pytest.approx(80 * row["mape"])
        assert side.loc[group, "Δ MAPE B−A"] == pytest.approx(-20 * row["mape"])
        assert side.loc[group, "Δ MAE B−A"] == pytest.approx(-0.2 * row["mae"])

    dimension.get_by_text("Price decile").click()
    wait_idle(page)
    deciles = sorted(r["group"] for r in rows if r["dimension"] == "price decile")
    expect(dimension.get_by_role("radio", name="Price decile")).to_be_checked()
    deadline = time.monotonic() + 30  # until the table is redrawn for the new dimension
    while list((shown := _report_csv(page)).index) != deciles and time.monotonic() < deadline:
        page.wait_for_timeout(500)
    assert list(shown.index) == deciles  # D01 … D10, in price order
    assert not page.locator('[data-testid="stException"]').count()
    shoot(page, "experiments_reports")
