"""Pipelines' Approve and Roll back buttons in Chromium, at a laptop's 1280 px and a phone's
390 px, against the session's real MLflow registry, in local mode (operator, recorded as
"local"; signed-in roles: tests/e2e/test_sign_in_browser.py): there is no password to type;
approving makes the waiting challenger champion; a rollback needs a reason and puts the
previous champion back; each is recorded on the versions with who did it, as MLflow says.

Airflow only has to be there for the page to open (its DAG list comes first); the retrain's
real-Airflow path is tests/e2e/test_pipelines_browser.py, so here Airflow is the AppTest
tests' fake (tests/dashboard/test_pipelines.py), served on a loopback port. The registered
model is this test's own, so the session's champion (`car_price`) is never touched.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from carprice.names import CHALLENGER, CHAMPION
from tests.dashboard import fake_http
from tests.dashboard.test_pipelines import AIRFLOW_PASSWORD, FakeAirflow
from tests.e2e.conftest import wait_idle
from tests.plugins.api_stack import ApiServer

SIZES = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
# Buttons, labels and lines of the two forms whose text is wider than their box (cut off).
CUT_OFF_JS = """() => [...document.querySelectorAll('[data-testid=stForm] *')]
  .filter(e => ['BUTTON', 'LABEL', 'P'].includes(e.tagName))
  .flatMap(e => [e, ...e.querySelectorAll('*')])
  .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth)
  .map(e => `${e.innerText} (${e.scrollWidth} > ${e.clientWidth} px)`)"""


EXPECT_TIMEOUT_MS = 60_000  # conftest's _expect_timeout: assertions wait this long here


@pytest.fixture(scope="module")
def fake_airflow_url() -> Iterator[str]:
    server = fake_http.serve(FakeAirflow())
    try:
        yield server.url
    finally:
        fake_http.RUNNING.remove(server)
        server.stop()
    assert not server.errors, server.errors  # an assertion inside the fake fails the test


@pytest.fixture(params=list(SIZES))
def sized(request: pytest.FixtureRequest, browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=SIZES[request.param])
    context.set_default_timeout(60_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def registry_with_a_waiting_challenger(mlflow_url: str) -> str:
    """A model of its own: v1 then v2 went live through the gate, v3 awaits approval."""
    from mlflow import MlflowClient

    from carprice import registry

    model = f"e2e_registry_{uuid.uuid4().hex[:8]}"
    client = MlflowClient(mlflow_url, registry_uri=mlflow_url)
    experiment = client.create_experiment(model)
    client.create_registered_model(model)
    for _ in range(3):
        run = client.create_run(experiment).info.run_id
        client.create_model_version(model, f"runs:/{run}/model", run_id=run)
    registry._make_champion(client, model, "1", "gate", "no champion yet", None)
    registry._make_champion(client, model, "2", "gate", "beats the champion beyond noise", "1")
    client.set_model_version_tag(model, "3", "gate.awaiting_approval", "true")
    client.set_model_version_tag(model, "3", "gate.reason", "beats the champion beyond noise")
    client.set_registered_model_alias(model, CHALLENGER, "3")
    return model


def form(page: Page, action: str):  # noqa: ANN201 - a Locator
    """The approve or rollback form (a form's key is not on its element; its fields' are)."""
    return page.locator("[data-testid=stForm]").filter(
        has=page.locator(f".st-key-pipe_{action}_reason")
    )


def submit(page: Page, action: str, reason: str, button: str) -> None:
    box = form(page, action)
    box.locator(f".st-key-pipe_{action}_reason input").fill(reason)
    box.get_by_role("button", name=button).click()
    wait_idle(page)


def test_approve_then_roll_back(
    sized: Page,
    api_server: ApiServer,
    dashboard_factory: Callable[..., str],
    fake_airflow_url: str,
    shoot: Callable,
) -> None:
    from mlflow import MlflowClient

    page = sized
    width = page.viewport_size["width"]
    model = registry_with_a_waiting_challenger(api_server.mlflow_url)
    client = MlflowClient(api_server.mlflow_url, registry_uri=api_server.mlflow_url)
    url = dashboard_factory(
        api_url=api_server.url, mlflow_url=api_server.mlflow_url, airflow_url=fake_airflow_url,
        airflow_password=AIRFLOW_PASSWORD, model_name=model,
    )  # fmt: skip
    page.goto(f"{url}/pipelines")
    expect(page.get_by_role("heading", name="Champion and challenger")).to_be_visible()
    wait_idle(page)
    expect(page.get_by_text("Challenger v3", exact=True)).to_be_visible()
    approve = form(page, "approve")
    expect(approve.get_by_role("button", name="Approve v3")).to_be_visible()
    approve.scroll_into_view_if_needed()
    assert page.evaluate(CUT_OFF_JS) == [], f"cut off at {width} px"
    box = approve.get_by_role("button", name="Approve v3").bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width + 1

    expect(approve.get_by_text("Operator password")).to_have_count(0)  # no shared password
    submit(page, "approve", "better on last month's sales", "Approve v3")
    expect(page.get_by_text("v3 is champion now (was v2).")).to_be_visible()
    assert client.get_model_version_by_alias(model, CHAMPION).version == "3"
    tags = client.get_model_version(model, "3").tags
    assert tags["carprice.promotion"] == "approval" and tags["carprice.replaced"] == "2"
    assert tags["carprice.promotion_reason"] == "approved by local: better on last month's sales"
    expect(form(page, "approve")).to_have_count(0)  # nothing waits for approval now
    rollback = form(page, "rollback")
    expect(rollback.get_by_role("button", name="Roll back to v2")).to_be_visible()
    rollback.scroll_into_view_if_needed()
    assert page.evaluate(CUT_OFF_JS) == [], f"cut off at {width} px"
    size = dict(page.viewport_size or {})
    shoot(page, f"pipelines_registry_{width}px")
    page.set_viewport_size(size)  # `shoot` leaves the page at 1440 px

    submit(page, "rollback", "", "Roll back to v2")  # a reason is required
    expect(page.get_by_text("say why you roll back")).to_be_visible()
    assert client.get_model_version_by_alias(model, CHAMPION).version == "3"
    submit(page, "rollback", "SUVs quoted 20% low", "Roll back to v2")
    expect(page.get_by_text("v2 is champion again (v3 off).")).to_be_visible()
    assert client.get_model_version_by_alias(model, CHAMPION).version == "2"
    assert client.get_model_version(model, "3").tags["carprice.rolled_back"] == (
        "rollback by local: SUVs quoted 20% low"
    )
    assert page.locator("[data-testid='stException']").count() == 0
