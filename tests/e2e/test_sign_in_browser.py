"""Sign-in in Chromium: the whole OIDC redirect flow against a real provider process.

`oidc-provider-mock` (PyPI) runs on a free port with one predefined user per role (the role in
the `carprice_role` claim of the ID token) and one without any role. The dashboard is started
as `make up` starts it (`python -m dashboard.serve`, which hands the CARPRICE_DASHBOARD_OIDC_*
settings to Streamlit in a private file) against the session's real API and MLflow and the
AppTest tests' fake Airflow. For each person: Sign in → the provider's page → pick the user →
back on the dashboard, signed in, with the navigation of the role:

* sales: Quote and Batch quotes only; the other pages can't be opened by URL either;
* science: also Model, Experiments, Monitoring and Pipelines, where there is nothing to press:
  no retrain, no approve, no rollback; nothing reaches Airflow;
* operator: retrains from Pipelines; the run's conf and note name them (requested_by) and the
  page says who asked; then signs out through the provider's end-session page;
* no role: told whom to ask, no page at all.

Neither the client secret nor the cookie secret is on any process's command line.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from stack.health import wait_http
from stack.ports import free_port
from stack.process import ManagedProcess
from tests.dashboard import fake_http
from tests.dashboard.test_pipelines import AIRFLOW_PASSWORD, TASKS, FakeAirflow
from tests.e2e.conftest import wait_idle
from tests.plugins.api_stack import ApiServer

pytestmark = pytest.mark.timeout(900)
CLIENT_SECRET = "e2e-Client-Secret-4Hq"
COOKIE_SECRET = "e2e-Cookie-Secret-" + "z" * 32
USERS = {
    "sam": {"email": "sam@corp.test", "name": "Sam Sales", "carprice_role": "sales"},
    "sci": {"email": "sci@corp.test", "name": "Sci Entist", "carprice_role": "science"},
    "opal": {"email": "opal@corp.test", "name": "Opal Operator", "carprice_role": "operator"},
    "nora": {"email": "nora@corp.test", "name": "Nora New"},
}
NAV = {
    "sales": ["Quote", "Batch quotes"],
    "science": ["Quote", "Batch quotes", "Model", "Experiments", "Monitoring", "Pipelines"],
    "operator": ["Quote", "Batch quotes", "Model", "Experiments", "Monitoring", "Pipelines"],
}


EXPECT_TIMEOUT_MS = 60_000  # conftest's _expect_timeout: assertions wait this long here


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """oidc-provider-mock on a free loopback port; returns its base URL."""
    port = free_port()
    users = [json.dumps({"sub": sub, **claims}) for sub, claims in USERS.items()]
    cmd = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for user in users:
        cmd += ["--user-claims", user]
    log = tmp_path_factory.mktemp("idp") / "idp.log"
    proc = ManagedProcess("oidc-provider-mock", cmd, log).start()
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{base}/.well-known/openid-configuration", 60, process=proc)
        yield base
    finally:
        proc.stop()


@pytest.fixture(scope="module")
def airflow() -> Iterator[tuple[FakeAirflow, str]]:
    """The fake Airflow on a loopback port, shared by the module's dashboard."""
    fake = FakeAirflow()
    server = fake_http.serve(fake)
    fake_http.RUNNING.remove(server)  # this module stops it, not a per-test hook
    try:
        yield fake, server.url
    finally:
        server.stop()
    assert not server.errors, server.errors


@pytest.fixture(scope="module")
def secrets_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where dashboard.serve writes Streamlit's [auth] file (a private folder)."""
    folder = tmp_path_factory.mktemp("dashboard-auth")
    folder.chmod(0o700)
    return folder


@pytest.fixture(scope="module")
def dashboard(
    idp: str,
    airflow: tuple[FakeAirflow, str],
    api_server: ApiServer,
    dashboard_factory: Callable[..., str],
    secrets_dir: Path,
) -> str:
    return dashboard_factory(
        api_url=api_server.url,
        mlflow_url=api_server.mlflow_url,
        airflow_url=airflow[1],
        airflow_password=AIRFLOW_PASSWORD,
        pipeline_poll_seconds="1",
        cache_ttl_seconds="1",
        oidc_server_metadata_url=f"{idp}/.well-known/openid-configuration",
        oidc_client_id="carprice-dashboard",
        oidc_client_secret=CLIENT_SECRET,
        oidc_redirect_uri="http://127.0.0.1:{port}/oauth2callback",  # Streamlit fills the port
        oidc_cookie_secret=COOKIE_SECRET,
        auth_secrets_dir=str(secrets_dir),
    )


def sign_in(page: Page, dashboard: str, idp: str, sub: str) -> None:
    """The whole redirect flow: dashboard → provider (pick the user) → dashboard."""
    page.goto(dashboard)
    page.locator(".st-key-auth_login button").click()
    page.wait_for_url(f"{idp}/oauth2/authorize**")
    page.get_by_role("button", name=sub, exact=True).click()
    page.wait_for_url(f"{dashboard}/**")
    wait_idle(page)


def nav_links(page: Page) -> list[str]:
    nav = page.locator("[data-testid='stSidebarNav'] [data-testid='stSidebarNavLink']")
    expect(nav.first).to_be_visible()
    return [t.strip().splitlines()[-1] for t in nav.all_inner_texts()]


def who(page: Page) -> str:
    box = page.locator(".st-key-auth_who")
    expect(box).to_be_visible()
    return box.inner_text()


def test_sales_sees_quote_and_batch_only(
    page: Page, dashboard: str, idp: str, shoot: Callable
) -> None:
    sign_in(page, dashboard, idp, "sam")
    assert "Signed in as Sam Sales" in who(page) and "sales" in who(page)
    assert nav_links(page) == NAV["sales"]
    expect(page.get_by_role("heading", name="Quote a car")).to_be_visible()
    expect(page.locator(".st-key-quote_submit button")).to_be_visible()
    shoot(page, "sign_in_sales_quote")
    # Pages of other roles don't exist for this session, even typed into the address bar.
    for path, title in (("model", "The pricing model"), ("experiments", "Experiments"),
                        ("monitoring", "Monitoring"), ("pipelines", "Pipelines")):  # fmt: skip
        page.goto(f"{dashboard}/{path}")
        wait_idle(page)
        expect(page.locator(".st-key-auth_who")).to_be_visible()  # still signed in
        expect(page.get_by_role("heading", name=title, exact=True)).to_have_count(0)
        assert nav_links(page) == NAV["sales"]


def test_science_reads_the_models_but_cannot_retrain(
    page: Page,
    dashboard: str,
    idp: str,
    airflow: tuple[FakeAirflow, str],
    shoot: Callable,
) -> None:
    fake, _ = airflow
    triggered = len(fake.triggered)
    sign_in(page, dashboard, idp, "sci")
    assert "Signed in as Sci Entist" in who(page) and "science" in who(page)
    assert nav_links(page) == NAV["science"]
    page.goto(f"{dashboard}/model")
    expect(page.get_by_role("heading", name="The pricing model")).to_be_visible()
    page.goto(f"{dashboard}/pipelines")
    expect(page.get_by_text("DAGs and their latest runs")).to_be_visible()
    expect(page.get_by_text("Retraining is for operators")).to_be_visible()
    expect(page.get_by_text("Approving a challenger and rolling back are for operators."))\
        .to_be_visible()  # fmt: skip
    wait_idle(page)
    for key in ("pipe_trigger", "pipe_approve", "pipe_rollback"):
        expect(page.locator(f".st-key-{key}")).to_have_count(0)
    assert len(fake.triggered) == triggered
    shoot(page, "sign_in_science_pipelines")


def test_operator_retrains_and_the_run_records_who_asked(
    page: Page,
    dashboard: str,
    idp: str,
    airflow: tuple[FakeAirflow, str],
    shoot: Callable,
) -> None:
    fake, _ = airflow
    sign_in(page, dashboard, idp, "opal")
    assert "Signed in as Opal Operator" in who(page) and "operator" in who(page)
    assert nav_links(page) == NAV["operator"]
    page.goto(f"{dashboard}/pipelines")
    expect(page.get_by_text("The run records that opal@corp.test asked for it.")).to_be_visible()
    page.locator(".st-key-pipe_param_trials input").fill("2")
    page.locator(".st-key-pipe_trigger button").click()
    main = page.locator("[data-testid='stMain']")
    expect(main).to_contain_text("Requested by opal@corp.test")
    expect(main).to_contain_text("With trials=2")
    expect(page.get_by_text("The run succeeded")).to_be_visible()
    expect(main).to_contain_text(re.compile(rf"{TASKS[-1]}\s+—\s+success"))
    assert fake.triggered[-1] == {"trials": 2, "requested_by": "opal@corp.test"}
    assert fake.notes[-1] == "Requested by opal@corp.test from the CarPrice dashboard"
    assert page.locator("[data-testid='stException']").count() == 0
    shoot(page, "sign_in_operator_retrained")

    # Sign out: through the provider's end-session page, back to the sign-in screen.
    page.locator(".st-key-auth_logout button").click()
    page.wait_for_url(f"{idp}/oauth2/end_session**")
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(f"{dashboard}/**")
    expect(page.locator(".st-key-auth_login button")).to_be_visible()
    expect(page.locator(".st-key-auth_who")).to_have_count(0)


def test_a_user_without_a_role_gets_no_page(page: Page, dashboard: str, idp: str) -> None:
    sign_in(page, dashboard, idp, "nora")
    expect(page.get_by_text("Nora New has no CarPrice role")).to_be_visible()
    expect(page.locator("[data-testid='stSidebarNav']")).to_have_count(0)
    expect(page.locator(".st-key-auth_logout_norole button")).to_be_visible()


def test_no_sign_in_secret_on_a_command_line(dashboard: str, secrets_dir: Path) -> None:
    """`ps` shows every process's arguments to every local user; the secrets are in a file
    only the dashboard's user can read."""
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert "dashboard.serve" in listing.stdout
    for secret in (CLIENT_SECRET, COOKIE_SECRET):
        assert secret not in listing.stdout
    port = dashboard.rsplit(":", 1)[1]
    secrets_file = secrets_dir / f"dashboard-auth-{port}.toml"
    assert secrets_file.stat().st_mode & 0o777 == 0o600
    assert CLIENT_SECRET in secrets_file.read_text()
