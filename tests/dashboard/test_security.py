"""Secrets stay on the dashboard's server side, and only the operator password retrains.

* With the API key, the Airflow password and the operator password configured, no page (every
  page, through the app shell, after pricing and after a wrong operator password) shows any of
  them, the Airflow token or the credentials the API holds; nor does any log line or output
  written while the pages ran.
* A wrong or missing operator password never reaches Airflow: nothing is triggered, and no
  request to Airflow carries what was typed; the right one triggers once and is not forwarded.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard import test_pipelines
from tests.dashboard.conftest import SAMPLES, app_env, page_text
from tests.dashboard.test_pipelines import (
    AIRFLOW_PASSWORD,
    OPERATOR_PASSWORD,
    TOKEN,
    FakeAirflow,
    retrain,
    wire,
)
from tests.plugins.api_stack import KeyedApiServer
from tests.servers import free_port

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
PAGE = APP.parent / "views" / "pipelines.py"
env = test_pipelines.env  # the Pipelines settings fixture (both passwords, fresh caches)


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
    secrets = (*keyed_api_server.secrets, AIRFLOW_PASSWORD, OPERATOR_PASSWORD, TOKEN)
    caplog.set_level(logging.DEBUG)
    seen: dict[str, str] = {}
    with app_env(
        keyed_api_server.url,
        api_key=keyed_api_server.key,
        mlflow_url=keyed_api_server.mlflow_url,
        airflow_url=f"http://127.0.0.1:{free_port()}",
        airflow_password=AIRFLOW_PASSWORD,
        operator_password=OPERATOR_PASSWORD,
    ):
        at = AppTest.from_file(str(APP), default_timeout=90).run()
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

        at.text_input(key="pipe_operator_password").input("wrong-" + OPERATOR_PASSWORD[:4])
        at.button(key="pipe_trigger").click().run()
        assert "Wrong operator password" in at.error[0].value
        seen["Pipelines, wrong operator password"] = shown_and_logged(at, caplog, capfd)
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


@pytest.mark.parametrize(
    "typed",
    ["", "guess", OPERATOR_PASSWORD.upper(), OPERATOR_PASSWORD[:-1], OPERATOR_PASSWORD + " ",
     " " + OPERATOR_PASSWORD],
    ids=["missing", "wrong", "other-case", "prefix", "trailing-space", "leading-space"],
)  # fmt: skip
def test_wrong_or_missing_operator_password_never_reaches_airflow(env, typed: str) -> None:  # noqa: ANN001
    airflow = FakeAirflow()
    wire(env, airflow)
    at = AppTest.from_file(str(PAGE), default_timeout=30).run()
    before = len(airflow.requests)
    at = retrain(at, typed)
    assert not at.exception
    assert [e.value for e in at.error] == ["Wrong operator password: nothing was triggered."]
    assert airflow.triggered == []
    assert all(r.method == "GET" for r in airflow.requests[before:])  # no token, no trigger
    if typed.strip():
        assert carried(airflow, typed.strip()) == []
    assert carried(airflow, OPERATOR_PASSWORD) == []
    assert at.session_state["pipe_operator_password"] == ""  # the typed value is not kept


def test_right_operator_password_triggers_once_and_is_not_forwarded(env) -> None:  # noqa: ANN001
    airflow = FakeAirflow()
    wire(env, airflow)
    at = retrain(AppTest.from_file(str(PAGE), default_timeout=60).run(), OPERATOR_PASSWORD)
    assert not at.exception
    assert len(airflow.triggered) == 1
    assert carried(airflow, OPERATOR_PASSWORD) == []  # a dashboard-side gate, not a credential
    assert at.session_state["pipe_operator_password"] == ""


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
