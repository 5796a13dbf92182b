"""Browser tests: Playwright driving Debian's Chromium against the real dashboard, API, MLflow.

Fixtures for every e2e test file:

* `browser` (session) / `page` (per test): headless Chromium at /usr/bin/chromium
  (`.ci/run` installs it with apt when missing).
* `dashboard_factory` (session): `dashboard_factory(api_url=..., mlflow_url=..., airflow_url=...,
  **env)` starts `python -m dashboard.serve` (as `make up` does: Streamlit running
  dashboard/app.py, local mode unless OIDC settings are given) on a free port with those
  CARPRICE_DASHBOARD_* settings (extra `env` passed as is) and returns its base URL; the same
  arguments give the same running dashboard; all are stopped at session end. Their log
  files: `DASHBOARD_LOGS[base_url]`.
* `dashboard_url`: a dashboard wired to the session `api_server` and its MLflow.
* `shoot(page, name)`: full-page screenshot into tests/e2e/screenshots/ (gitignored).
* `record(name, seconds)`: a measured figure, printed in the terminal summary.

Every test in this folder is marked `e2e`.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.servers import ManagedProcess, free_port, wait_http

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.plugins.api_stack import ApiServer

E2E_DIR = Path(__file__).resolve().parent
REPO = E2E_DIR.parents[1]
SCREENSHOTS = E2E_DIR / "screenshots"
CHROMIUM = Path(os.environ.get("CARPRICE_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1440, "height": 1000}

_FIGURES: dict[str, str] = {}
#: Log file of each dashboard started here, by base URL (secret checks read them).
DASHBOARD_LOGS: dict[str, Path] = {}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if Path(item.path).resolve().is_relative_to(E2E_DIR):
            item.add_marker(pytest.mark.e2e)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if _FIGURES:
        terminalreporter.section("dashboard responsiveness (browser)")
        for name, value in _FIGURES.items():
            terminalreporter.write_line(f"{name}: {value}")
        terminalreporter.write_line(f"screenshots: {SCREENSHOTS}")


@pytest.fixture(scope="session")
def record() -> Callable[[str, float, float | None], None]:
    """`record(name, seconds, target)`: keep a measured time for the summary and print it."""

    def _record(name: str, seconds: float, target: float | None = None) -> None:
        verdict = "" if target is None else f" (target < {target:g} s)"
        _FIGURES[name] = f"{seconds:.2f} s{verdict}"
        print(f"\n[figure] {name}: {seconds:.2f} s{verdict}")

    return _record


@pytest.fixture(autouse=True)
def _expect_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Playwright's assertions wait the module's `EXPECT_TIMEOUT_MS` (pages that draw tables
    and charts can take 10+ s on a loaded machine), then the default 5 s is put back."""
    ms = getattr(request.module, "EXPECT_TIMEOUT_MS", None)
    if ms is None:
        yield
        return
    from playwright.sync_api import expect

    expect.set_options(timeout=ms)
    try:
        yield
    finally:
        expect.set_options(timeout=5_000)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} not found: install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        context.close()


def start_dashboard(
    log_dir: Path, settings: dict[str, str], env: dict[str, str]
) -> tuple[ManagedProcess, str]:
    """`python -m dashboard.serve` on a free loopback port; returns (process, base URL)."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CARPRICE_DASHBOARD_")}
    full_env.update({f"CARPRICE_DASHBOARD_{k.upper()}": v for k, v in settings.items()})
    full_env.update(env)
    cmd = [
        sys.executable, "-m", "dashboard.serve",
        "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.headless", "true", "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
    ]  # fmt: skip
    proc = ManagedProcess(f"dashboard:{port}", cmd, log_dir / f"dashboard-{port}.log",
                          env=full_env, cwd=REPO)  # fmt: skip
    proc.start()
    base = f"http://127.0.0.1:{port}"
    DASHBOARD_LOGS[base] = proc.log_path
    try:
        wait_http(base + "/_stcore/health", 90, process=proc)
    except Exception:
        proc.stop()
        raise
    return proc, base


@pytest.fixture(scope="session")
def dashboard_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., str]]:
    """Start (or reuse) a dashboard for given service URLs; see the module docstring."""
    running: dict[tuple, tuple[ManagedProcess, str]] = {}
    log_dir = tmp_path_factory.mktemp("dashboard")

    def factory(
        *,
        api_url: str,
        mlflow_url: str,
        airflow_url: str | None = None,
        env: dict[str, str] | None = None,
        **settings: str,
    ) -> str:
        values = {"api_url": api_url, "mlflow_url": mlflow_url, **settings}
        if airflow_url:
            values["airflow_url"] = airflow_url
        key = (tuple(sorted(values.items())), tuple(sorted((env or {}).items())))
        if key not in running:
            running[key] = start_dashboard(log_dir, values, env or {})
        return running[key][1]

    try:
        yield factory
    finally:
        for proc, _ in running.values():
            proc.stop()


@pytest.fixture(scope="session")
def dashboard_url(dashboard_factory: Callable[..., str], api_server: ApiServer) -> str:
    """The dashboard wired to the session API and its MLflow (Airflow left at its default)."""
    return dashboard_factory(api_url=api_server.url, mlflow_url=api_server.mlflow_url)


@pytest.fixture(scope="session")
def shoot() -> Callable[[Page, str], Path]:
    """`shoot(page, name)`: full-page PNG of the current page; returns its path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def _shoot(page: Page, name: str) -> Path:
        height = page.evaluate(
            "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
            " return m ? m.scrollHeight : document.body.scrollHeight; }"
        )
        page.set_viewport_size({"width": VIEWPORT["width"], "height": max(int(height), 600)})
        page.wait_for_timeout(500)  # let charts re-layout at the new size
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(VIEWPORT)
        return path

    return _shoot


def wait_idle(page: Page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' status)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout
    )


def run_stack(command: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    """`python -m stack <command>` from the repository, as `make up`/`down`/`status` run it."""
    return subprocess.run(
        [sys.executable, "-m", "stack", command],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
