"""First champion: ask MLflow whether one exists, else trigger the DAG and follow it to live.

Talks plain HTTP (httpx) to Airflow's REST API v2, MLflow's REST API and the pricing API, so
the launcher imports neither Airflow nor MLflow.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

Say = Callable[[str], None]
FINISHED = frozenset({"success", "failed"})


class TrainingError(RuntimeError):
    """The first run failed or took too long; the message says where to look."""


def champion_version(mlflow_url: str, model: str, alias: str) -> str | None:
    """The version the alias points at in MLflow's registry, or None."""
    resp = httpx.get(
        f"{mlflow_url}/api/2.0/mlflow/registered-models/alias",
        params={"name": model, "alias": alias},
        timeout=15,
        trust_env=False,
    )
    if resp.status_code == 200:
        return str(resp.json()["model_version"]["version"])
    if resp.status_code == 404 or "RESOURCE_DOES_NOT_EXIST" in resp.text:
        return None
    resp.raise_for_status()
    return None


class Airflow:
    """Just enough of Airflow's REST API: JWT login, unpause, trigger, poll."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=30, trust_env=False)
        self._user, self._password = user, password
        self._token: str | None = None

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self._token is None:
            resp = self._http.post(
                "/auth/token", json={"username": self._user, "password": self._password}
            )
            if resp.status_code not in (200, 201):
                raise TrainingError(f"Airflow login refused: HTTP {resp.status_code}")
            self._token = resp.json()["access_token"]
        return self._http.request(
            method, path, headers={"Authorization": f"Bearer {self._token}"}, **kwargs
        )

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """Wait until the dag-processor has parsed ``dag_id``; unpause it."""
        deadline = time.monotonic() + timeout
        while (resp := self._call("GET", f"/api/v2/dags/{dag_id}")).status_code == 404:
            if time.monotonic() > deadline:
                errors = self._call("GET", "/api/v2/importErrors").json()
                raise TrainingError(f"DAG {dag_id} not found after {timeout:.0f} s: {errors}")
            time.sleep(2)
        resp.raise_for_status()
        if resp.json().get("is_paused"):
            self._call("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        resp = self._call(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf}
        )
        if resp.status_code >= 400:
            raise TrainingError(f"trigger {dag_id} refused: HTTP {resp.status_code} {resp.text}")
        return str(resp.json()["dag_run_id"])

    def run_state(self, dag_id: str, run_id: str) -> tuple[str, dict[str, str | None]]:
        """The run's state and each task's state."""
        run = self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}").json()
        tis = self._call(
            "GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 500}
        ).json()["task_instances"]
        tasks = {
            ti["task_id"] + (f"[{ti['map_index']}]" if ti.get("map_index", -1) >= 0 else ""): ti[
                "state"
            ]
            for ti in tis
        }
        return run["state"], tasks

    def follow(self, dag_id: str, run_id: str, timeout: float, say: Say) -> dict[str, Any]:
        """Poll until the run ends, printing each task state change; return the final states."""
        deadline = time.monotonic() + timeout
        seen: dict[str, str | None] = {}
        while True:
            state, tasks = self.run_state(dag_id, run_id)
            for task, task_state in tasks.items():
                if task_state and seen.get(task) != task_state:
                    say(f"    {task}: {task_state}")
            seen = tasks
            if state in FINISHED:
                return {"state": state, "tasks": tasks}
            if time.monotonic() > deadline:
                raise TrainingError(f"{dag_id} run {run_id} still {state} after {timeout:.0f} s")
            time.sleep(3)


def wait_api_serving(api_url: str, version: str | None, timeout: float) -> dict[str, Any]:
    """Wait until the API's /health reports a loaded model (``version`` if given)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            last = httpx.get(f"{api_url}/health", timeout=10, trust_env=False).json()
        except (httpx.HTTPError, ValueError):
            last = {}
        served = last.get("model_version")
        if served and (version is None or str(served) == str(version)):
            return last
        time.sleep(2)
    raise TrainingError(
        f"the API did not load champion version {version} within {timeout:.0f} s "
        f"(last /health: {last})"
    )
