"""Sign-in for AppTest: an identity provider configured in the dashboard's settings,
Streamlit's [auth] secrets as dashboard.serve would hand them over, and a signed-in `st.user`
(AppTest.user) per role. Nothing here talks to a provider: the browser tests in
tests/e2e/test_sign_in_browser.py run the real redirect flow.
"""

from __future__ import annotations

from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

ROLE_CLAIM = "carprice_role"
OIDC_ENV = {
    "OIDC_SERVER_METADATA_URL": "http://127.0.0.1:9/.well-known/openid-configuration",
    "OIDC_CLIENT_ID": "carprice-dashboard",
    "OIDC_CLIENT_SECRET": "client-Secret-5Fq",
    "OIDC_REDIRECT_URI": "http://127.0.0.1:8501/oauth2callback",
    "OIDC_COOKIE_SECRET": "cookie-Secret-" + "k" * 32,
}
#: One person per role, by the claim.
PEOPLE = {
    "sales": ("Sam Sales", "sam@corp.test"),
    "science": ("Sci Entist", "sci@corp.test"),
    "operator": ("Opal Operator", "opal@corp.test"),
}


def configure_oidc(mp: pytest.MonkeyPatch, **extra: str) -> None:
    """Sign-in configured (provider never contacted); the settings cache is cleared."""
    from dashboard.config import get_dashboard_settings

    for key, value in {**OIDC_ENV, **extra}.items():
        mp.setenv(f"CARPRICE_DASHBOARD_{key}", value)
    get_dashboard_settings.cache_clear()


def claims(role: str | None, name: str = "", email: str = "", **more: Any) -> dict[str, Any]:
    name, email = (name, email) if email else PEOPLE.get(role or "", ("Nobody", "nobody@corp.test"))
    out: dict[str, Any] = {"is_logged_in": True, "sub": email.split("@")[0], "name": name,
                           "email": email, **more}  # fmt: skip
    if role is not None:
        out[ROLE_CLAIM] = role
    return out


def as_user(at: AppTest, user: dict[str, Any] | None) -> AppTest:
    """Streamlit started with [auth] (as by dashboard.serve) and `user` signed in (None:
    nobody is)."""
    at.secrets["auth"] = {
        "redirect_uri": OIDC_ENV["OIDC_REDIRECT_URI"],
        "cookie_secret": OIDC_ENV["OIDC_COOKIE_SECRET"],
        "client_id": OIDC_ENV["OIDC_CLIENT_ID"],
        "client_secret": OIDC_ENV["OIDC_CLIENT_SECRET"],
        "server_metadata_url": OIDC_ENV["OIDC_SERVER_METADATA_URL"],
    }
    at.user = user if user is not None else {"is_logged_in": False}
    return at


def signed_in(at: AppTest, role: str | None) -> AppTest:
    return as_user(at, claims(role))
