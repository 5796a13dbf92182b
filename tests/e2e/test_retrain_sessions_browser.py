"""Pipelines' *Retrain now* in Chromium, at a laptop's 1280 px and a phone's 390 px, against
the AppTest tests' fake Airflow (tests/dashboard/test_pipelines.py) served on a loopback
port, in local mode (no identity provider: the one person at this machine is operator): the
form says the run will record "local" as who asked, *Retrain* triggers one run whose conf
carries requested_by=local, and a second session opening Pipelines sees the running
retrain, who asked, its progress, then its outcome (what the run's promote task recorded),
as the tab that pressed *Retrain* does. Text shows whole at both widths. (Signed-in roles,
science refused and an operator's name recorded: tests/e2e/test_sign_in_browser.py.)

The fake lets each width press *Retrain* for a few seconds' work;
the real Airflow's run, followed live at both widths, is tests/e2e/test_pipelines_browser.py.
MLflow is the session's (read only: the champion the page snapshots before and after).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.dashboard import fake_http
from tests.dashboard.test_pipelines import (
    AIRFLOW_PASSWORD,
    OUTCOME,
    RUN_PATH,
    TASKS,
    FakeAirflow,
)
from tests.e2e.conftest import wait_idle
from tests.e2e.test_batch_reload_browser import SIZES, snap
from tests.e2e.test_pipelines_browser import outcome_line, whole
from tests.plugins.api_stack import ApiServer


@dataclass
class HeldAirflow(FakeAirflow):
    """The fake Airflow, whose triggered run stays running (2 of its tasks done) while `held`;
    released, it advances one task per poll to success, as FakeAirflow's does."""

    held: bool = True

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if self.held and self.triggered and request.url.path == RUN_PATH:
            self.requests.append(request)
            self.polls = max(self.polls, 2)
            return httpx.Response(200, json=self._run(self._state()))
        return super().__call__(request)


class Switch:
    """One loopback server (so one dashboard) for the tests; each test sets its own fake."""

    def __init__(self) -> None:
        self.fake = HeldAirflow(outcome=OUTCOME)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.fake(request)


EXPECT_TIMEOUT_MS = 60_000  # conftest's _expect_timeout: assertions wait this long here


@pytest.fixture(scope="module")
def switch() -> Iterator[tuple[Switch, str]]:
    handler = Switch()
    server = fake_http.serve(handler)
    try:
        yield handler, server.url
    finally:
        fake_http.RUNNING.remove(server)
        server.stop()
    assert not server.errors, server.errors  # an assertion inside the fake fails the test


@pytest.fixture
def airflow(switch: tuple[Switch, str]) -> HeldAirflow:
    """A fresh fake Airflow (no run yet) behind the module's server."""
    switch[0].fake = HeldAirflow(outcome=OUTCOME)
    return switch[0].fake


@pytest.fixture(params=list(SIZES))
def width(request: pytest.FixtureRequest) -> str:
    return request.param


def new_page(browser: Browser, size: str) -> Page:
    context = browser.new_context(viewport=SIZES[size])
    context.set_default_timeout(60_000)
    return context.new_page()


LOCAL = {"requested_by": "local"}


def test_retrain_records_who_asked_and_the_run_is_seen_by_another_session(
    width: str,
    browser: Browser,
    airflow: HeldAirflow,
    switch: tuple[Switch, str],
    api_server: ApiServer,
    dashboard_factory: Callable[..., str],
    shoot: Callable,
) -> None:
    url = dashboard_factory(
        api_url=api_server.url, mlflow_url=api_server.mlflow_url, airflow_url=switch[1],
        airflow_password=AIRFLOW_PASSWORD,
        pipeline_poll_seconds="1", cache_ttl_seconds="1",
    )  # fmt: skip
    page = new_page(browser, width)
    other = None
    try:
        page.goto(f"{url}/pipelines")
        expect(page.get_by_role("heading", name="Retrain the price model")).to_be_visible()
        wait_idle(page)
        expect(page.get_by_text("Latest retrain")).to_have_count(0)  # nothing run yet

        expect(page.get_by_text("Local mode")).to_be_visible()  # the sidebar's label
        expect(page.get_by_text("The run records that local asked for it.")).to_be_visible()
        expect(page.get_by_text("Operator password")).to_have_count(0)  # no shared password
        assert airflow.triggered == []
        whole(page)

        page.locator(".st-key-pipe_trigger button").click()
        main = page.locator("[data-testid='stMain']")
        expect(main).to_contain_text(re.compile(r"manual__1\s+is running"))
        expect(main).to_contain_text("Requested by local")
        assert airflow.triggered == [LOCAL]
        assert airflow.notes == ["Requested by local from the CarPrice dashboard"]
        progress = f"2 of {len(TASKS)} tasks finished"
        expect(page.locator("[data-testid=stProgress]")).to_contain_text(progress)
        whole(page)

        # Another session, opened while the run goes on, sees it and its progress.
        other = new_page(browser, width)
        other.goto(f"{url}/pipelines")
        seen = other.locator("[data-testid='stMain']")
        expect(other.get_by_text("Latest retrain")).to_be_visible()
        expect(seen).to_contain_text(re.compile(r"manual__1\s+is running"))
        expect(other.locator("[data-testid=stProgress]")).to_contain_text(progress)
        expect(seen).to_contain_text(re.compile(r"ingest\s+—\s+success"))
        expect(seen).to_contain_text("Requested by local")
        whole(other)
        snap(other, shoot, f"retrain_other_running_{SIZES[width]['width']}px")

        airflow.held = False  # the run goes on to its end
        for session in (page, other):
            expect(session.get_by_text("The run succeeded")).to_be_visible()
            expect(session.locator("[data-testid='stMain']")).to_contain_text(
                re.compile(r"manual__1\s+is success")
            )
            expect(outcome_line(session)).to_be_visible()
            whole(session)
        # The session that did not press Retrain reads the outcome the run recorded.
        expect(seen).to_contain_text("Champion unchanged: v1 stays live.")
        expect(seen).to_contain_text("within noise")
        assert airflow.triggered == [LOCAL]  # one run, whoever watched it
        for session in (page, other):
            assert session.locator("[data-testid='stException']").count() == 0
        snap(other, shoot, f"retrain_other_outcome_{SIZES[width]['width']}px")
    finally:
        for session in (page, other):
            if session is not None:
                session.context.close()
