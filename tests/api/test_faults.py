"""Faults with real processes (issue 6): MLflow stopped and restarted while traffic flows,
and a broken version taking the champion alias. The API keeps pricing throughout."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import CAR, refresh_settings, start_api, wait_for
from tests.servers import MlflowServer, free_port, start_mlflow_server

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]
NAME = "car_price"


@dataclass
class Traffic:
    """Prices cars in a loop from a thread; every non-200 answer is kept."""

    base: str
    ok: int = 0
    failures: list[str] = field(default_factory=list)
    versions: set[str] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                try:
                    r = client.post(self.base + "/predict", json=CAR)
                    if r.status_code == 200:
                        self.ok += 1
                        self.versions.add(r.json()["model_version"])
                    else:
                        self.failures.append(f"{r.status_code}: {r.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                time.sleep(0.02)

    def __enter__(self) -> Traffic:
        self._thread = threading.Thread(target=self.run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _start(base: Path, port: int) -> MlflowServer:
    return start_mlflow_server(
        f"sqlite:///{base / 'mlflow.db'}",
        str(base / "artifacts"),
        port=port,
        log_path=base / f"mlflow-{time.monotonic_ns()}.log",
        workdir=base,
    )


@pytest.fixture(scope="module")
def own_mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, dict]]:
    """A private MLflow server (these tests stop it) holding one trained champion."""
    from carprice import train
    from carprice.synthetic import ensure_sample

    base = tmp_path_factory.mktemp("faults_mlflow")
    port = free_port()
    server = _start(base, port)
    state = {"server": server}
    sample = ensure_sample(str(base / "data"))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        refresh_settings()
        train.run(sample, trials=1, tracking_uri=server.url, progress=lambda _: None, max_rounds=60)
    refresh_settings()
    try:
        yield base, port, state
    finally:
        state["server"].stop()


def _health(base: str) -> dict:
    return httpx.get(base + "/health", timeout=10).json()


def test_mlflow_stopped_while_traffic_flows(own_mlflow, tmp_path: Path) -> None:  # noqa: ANN001
    from mlflow import MlflowClient

    base_dir, port, state = own_mlflow
    url = state["server"].url
    proc, api = start_api(url, tmp_path, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    try:
        wait_for(lambda: _health(api)["model_version"], 60)
        first = _health(api)["model_version"]
        with Traffic(api) as traffic:
            time.sleep(1)
            state["server"].stop()  # MLflow goes away mid-traffic
            wait_for(lambda: _health(api)["mlflow_reachable"] is False, 60)
            served_while_down = traffic.ok
            time.sleep(2)
            assert traffic.ok > served_while_down, "pricing stopped while MLflow was down"
            assert _health(api)["model_version"] == first

            state["server"] = _start(base_dir, port)  # MLflow returns on the same address
            wait_for(lambda: _health(api)["mlflow_reachable"] is True, 90)
            client = MlflowClient(tracking_uri=url, registry_uri=url)
            mv = client.get_model_version(NAME, first)
            model_id = getattr(mv, "model_id", None) or mv.source.removeprefix("models:/")
            new = client.create_model_version(
                NAME, mv.source, run_id=mv.run_id, model_id=model_id
            ).version
            client.set_registered_model_alias(NAME, "champion", new)
            wait_for(lambda: _health(api)["model_version"] == str(new), 120)
            time.sleep(1)
        assert traffic.failures == []
        assert {first, str(new)} <= traffic.versions
        print(f"\n{traffic.ok} quotes, 0 failures across an MLflow stop/restart and a swap")
    finally:
        proc.stop()


def test_broken_champion_is_refused(own_mlflow, tmp_path: Path) -> None:  # noqa: ANN001
    from mlflow import MlflowClient

    _, _, state = own_mlflow
    url = state["server"].url
    client = MlflowClient(tracking_uri=url, registry_uri=url)
    proc, api = start_api(url, tmp_path)
    try:
        wait_for(lambda: _health(api)["model_version"], 60)
        good = _health(api)["model_version"]
        run_id = client.get_model_version(NAME, good).run_id
        broken = client.create_model_version(
            NAME, f"runs:/{run_id}/no-such-model", run_id=run_id
        ).version
        with Traffic(api) as traffic:
            client.set_registered_model_alias(NAME, "champion", broken)
            health = wait_for(
                lambda: (h := _health(api))["refused_version"] == str(broken) and h, 60
            )
            time.sleep(1)
        assert health["model_version"] == good
        assert f"version {broken}" in health["last_error"]
        assert traffic.failures == [] and traffic.ok > 0 and traffic.versions == {good}
        log = Path(proc.log_path).read_text()
        assert f"loading version {broken} failed" in log
    finally:
        client.set_registered_model_alias(NAME, "champion", good)
        proc.stop()
