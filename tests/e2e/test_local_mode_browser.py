"""Local mode (no identity provider) stays on this machine, with real processes and Chromium.

* `python -m dashboard.serve` with no address listens on 127.0.0.1 only: the machine's other
  addresses are refused; the page says *Local mode* and offers every page, as operator.
* Asked for 0.0.0.0 it does not start, and says why.
* Started around it (plain `streamlit run`, which listens on every interface), the app itself
  refuses to render: one error naming what to do, no navigation.

The services the pages talk to are closed ports: only the gate is under test.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from stack.health import wait_http
from stack.ports import free_port
from stack.process import ManagedProcess
from tests.e2e.conftest import REPO, wait_idle

pytestmark = pytest.mark.timeout(300)
FLAGS = ["--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"]  # fmt: skip


def local_env() -> dict[str, str]:
    """No CARPRICE_DASHBOARD_* from the caller (so no OIDC), services on a closed port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARPRICE_DASHBOARD_",
                                                                    "STREAMLIT_"))}  # fmt: skip
    closed = f"http://127.0.0.1:{free_port()}"
    env.update({f"CARPRICE_DASHBOARD_{k}_URL": closed for k in ("API", "MLFLOW", "AIRFLOW")})
    return env


def other_address() -> str | None:
    """One of this machine's non-loopback IPv4 addresses, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # no packet is sent: this only picks a route
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture
def started(tmp_path: Path) -> Iterator[Callable[[list[str]], int]]:
    procs: list[ManagedProcess] = []

    def start(cmd: list[str]) -> int:
        port = free_port()
        argv = [*cmd, "--server.port", str(port), *FLAGS]
        log = tmp_path / f"dashboard-{port}.log"
        proc = ManagedProcess(f"dashboard:{port}", argv, log, env=local_env(), cwd=REPO)
        procs.append(proc.start())
        wait_http(f"http://127.0.0.1:{port}/_stcore/health", 90, process=proc)
        return port

    try:
        yield start
    finally:
        for proc in procs:
            proc.stop()


def test_serve_listens_on_loopback_only_and_says_local_mode(page: Page, started) -> None:  # noqa: ANN001
    port = started([sys.executable, "-m", "dashboard.serve"])
    address = other_address()
    if address is not None:
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=3):
            pass
    page.goto(f"http://127.0.0.1:{port}/")
    wait_idle(page)
    expect(page.get_by_text("Local mode")).to_be_visible(timeout=60_000)
    expect(page.locator(".st-key-auth_who")).to_contain_text("operator")
    nav = page.locator("[data-testid='stSidebarNav'] [data-testid='stSidebarNavLink']")
    expect(nav).to_have_count(6)
    expect(page.locator(".st-key-auth_login")).to_have_count(0)  # nobody signs in


def test_serve_refuses_every_interface_without_an_identity_provider() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dashboard.serve", "--server.address", "0.0.0.0",
         "--server.port", str(free_port())],
        env=local_env(), cwd=REPO, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "not started" in done.stderr and "127.0.0.1 only" in done.stderr
    assert "CARPRICE_DASHBOARD_OIDC_" in done.stderr and "Traceback" not in done.stderr


def test_the_app_refuses_to_render_when_served_on_every_interface(page: Page, started) -> None:  # noqa: ANN001
    port = started([sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard" / "app.py")])
    page.goto(f"http://127.0.0.1:{port}/")
    wait_idle(page)
    alert = page.locator("[data-testid='stAlert']")
    expect(alert).to_contain_text("Local mode listens on 127.0.0.1 only", timeout=60_000)
    expect(alert).to_have_count(1)
    expect(page.locator("[data-testid='stSidebarNav']")).to_have_count(0)
    expect(page.get_by_text("Quote a car")).to_have_count(0)
