"""The model runtime against a real MLflow server: no model yet, MLflow down, a broken new
version, and the hot swap under real concurrent HTTP load."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.runtime import ModelRuntime
from carprice import registry
from tests.api.conftest import CAR, Champion, api_env, served_version, start_api, wait_for
from tests.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def register(champion: Champion, name: str) -> str:
    """A new version of `name` (created if needed) from the session's trained model."""
    client = champion.client()
    if not client.search_registered_models(filter_string=f"name='{name}'"):
        client.create_registered_model(name)
    return champion.new_version(name)


def test_no_model_yet_is_503_then_served_without_restart(champion: Champion) -> None:
    name = "car_price_late"
    with (
        api_env(champion.url, CARPRICE_MODEL_NAME=name, poll="0.3"),
        TestClient(create_app()) as client,
    ):
        health = client.get("/health").json()
        assert health["status"] == "degraded" and health["model_version"] is None
        assert health["mlflow_reachable"] is True and name in health["last_error"]
        for r in (client.post("/predict", json=CAR), client.get("/model/info")):
            assert r.status_code == 503, r.text
            assert "No model is loaded yet" in r.json()["detail"]
        version = register(champion, name)
        champion.set_alias(version, name=name)
        wait_for(lambda: client.get("/health").json()["model_version"] == version, 120)
        r = client.post("/predict", json=CAR)
        assert r.status_code == 200 and r.json()["model_version"] == version


def test_mlflow_unreachable_at_start_up(champion: Champion) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    with (
        api_env(dead, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", MLFLOW_HTTP_REQUEST_TIMEOUT="3"),
        TestClient(create_app()) as client,
    ):
        health = client.get("/health").json()
        assert health["mlflow_reachable"] is False and health["model_version"] is None
        assert "unreachable" in health["last_error"]
        assert client.post("/predict", json=CAR).status_code == 503


def test_mlflow_down_or_broken_version_keeps_the_old_model(
    champion: Champion, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = "car_price_broken"
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    good = register(champion, name)
    champion.set_alias(good, name=name)
    broken: set[str] = set()

    def loader(model_name: str, version: str):  # noqa: ANN202
        if version in broken:
            raise RuntimeError("artifact is corrupt")
        return registry.load_version(model_name, version)

    import mlflow

    mlflow.set_tracking_uri(champion.url)
    mlflow.set_registry_uri(champion.url)
    try:
        runtime = ModelRuntime(champion.url, name, "champion", 10, loader=loader)
        runtime.check_once()
        assert runtime.served_version() == good and runtime.status.mlflow_reachable

        runtime.tracking_uri = f"http://127.0.0.1:{free_port()}"  # MLflow goes away
        runtime.check_once()
        assert runtime.status.mlflow_reachable is False
        assert runtime.served_version() == good
        runtime.tracking_uri = champion.url

        bad = register(champion, name)
        broken.add(bad)
        champion.set_alias(bad, name=name)
        runtime.check_once()
        assert runtime.served_version() == good
        assert f"version {bad}" in runtime.status.last_error
        assert "corrupt" in runtime.status.last_error
        assert runtime.current.model.quote(CAR)["price"] > 0  # the old model still prices
    finally:
        mlflow.set_tracking_uri(None)


def test_hot_swap_under_concurrent_requests(champion: Champion, tmp_path) -> None:  # noqa: ANN001
    name = "car_price_swap"
    first = register(champion, name)
    champion.set_alias(first, name=name)
    proc, base = start_api(champion.url, tmp_path, CARPRICE_MODEL_NAME=name)
    try:
        wait_for(lambda: served_version(base) == first, 120)
        stop = threading.Event()
        seen: list[list[str]] = [[], []]
        failures: list[str] = []

        def fire(log: list[str]) -> None:
            with httpx.Client(base_url=base, timeout=30) as client:
                i = 0
                while not stop.is_set():
                    car = {**CAR, "km_driven": 20_000 + i}
                    path = "/predict" if i % 3 else "/predict/batch"
                    body = car if i % 3 else [car, car]
                    try:
                        r = client.post(path, json=body)
                    except httpx.HTTPError as exc:
                        failures.append(repr(exc))
                    else:
                        if r.status_code != 200:
                            failures.append(f"{r.status_code} {r.text[:200]}")
                        else:
                            log.append(r.json()["model_version"])
                    i += 1

        threads = [threading.Thread(target=fire, args=(log,)) for log in seen]
        for t in threads:
            t.start()
        time.sleep(1.0)
        second = register(champion, name)
        champion.set_alias(second, name=name)
        wait_for(lambda: all(log and log[-1] == second for log in seen), 120)
        time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(30)
    finally:
        proc.stop()
    assert failures == []
    for log in seen:
        assert log[0] == first and log[-1] == second
        switch = log.index(second)
        assert set(log[:switch]) == {first} and set(log[switch:]) == {second}  # no flapping
