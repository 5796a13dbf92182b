"""Sign-in and roles through the app shell with AppTest (st.user faked by AppTest.user).

Per role: the navigation holds exactly the role's pages (a page not listed can't even be
switched to), each listed page opens, every other page script refuses when run directly,
and the sidebar names the user and the role with a way to sign out. Also: the sign-in
screen, a user without a role, the email map, local mode (labelled, operator, loopback only)
and the configuration mistakes, each an st.error that says what to do. The services are
down (closed ports): only the gate is under test here; tests/e2e/test_sign_in_browser.py
runs the real redirect flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import page_text
from tests.dashboard.identity import PEOPLE, as_user, claims, configure_oidc, signed_in

pytestmark = pytest.mark.timeout(300)
DASHBOARD = Path(__file__).resolve().parents[2] / "dashboard"
APP = str(DASHBOARD / "app.py")
PAGES = ("quote", "batch_quotes", "model", "experiments", "monitoring", "pipelines")
ALLOWED = {
    "sales": {"quote", "batch_quotes"},
    "science": {"quote", "batch_quotes", "model", "experiments", "monitoring", "pipelines"},
    "operator": set(PAGES),
}
REFUSED = "not available to your role"


@pytest.fixture
def oidc(down_env: str) -> Iterator[pytest.MonkeyPatch]:
    """Services down, sign-in configured."""
    with pytest.MonkeyPatch.context() as mp:
        configure_oidc(mp)
        yield mp


def shell(role: str | None = None, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    return as_user(at, user if user is not None else claims(role)).run()


def page(stem: str) -> AppTest:
    return AppTest.from_file(str(DASHBOARD / "views" / f"{stem}.py"), default_timeout=60)


def registered(at: AppTest) -> set[str]:
    """Script stems of the pages st.navigation offered this session (without navigation,
    the main script alone is registered)."""
    pages = at._registered_pages.values()  # AppTest keeps them to resolve switch_page
    return {Path(str(p["script_path"])).stem for p in pages if p.get("script_path")} - {"app"}


def sidebar_text(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown)


@pytest.mark.parametrize("role", ["sales", "science", "operator"])
def test_each_role_sees_its_pages_only(oidc: pytest.MonkeyPatch, role: str) -> None:
    at = shell(role)
    assert not at.exception, at.exception
    assert registered(at) == ALLOWED[role]
    name, _ = PEOPLE[role]
    assert f"Signed in as **{name}**" in sidebar_text(at) and f"[{role}]" in sidebar_text(at)
    assert at.button(key="auth_logout").label == "Sign out"
    assert "Local mode" not in page_text(at)
    for stem in sorted(set(PAGES) - ALLOWED[role]):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"views/{stem}.py")
    for stem in sorted(ALLOWED[role] & {"quote", "batch_quotes", "pipelines"}):
        opened = at.switch_page(f"views/{stem}.py").run()
        assert not opened.exception, (stem, opened.exception)
        assert REFUSED not in page_text(opened), stem


@pytest.mark.parametrize("role", ["sales", "science"])
def test_pages_refuse_a_role_below_them_when_run_directly(
    oidc: pytest.MonkeyPatch, role: str
) -> None:
    for stem in sorted(set(PAGES) - ALLOWED[role]):
        at = signed_in(page(stem), role).run()
        assert not at.exception, (stem, at.exception)
        assert len(at.error) == 1 and REFUSED in at.error[0].value and f"({role})" in \
            at.error[0].value, stem  # fmt: skip
        # Nothing of the page: no title, no table, no widget.
        assert not at.title and not at.dataframe and not at.button and not at.text_input, stem


def test_science_opens_pipelines_to_read_but_cannot_retrain_or_change_the_champion(
    oidc: pytest.MonkeyPatch,
) -> None:
    """Directly run against a closed Airflow the page stops at its banner; the role gate
    comes before it (a sales user never gets that far, see above)."""
    at = signed_in(page("pipelines"), "science").run()
    assert not at.exception
    assert REFUSED not in page_text(at) and "Airflow is not available" in at.error[0].value


def test_sign_in_screen_when_nobody_is_signed_in(oidc: pytest.MonkeyPatch) -> None:
    at = as_user(AppTest.from_file(APP, default_timeout=60), None).run()
    assert not at.exception, at.exception
    assert at.button(key="auth_login").label == "Sign in"
    assert registered(at) == set()  # no navigation at all
    assert not at.sidebar.markdown  # not even the service status
    for stem in PAGES:  # and no page shows anything without a user
        direct = as_user(page(stem), None).run()
        assert [e.value for e in direct.error] == ["Sign in first: open the dashboard's home page."]


def test_a_user_without_a_role_is_told_whom_to_ask(oidc: pytest.MonkeyPatch) -> None:
    at = shell(user=claims(None, name="Nora New", email="nora@corp.test"))
    assert not at.exception
    assert registered(at) == set()
    assert len(at.error) == 1
    error = at.error[0].value
    assert "Nora New has no CarPrice role" in error
    assert "`carprice_role`" in error and "CARPRICE_DASHBOARD_OIDC_ROLES" in error
    assert at.button(key="auth_logout_norole").label == "Sign out"


def test_the_email_map_gives_a_role(oidc: pytest.MonkeyPatch) -> None:
    configure_oidc(oidc, OIDC_ROLES='{"Nora@Corp.test": "science"}')
    at = shell(user=claims(None, name="Nora New", email="nora@corp.test"))
    assert registered(at) == ALLOWED["science"] and "[science]" in sidebar_text(at)
    unverified = claims(None, name="Nora New", email="nora@corp.test", email_verified=False)
    assert "has no CarPrice role" in shell(user=unverified).error[0].value


def test_sign_out_ends_the_session(oidc: pytest.MonkeyPatch) -> None:
    at = shell("operator")
    at = at.button(key="auth_logout").click().run()
    assert not at.exception
    assert at.user == {"is_logged_in": False}
    assert at.button(key="auth_login").label == "Sign in"


# ---------------------------------------------------------------------------- local mode


def test_local_mode_is_labelled_and_opens_every_page_as_operator(down_env: str) -> None:
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception, at.exception
    assert registered(at) == set(PAGES)
    assert "Local mode" in sidebar_text(at) and "**operator**" in sidebar_text(at)
    assert "127.0.0.1 only" in sidebar_text(at)
    assert not at.get("button") or all(b.key != "auth_logout" for b in at.button)


@pytest.mark.parametrize("address", ["0.0.0.0", "192.168.1.5"])
def test_local_mode_refuses_to_serve_beyond_loopback(down_env: str, address: str) -> None:
    config.set_option("server.address", address)
    try:
        at = AppTest.from_file(APP, default_timeout=60).run()
    finally:
        config.set_option("server.address", None)
    assert not at.exception
    assert registered(at) == set()
    assert len(at.error) == 1 and "Local mode listens on 127.0.0.1 only" in at.error[0].value
    assert "CARPRICE_DASHBOARD_OIDC_" in at.error[0].value


def test_sign_in_configured_but_streamlit_started_without_it(oidc: pytest.MonkeyPatch) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.user = claims("operator")  # no [auth] secrets: `streamlit run` instead of dashboard.serve
    at = at.run()
    assert not at.exception
    assert registered(at) == set()
    assert "python -m dashboard.serve" in at.error[0].value


def test_incomplete_sign_in_settings_are_an_error_not_a_trace(down_env: str) -> None:
    from dashboard.config import get_dashboard_settings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CARPRICE_DASHBOARD_OIDC_CLIENT_ID", "carprice")
        get_dashboard_settings.cache_clear()
        at = AppTest.from_file(APP, default_timeout=60).run()
    get_dashboard_settings.cache_clear()
    assert not at.exception
    assert "sign-in settings are incomplete" in at.error[0].value
    assert "CARPRICE_DASHBOARD_OIDC_SERVER_METADATA_URL" in at.error[0].value
    assert "Traceback" not in page_text(at)
