"""Secrets stay on the dashboard's server side, and only an operator's session retrains.

* With the API key, the Airflow password and sign-in (OIDC client secret, cookie secret)
  configured, no page (every page, through the app shell as a signed-in operator, after
  pricing and after a refused retrain) shows any of them, the Airflow token or the
  credentials the API holds; nor does any log line or output written while the pages ran.
* A submit from a session that is not an operator's (sales, science, no role, signed out)
  never reaches Airflow: nothing is triggered, not even a token is asked for; an operator's
  triggers once, carries who asked and none of the sign-in secrets.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard import test_pipelines
from tests.dashboard.conftest import SAMPLES, app_env, page_text
from tests.dashboard.identity import OIDC_ENV, as_user, claims, configure_oidc
from tests.dashboard.test_pipelines import (
    AIRFLOW_PASSWORD,
    TOKEN,
    FakeAirflow,
    retrain,
    wire,
)
from tests.plugins.api_stack import KeyedApiServer
from tests.servers import free_port

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGE = APP.parent / "views" / "pipelines.py"
env = test_pipelines.env  # the Pipelines settings fixture (Airflow password, fresh caches)
SIGN_IN_SECRETS = (OIDC_ENV["OIDC_CLIENT_SECRET"], OIDC_ENV["OIDC_COOKIE_SECRET"])


def shown_and_logged(at: AppTest, caplog: pytest.LogCaptureFixture, capfd) -> str:  # noqa: ANN001
    out, err = capfd.readouterr()
    return "\n".join([page_text(at), caplog.text, out, err])


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_no_secret_on_any_page_or_in_the_logs(
    keyed_api_server: KeyedApiServer,
    fake_airflow: FakeAirflow,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    secrets = (*keyed_api_server.secrets, AIRFLOW_PASSWORD, TOKEN, *SIGN_IN_SECRETS)
    caplog.set_level(logging.DEBUG)
    seen: dict[str, str] = {}
    with app_env(
        keyed_api_server.url,
        api_key=keyed_api_server.key,
        mlflow_url=keyed_api_server.mlflow_url,
        airflow_url=f"http://127.0.0.1:{free_port()}",
        airflow_password=AIRFLOW_PASSWORD,
    ) as mp:
        configure_oidc(mp)
        at = as_user(AppTest.from_file(str(APP), default_timeout=90), claims("operator")).run()
        seen["Quote"] = shown_and_logged(at, caplog, capfd)
        at.form_submit_button(key="quote_submit").click().run()
        assert at.metric[0].value.startswith("₹"), "the key was not sent: no price"
        seen["Quote, priced"] = shown_and_logged(at, caplog, capfd)

        at.switch_page("views/batch_quotes.py").run()
        data = (SAMPLES / "quote_cars.csv").read_bytes()
        at.file_uploader(key="batch_upload").set_value(("cars.csv", data, "text/csv")).run()
        at.button(key="batch_price").click().run()
        assert not at.error and len(at.dataframe) >= 2
        seen["Batch quotes, priced"] = shown_and_logged(at, caplog, capfd)

        for page in ("model", "experiments", "pipelines"):
            at.switch_page(f"views/{page}.py").run()
            assert not at.exception and not at.error, page
            seen[page] = shown_and_logged(at, caplog, capfd)

        at.user = claims("science")  # the same session, no longer an operator's
        at.button(key="pipe_trigger").click().run()
        assert "Only operators can retrain" in at.error[0].value
        seen["Pipelines, refused retrain"] = shown_and_logged(at, caplog, capfd)
    assert fake_airflow.triggered == []
    assert any(r.url.path == "/auth/token" for r in fake_airflow.requests)  # it did log in

    for what, text in seen.items():
        for secret in secrets:
            assert secret not in text, f"a secret is shown or logged: {what}"


def carried(airflow: FakeAirflow, text: str) -> list[str]:
    """Requests to Airflow whose URL, headers or body contain `text`."""
    return [
        f"{r.method} {r.url}"
        for r in airflow.requests
        if text in str(r.url) or text in str(r.headers) or text.encode() in r.content
    ]


NOT_OPERATORS = {
    "sales": claims("sales"),
    "science": claims("science"),
    "no role": claims(None),
    "signed out": {"is_logged_in": False},
}


@pytest.mark.parametrize("who", NOT_OPERATORS.values(), ids=NOT_OPERATORS.keys())
def test_a_submit_that_is_not_an_operators_never_reaches_airflow(env, who: dict) -> None:  # noqa: ANN001
    """The form was rendered for an operator; the session submits as someone else."""
    configure_oidc(env)
    airflow = FakeAirflow()
    wire(env, airflow)
    at = as_user(AppTest.from_file(str(PAGE), default_timeout=30), claims("operator")).run()
    before = len(airflow.requests)
    at.user = who
    at = retrain(at)
    assert not at.exception
    assert airflow.triggered == []
    assert all(r.method == "GET" for r in airflow.requests[before:])  # no token, no trigger
    assert not any(r.url.path == "/auth/token" for r in airflow.requests[before:])
    refusals = ("Only operators can retrain", "not available to your role", "Sign in first")
    assert any(r in page_text(at) for r in refusals)


def test_an_operators_retrain_triggers_once_and_carries_no_sign_in_secret(env) -> None:  # noqa: ANN001
    configure_oidc(env)
    airflow = FakeAirflow()
    wire(env, airflow)
    at = as_user(AppTest.from_file(str(PAGE), default_timeout=60), claims("operator")).run()
    at = retrain(at)
    assert not at.exception
    assert airflow.triggered == [{"requested_by": "opal@corp.test"}]
    for secret in SIGN_IN_SECRETS:
        assert carried(airflow, secret) == []
        assert secret not in page_text(at)


@pytest.mark.integration
@pytest.mark.timeout(300)
def test_wrong_api_key_is_explained_not_shown(
    keyed_api_server: KeyedApiServer,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A stale key in the dashboard: the page says the API refused it, and never shows it."""
    stale = "stale-Api-Key-0c4e"
    caplog.set_level(logging.DEBUG)
    with app_env(keyed_api_server.url, api_key=stale, mlflow_url=keyed_api_server.mlflow_url):
        at = AppTest.from_file(str(APP), default_timeout=90).run()
        at.form_submit_button(key="quote_submit").click().run()
        assert not at.exception
        reasons = " ".join(e.value for e in at.error)
        assert "refused the key" in reasons and "CARPRICE_DASHBOARD_API_KEY" in reasons
        text = shown_and_logged(at, caplog, capfd)
    for secret in (stale, keyed_api_server.key):
        assert secret not in text
