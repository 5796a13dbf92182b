"""The role rules (dashboard.auth), the sign-in settings and the launcher (dashboard.serve),
without Streamlit running: who gets which role, what each role may open and do, and how the
OIDC settings reach Streamlit (a private file, never the command line)."""

from __future__ import annotations

import os
import stat
import tomllib
from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboard import serve
from dashboard.auth import (
    ACTION_ROLES,
    LOCAL,
    PAGE_ROLES,
    Role,
    can,
    can_open,
    identity_from,
    is_loopback,
    parse_role,
    role_from,
)
from dashboard.config import DashboardSettings
from tests.dashboard.identity import OIDC_ENV, claims

PAGES = ("quote", "batch_quotes", "model", "experiments", "monitoring", "pipelines")


def oidc(**extra: object) -> DashboardSettings:
    values = {k.lower(): v for k, v in OIDC_ENV.items()}
    return DashboardSettings(**{**values, **extra})


# ------------------------------------------------------------------------------ the policy


@pytest.mark.parametrize(
    ("role", "pages"),
    [
        (Role.SALES, {"quote", "batch_quotes"}),
        (
            Role.SCIENCE,
            {"quote", "batch_quotes", "model", "experiments", "monitoring", "pipelines"},
        ),  # fmt: skip
        (Role.OPERATOR, set(PAGES)),
        (None, set()),
    ],
)
def test_pages_each_role_opens(role: Role | None, pages: set[str]) -> None:
    assert {p for p in PAGES if can_open(role, p)} == pages


@pytest.mark.parametrize("action", ["retrain", "trigger", "approve", "rollback"])
def test_only_operators_trigger_approve_or_roll_back(action: str) -> None:
    assert [r for r in Role if can(r, action)] == [Role.OPERATOR]
    assert not can(None, action)


def test_unknown_pages_and_actions_are_closed_to_everyone() -> None:
    assert not any(can_open(r, "admin") or can(r, "delete_everything") for r in Role)
    assert set(PAGE_ROLES) == set(PAGES) and set(ACTION_ROLES) >= {"retrain", "approve"}


def test_roles_are_ordered() -> None:
    assert Role.SALES < Role.SCIENCE < Role.OPERATOR


# ------------------------------------------------------------------------ where a role comes from


@pytest.mark.parametrize(
    ("value", "role"),
    [("sales", Role.SALES), ("Operator", Role.OPERATOR), (" science ", Role.SCIENCE),
     (["staff", "science", "sales"], Role.SCIENCE), ("admin", None), ("", None), (None, None),
     (3, None), ({"role": "operator"}, None), ([], None)],
)  # fmt: skip
def test_parse_role(value: object, role: Role | None) -> None:
    assert parse_role(value) == role


def test_claim_first_then_the_email_map() -> None:
    email_map = {"ana@corp.test": "operator"}
    assert role_from({"carprice_role": "sales", "email": "ana@corp.test"}, "carprice_role",
                     email_map) == Role.SALES  # fmt: skip  # the IdP's word wins (a demotion works)
    assert role_from({"email": "Ana@Corp.test"}, "carprice_role", email_map) == Role.OPERATOR
    assert role_from({"carprice_role": "boss", "email": "ana@corp.test"}, "carprice_role",
                     email_map) == Role.OPERATOR  # fmt: skip  # an unknown claim value is no role
    assert role_from({"groups": ["science"]}, "groups", {}) == Role.SCIENCE
    assert role_from({"email": "bob@corp.test"}, "carprice_role", email_map) is None


def test_an_unverified_email_is_not_looked_up() -> None:
    email_map = {"ana@corp.test": "operator"}
    unverified = {"email": "ana@corp.test", "email_verified": False}
    assert role_from(unverified, "carprice_role", email_map) is None
    assert role_from({**unverified, "email_verified": True}, "carprice_role", email_map) \
        == Role.OPERATOR  # fmt: skip


def test_identity_from_st_user() -> None:
    settings = oidc(oidc_roles={"x@corp.test": "science"})
    who = identity_from(claims("operator"), settings)
    assert who is not None and who.role == Role.OPERATOR
    assert (who.name, who.requested_by, who.local) == ("Opal Operator", "opal@corp.test", False)
    mapped = identity_from({"is_logged_in": True, "sub": "x1", "email": "x@corp.test"}, settings)
    assert mapped is not None and mapped.role == Role.SCIENCE and mapped.name == "x@corp.test"
    no_email = identity_from({"is_logged_in": True, "sub": "svc-7"}, settings)
    assert no_email is not None and no_email.role is None and no_email.requested_by == "svc-7"
    assert identity_from({"is_logged_in": False}, settings) is None
    assert identity_from({}, settings) is None
    assert (LOCAL.role, LOCAL.requested_by, LOCAL.local) == (Role.OPERATOR, "local", True)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [("127.0.0.1", True), ("127.0.1.1", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.5", False),
     ("", False), (None, False), ("dashboard.corp", False)],
)  # fmt: skip
def test_is_loopback(address: str | None, loopback: bool) -> None:
    assert is_loopback(address) is loopback


# ------------------------------------------------------------------------------------ settings


def test_local_mode_is_the_default_and_empty_values_mean_unset() -> None:
    assert not DashboardSettings().oidc_enabled
    empty = {k.lower(): "" for k in OIDC_ENV}
    assert not DashboardSettings(**empty, oidc_roles="").oidc_enabled


def test_half_a_configuration_is_refused_with_the_missing_names() -> None:
    with pytest.raises(ValidationError, match="CARPRICE_DASHBOARD_OIDC_CLIENT_SECRET"):
        oidc(oidc_client_secret=None)
    with pytest.raises(ValidationError, match="without CARPRICE_DASHBOARD_OIDC_SERVER_META"):
        DashboardSettings(oidc_client_id="carprice")
    with pytest.raises(ValidationError, match="must end with /oauth2callback"):
        oidc(oidc_redirect_uri="http://127.0.0.1:8501/")
    with pytest.raises(ValidationError, match="32"):
        oidc(oidc_cookie_secret="short")


def test_email_map_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CARPRICE_DASHBOARD_OIDC_ROLES", '{"Ana@Corp.test": "operator"}')
    assert DashboardSettings().oidc_roles == {"ana@corp.test": "operator"}
    monkeypatch.setenv("CARPRICE_DASHBOARD_OIDC_ROLES", '{"ana@corp.test": "boss"}')
    with pytest.raises(ValidationError):
        DashboardSettings()
    monkeypatch.setenv("CARPRICE_DASHBOARD_OIDC_ROLES", "ana=operator")
    with pytest.raises(ValidationError, match="not JSON"):
        DashboardSettings()


# ------------------------------------------------------------------------------------ launcher


def test_local_mode_binds_loopback_and_refuses_other_addresses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STREAMLIT_SERVER_ADDRESS", raising=False)
    local = DashboardSettings()
    argv = serve.streamlit_args(["--server.port", "8600"], local)
    assert argv[:3] == ["streamlit", "run", str(serve.APP)]
    assert serve.option(argv, "server.address") == "127.0.0.1"
    assert "--secrets.files" not in argv
    assert serve.option(serve.streamlit_args(["--server.address=::1"], local),
                        "server.address") == "::1"  # fmt: skip
    for address in ("0.0.0.0", "192.168.1.5", "::"):
        with pytest.raises(serve.ServeError, match="127.0.0.1 only"):
            serve.streamlit_args(["--server.address", address], local)
    monkeypatch.setenv("STREAMLIT_SERVER_ADDRESS", "0.0.0.0")
    with pytest.raises(serve.ServeError):
        serve.streamlit_args([], local)


def test_an_unexpected_error_shows_no_traceback_unless_asked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(serve.ERROR_DETAILS_ENV, raising=False)
    local = DashboardSettings()
    assert serve.option(serve.streamlit_args([], local), "client.showErrorDetails") == "none"
    asked = serve.streamlit_args(["--client.showErrorDetails=full"], local)
    assert serve.option(asked, "client.showErrorDetails") == "full"
    monkeypatch.setenv(serve.ERROR_DETAILS_ENV, "type")
    assert serve.option(serve.streamlit_args([], local), "client.showErrorDetails") is None


def test_sign_in_settings_go_to_a_private_file_not_the_command_line(tmp_path: Path) -> None:
    settings = oidc(auth_secrets_dir=tmp_path / "auth", oidc_scope="openid email groups")
    argv = serve.streamlit_args(["--server.address", "0.0.0.0", "--server.port", "8611"],
                                settings)  # fmt: skip
    for secret in (OIDC_ENV["OIDC_CLIENT_SECRET"], OIDC_ENV["OIDC_COOKIE_SECRET"]):
        assert not any(secret in a for a in argv)
    path = Path(serve.option(argv, "secrets.files") or "")
    assert path == tmp_path / "auth" / "dashboard-auth-8611.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    auth = tomllib.loads(path.read_text())["auth"]
    assert auth == {
        "redirect_uri": OIDC_ENV["OIDC_REDIRECT_URI"],
        "cookie_secret": OIDC_ENV["OIDC_COOKIE_SECRET"],
        "client_id": OIDC_ENV["OIDC_CLIENT_ID"],
        "client_secret": OIDC_ENV["OIDC_CLIENT_SECRET"],
        "server_metadata_url": OIDC_ENV["OIDC_SERVER_METADATA_URL"],
        "client_kwargs": {"scope": "openid email groups"},
    }


def test_awkward_values_stay_valid_toml(tmp_path: Path) -> None:
    tricky = 'a"b\\c\nd é ' + "x" * 32
    settings = oidc(auth_secrets_dir=tmp_path, oidc_client_secret=tricky)
    assert tomllib.loads(serve.auth_toml(settings))["auth"]["client_secret"] == tricky


def test_a_folder_others_can_read_is_refused(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    os.chmod(shared, 0o755)
    with pytest.raises(serve.ServeError, match="chmod 700"):
        serve.write_secrets(oidc(auth_secrets_dir=shared), "8501")
    assert not list(shared.iterdir())


def test_main_says_why_it_does_not_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from dashboard.config import get_dashboard_settings

    monkeypatch.setenv("CARPRICE_DASHBOARD_OIDC_CLIENT_ID", "carprice")
    get_dashboard_settings.cache_clear()
    try:
        assert serve.main(["--server.port", "8612"]) == 2
    finally:
        get_dashboard_settings.cache_clear()
    err = capsys.readouterr().err
    assert "not started" in err and "CARPRICE_DASHBOARD_OIDC_SERVER_METADATA_URL" in err
    assert "Traceback" not in err
