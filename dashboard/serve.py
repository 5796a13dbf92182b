"""Start the dashboard: `python -m dashboard.serve [streamlit run options]`.

Streamlit reads its OIDC settings only from secrets files ([auth] in secrets.toml). This
writes them from the CARPRICE_DASHBOARD_OIDC_* settings into a private file (mode 0600 in a
0700 folder) and points Streamlit at it with --secrets.files: the path is on the command line,
never a secret. Without an identity provider (local mode) it binds 127.0.0.1 unless told
otherwise, and refuses any address other than loopback, since everyone there is operator.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dashboard.auth import is_loopback
from dashboard.config import DashboardSettings, get_dashboard_settings

APP = Path(__file__).resolve().parent / "app.py"
LOCAL_ADDRESS = "127.0.0.1"
ERROR_DETAILS_ENV = "STREAMLIT_CLIENT_SHOW_ERROR_DETAILS"


class ServeError(RuntimeError):
    """The dashboard must not start; the message says what to change."""


def option(args: Sequence[str], name: str) -> str | None:
    """The value of `--name value` or `--name=value` among Streamlit's options (last wins)."""
    found = None
    for i, arg in enumerate(args):
        if arg == f"--{name}" and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(f"--{name}="):
            found = arg.split("=", 1)[1]
    return found


def auth_toml(settings: DashboardSettings) -> str:
    """Streamlit's [auth] section. JSON strings are valid TOML basic strings."""
    assert settings.oidc_client_secret is not None and settings.oidc_cookie_secret is not None
    values = {
        "redirect_uri": settings.oidc_redirect_uri,
        "cookie_secret": settings.oidc_cookie_secret.get_secret_value(),
        "client_id": settings.oidc_client_id,
        "client_secret": settings.oidc_client_secret.get_secret_value(),
        "server_metadata_url": settings.oidc_server_metadata_url,
    }
    lines = ["[auth]", *(f"{k} = {json.dumps(v)}" for k, v in values.items())]
    lines.append(f"client_kwargs = {{ scope = {json.dumps(settings.oidc_scope)} }}")
    return "\n".join(lines) + "\n"


def private_dir(settings: DashboardSettings) -> Path:
    """The configured folder, else one per user under the temp dir; refused if others can
    read it or another user owns it (a planted folder would read our secrets)."""
    folder = settings.auth_secrets_dir or Path(tempfile.gettempdir()) / f"carprice-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.lstat()
    if folder.is_symlink() or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise ServeError(
            f"{folder} must be a folder of yours that only you can read (chmod 700), "
            "or set CARPRICE_DASHBOARD_AUTH_SECRETS_DIR to one"
        )
    return folder


def write_secrets(settings: DashboardSettings, port: str) -> Path:
    """Write the [auth] file (0600, replaced atomically) and return its path."""
    path = private_dir(settings) / f"dashboard-auth-{port}.toml"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(auth_toml(settings))
    os.replace(tmp, path)
    return path


def streamlit_args(args: Sequence[str], settings: DashboardSettings) -> list[str]:
    """`streamlit run app.py` plus the options this mode needs; ServeError if unsafe."""
    out = list(args)
    address = option(out, "server.address") or os.environ.get("STREAMLIT_SERVER_ADDRESS")
    if settings.oidc_enabled:
        port = option(out, "server.port") or os.environ.get("STREAMLIT_SERVER_PORT") or "8501"
        out += ["--secrets.files", str(write_secrets(settings, port))]
    elif address is None:
        out += ["--server.address", LOCAL_ADDRESS]
    elif not is_loopback(address):
        raise ServeError(
            f"local mode (no identity provider) listens on 127.0.0.1 only, not {address}: "
            "everyone who reaches it is an operator. Use --server.address 127.0.0.1, or "
            "configure sign-in with CARPRICE_DASHBOARD_OIDC_* (see .env.example)"
        )
    # A page that fails unexpectedly shows Streamlit's short "this app has encountered an
    # error" note, not our traceback (the log keeps it); an explicit option or
    # STREAMLIT_CLIENT_SHOW_ERROR_DETAILS wins, for debugging.
    if option(out, "client.showErrorDetails") is None and not os.environ.get(ERROR_DETAILS_ENV):
        out += ["--client.showErrorDetails", "none"]
    return ["streamlit", "run", str(APP), *out]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = get_dashboard_settings()
        sys.argv = streamlit_args(sys.argv[1:] if argv is None else argv, settings)
    except (ServeError, ValueError) as exc:  # ValueError: pydantic's ValidationError
        print(f"dashboard: not started: {exc}", file=sys.stderr)
        return 2
    from streamlit.web import cli

    return cli.main()


if __name__ == "__main__":
    sys.exit(main())
