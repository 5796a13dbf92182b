"""The OpenAPI document tells the truth: `schemathesis run <api>/openapi.json --checks all`
passes against the running API with a key configured and without one.

`--checks all` includes accepting every schema-valid request (so the categories list the
served model's values and the specs their real ranges) and refusing every schema-violating
one, and the X-API-Key scheme is checked both ways: declared and enforced with a key,
absent from the document and not required without. The CLI runs from the repository, so it
reads the repository's schemathesis.toml, as a developer's run would.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.api_stack import served_version, start_api, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

REPO = Path(__file__).resolve().parents[2]
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
# A test value, not a secret.
API_KEY = "schemathesis-test-key"


@pytest.fixture(scope="module", params=["open", "keyed"])
def api(request, champion, tmp_path_factory) -> Iterator[tuple[str, dict[str, str]]]:  # noqa: ANN001
    """(base URL, headers to send) of a real API in either mode."""
    keyed = request.param == "keyed"
    env = {"CARPRICE_API_KEY": API_KEY} if keyed else {}
    proc, base = start_api(champion.url, tmp_path_factory.mktemp(f"st_{request.param}"), **env)
    try:
        wait_for(lambda: served_version(base) is not None, timeout=120)
        yield base, ({"X-API-Key": API_KEY} if keyed else {})
    finally:
        proc.stop()


def test_schemathesis_all_checks_pass(api: tuple[str, dict[str, str]]) -> None:
    base, headers = api
    cmd = [
        str(SCHEMATHESIS), "--config-file", str(REPO / "schemathesis.toml"), "--no-color",
        "run", f"{base}/openapi.json", "--checks", "all", "--max-examples", "40",
        "--generation-deterministic", "--request-timeout", "60",
    ]  # fmt: skip
    for name, value in headers.items():
        cmd += ["-H", f"{name}: {value}"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=800)
    summary = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, summary
    assert " generated, " in summary and " failed" not in summary, summary
    print(f"schemathesis, {'keyed' if headers else 'open'} API:\n{done.stdout[-1200:]}")  # -s
