"""Who is using the dashboard and what their role lets them do.

Roles are ordered, sales < science < operator, and each page or action names the least role
it needs, so the whole policy is the two tables below. The role comes from the ID token's
role claim (CARPRICE_DASHBOARD_OIDC_ROLE_CLAIM) when it names one, else from the configured
email → role map. Without an identity provider the dashboard is in local mode: one machine,
one person, operator, and (dashboard.serve, `gate`) listening on loopback only.

The rules (`role_from`, `can_open`, `can`) are plain functions; only `current`, `gate`,
`require_page` and `sidebar` touch Streamlit.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import streamlit as st

from dashboard.config import DashboardSettings, get_dashboard_settings


class Role(IntEnum):
    """Ordered: a role may do everything the roles below it may."""

    SALES = 1
    SCIENCE = 2
    OPERATOR = 3

    @property
    def label(self) -> str:
        return self.name.lower()


#: Least role per page (the file stem under dashboard/views/).
PAGE_ROLES: dict[str, Role] = {
    "quote": Role.SALES,
    "batch_quotes": Role.SALES,
    "model": Role.SCIENCE,
    "experiments": Role.SCIENCE,
    "monitoring": Role.SCIENCE,
    "pipelines": Role.SCIENCE,  # science reads runs and the registry; actions below
}
#: Least role per action: every DAG trigger and every change to the live model.
ACTION_ROLES: dict[str, Role] = {
    "retrain": Role.OPERATOR,
    "trigger": Role.OPERATOR,
    "approve": Role.OPERATOR,
    "rollback": Role.OPERATOR,
}
LOCAL_USER = "local"


@dataclass(frozen=True)
class Identity:
    """The person at the keyboard. `role` is None for a signed-in user with no CarPrice role."""

    name: str
    subject: str
    email: str | None
    role: Role | None
    local: bool = False

    @property
    def requested_by(self) -> str:
        """What runs and registry changes record as the person who asked."""
        return LOCAL_USER if self.local else (self.email or self.subject)


LOCAL = Identity(name="Local mode", subject=LOCAL_USER, email=None, role=Role.OPERATOR, local=True)


def parse_role(value: object) -> Role | None:
    """A role name (any case), or the highest known role in a list (groups claims)."""
    if isinstance(value, str):
        return Role.__members__.get(value.strip().upper())
    if isinstance(value, Iterable) and not isinstance(value, bytes | Mapping):
        found = [r for r in map(parse_role, value) if r is not None]
        return max(found) if found else None
    return None


def role_from(
    claims: Mapping[str, Any], role_claim: str, email_roles: Mapping[str, str]
) -> Role | None:
    """The IdP's claim when it names a role, else the email map. An email the IdP says is
    unverified is never looked up: anyone could have typed it."""
    role = parse_role(claims.get(role_claim))
    if role is not None:
        return role
    email = claims.get("email")
    if not isinstance(email, str) or claims.get("email_verified") is False:
        return None
    return parse_role(email_roles.get(email.strip().lower()))


def can_open(role: Role | None, page: str) -> bool:
    """Unknown pages are closed: a new page must be added to PAGE_ROLES to be seen."""
    return role is not None and page in PAGE_ROLES and role >= PAGE_ROLES[page]


def can(role: Role | None, action: str) -> bool:
    return role is not None and action in ACTION_ROLES and role >= ACTION_ROLES[action]


def identity_from(user: Mapping[str, Any], settings: DashboardSettings) -> Identity | None:
    """`st.user` as an Identity; None when nobody is signed in."""
    if not user.get("is_logged_in"):
        return None
    subject = str(user.get("sub") or user.get("email") or "unknown")
    email = user.get("email") if isinstance(user.get("email"), str) else None
    return Identity(
        name=str(user.get("name") or email or subject),
        subject=subject,
        email=email,
        role=role_from(user, settings.oidc_role_claim, settings.oidc_roles),
    )


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and "localhost"; an unset address means every interface."""
    if not address:
        return False
    if address.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip().strip("[]")).is_loopback
    except ValueError:
        return False


# --- Streamlit side -------------------------------------------------------------------------


def _serving_every_interface() -> bool:
    """A real Streamlit server with no --server.address listens on all interfaces; AppTest's
    stand-in runtime (a mock) listens nowhere."""
    from streamlit import runtime
    from streamlit.runtime import Runtime

    return runtime.exists() and type(runtime.get_instance()) is Runtime


def exposed_beyond_loopback() -> bool:
    address = st.get_option("server.address")
    return not is_loopback(address) if address else _serving_every_interface()


def _streamlit_has_auth() -> bool:
    """Streamlit reads [auth] only from its secrets files, which dashboard.serve writes."""
    from streamlit.errors import StreamlitSecretNotFoundError

    try:
        return "auth" in st.secrets
    except StreamlitSecretNotFoundError:  # no secrets file at all, or one Streamlit can't read
        return False


def current() -> Identity | None:
    """Local mode's operator, the signed-in user, or None."""
    settings = get_dashboard_settings()
    if not settings.oidc_enabled:
        return LOCAL
    return identity_from(st.user.to_dict(), settings)


def _sign_in_screen() -> None:
    st.title("CarPrice")
    st.markdown("Sign in with your company account to price cars and see the models.")
    st.button("Sign in", key="auth_login", type="primary", on_click=st.login)
    st.stop()


def _no_role_screen(who: Identity) -> None:
    claim = get_dashboard_settings().oidc_role_claim
    st.error(
        f"**{who.name} has no CarPrice role.** Ask your administrator for the `{claim}` claim "
        "(sales, science or operator) in the identity provider, or for your email in "
        "`CARPRICE_DASHBOARD_OIDC_ROLES`; then sign out and in again.",
        icon=":material/lock:",
    )
    st.button("Sign out", key="auth_logout_norole", on_click=st.logout)
    st.stop()


def gate() -> Identity:
    """Run first by the app: the identity to render for, or a screen that says what to do
    (sign in, missing role, unsafe local mode, incomplete configuration) and stops."""
    try:
        settings = get_dashboard_settings()
    except ValueError as exc:  # pydantic's ValidationError is a ValueError
        st.error(
            f"**The dashboard's sign-in settings are incomplete.** {exc}\n\nFix the "
            "`CARPRICE_DASHBOARD_OIDC_*` variables (see .env.example) and restart it.",
            icon=":material/settings:",
        )
        st.stop()
    if not settings.oidc_enabled:
        if exposed_beyond_loopback():
            st.error(
                "**Local mode listens on 127.0.0.1 only.** Without an identity provider "
                "everyone who reaches this page is an operator, so it refuses to serve on "
                "other interfaces. Restart with `--server.address 127.0.0.1` (`python -m "
                "dashboard.serve` does this), or configure sign-in "
                "(`CARPRICE_DASHBOARD_OIDC_*`).",
                icon=":material/lan:",
            )
            st.stop()
        return LOCAL
    if not _streamlit_has_auth():
        st.error(
            "**Sign-in is configured but Streamlit was started without it.** Start the "
            "dashboard with `python -m dashboard.serve` (it hands the `CARPRICE_DASHBOARD_OIDC_*`"
            " settings to Streamlit) instead of `streamlit run`.",
            icon=":material/settings:",
        )
        st.stop()
    who = current()
    if who is None:
        _sign_in_screen()
    assert who is not None
    if who.role is None:
        _no_role_screen(who)
    return who


def require_page(page: str) -> Identity:
    """First line of every page: refuses a page the role may not open, even by direct URL."""
    who = current()
    if who is None:
        st.error("Sign in first: open the dashboard's home page.", icon=":material/lock:")
        st.stop()
    assert who is not None
    if not can_open(who.role, page):
        role = who.role.label if who.role else "no role"
        st.error(
            f"**This page is not available to your role ({role}).** Ask your administrator if "
            "you need it; the pages in the sidebar are yours.",
            icon=":material/lock:",
        )
        st.stop()
    return who


def sidebar(who: Identity) -> None:
    """Who is signed in, as what, and the way out; or the local-mode label."""
    with st.sidebar.container(key="auth_who"):
        if who.local:
            st.markdown(
                ":orange-badge[:material/lock_open: Local mode] No sign-in: whoever opens this "
                "page on this machine is **operator**. It listens on 127.0.0.1 only."
            )
            return
        role = who.role.label if who.role else "no role"
        st.markdown(f"Signed in as **{who.name}**  \n:blue-badge[{role}]")
        st.button("Sign out", key="auth_logout", on_click=st.logout)
