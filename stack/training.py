"""First champion: ask MLflow whether one exists, else trigger the DAG and follow it to live.

MLflow's registry is read with MLflow's own `MlflowClient`, Airflow's REST API (v2) is driven
with apache-airflow-client, and the pricing API's `/health` is one httpx GET. Both client
libraries are imported inside the code that uses them, so `python -m stack down` never pays
for them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from airflow_client.client import ApiClient

Say = Callable[[str], None]
FINISHED = frozenset({"success", "failed"})


class TrainingError(RuntimeError):
    """The first run failed or took too long; the message says where to look."""


def champion_version(mlflow_url: str, model: str, alias: str) -> str | None:
    """The version the alias points at in MLflow's registry, or None (no model, no alias)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
    try:
        return str(client.get_model_version_by_alias(model, alias).version)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":  # no such model
            return None
        # No such alias on an existing model: MLflow 3 answers 400 INVALID_PARAMETER_VALUE.
        if exc.error_code == "INVALID_PARAMETER_VALUE" and "not found" in exc.message:
            return None
        raise


def champion_data_sha(mlflow_url: str, model: str, version: str) -> str | None:
    """SHA-256 of the configured file the version was trained on: its own tag, else its
    training run's snapshot checksum (versions from before the tag; they never had extras),
    else None (unknown)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from carprice import names

    client = MlflowClient(tracking_uri=mlflow_url, registry_uri=mlflow_url)
    found = client.get_model_version(model, version)
    if found.tags.get(names.DATA_SOURCE_SHA_TAG):
        return found.tags[names.DATA_SOURCE_SHA_TAG]
    try:
        run = client.get_run(found.run_id) if found.run_id else None
    except MlflowException:  # the run was deleted: nothing says what it trained on
        return None
    return (run.data.tags.get("data.sha256") or None) if run else None


def airflow_api(url: str) -> ApiClient:
    """apache-airflow-client's ApiClient for ``url``: no proxy from the environment, no
    retries, no redirects followed (a call either answers or fails at once). Callers pass
    ``_request_timeout`` per call."""
    import urllib3
    from airflow_client.client import ApiClient, Configuration

    config = Configuration(
        host=url.rstrip("/"),
        proxy="",
        retries=urllib3.Retry(total=0, redirect=0, raise_on_redirect=False),
    )
    return ApiClient(config)


def request_token(
    api: ApiClient, user: str, password: str, timeout: float = 30.0
) -> tuple[int, str | None]:
    """``POST /auth/token`` (Airflow 3's simple auth manager): (HTTP status, JWT or None).

    The generated client has no operation for this endpoint (its ``LoginApi`` only redirects
    a browser), so the one request goes through the same ApiClient's generic ``call_api``:
    same pool, timeout and retry policy as every other call. The password is only in the
    request body; it is never part of a message.
    """
    request = api.param_serialize(
        method="POST",
        resource_path="/auth/token",
        header_params={"Content-Type": "application/json", "Accept": "application/json"},
        body={"username": user, "password": password},
        auth_settings=[],
    )
    resp = api.call_api(*request, _request_timeout=(timeout, timeout))
    content = resp.read()
    if resp.status not in (200, 201):
        return resp.status, None
    try:
        token = json.loads(content).get("access_token")
    except (ValueError, AttributeError):
        token = None
    return resp.status, str(token) if token else None


class Airflow:
    """Just enough of Airflow's REST API: JWT login, unpause, trigger, poll."""

    def __init__(self, url: str, user: str, password: str) -> None:
        self._api = airflow_api(url)
        self._user, self._password = user, password
        self._timeout = (30.0, 30.0)  # (connect, read) seconds per call

    def _login(self) -> ApiClient:
        """The ApiClient, with a token (asked for once)."""
        if self._api.configuration.access_token is None:
            status, token = request_token(self._api, self._user, self._password, 30.0)
            if token is None:
                raise TrainingError(f"Airflow login refused: HTTP {status}")
            self._api.configuration.access_token = token
        return self._api

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """Wait until the dag-processor has parsed ``dag_id``; unpause it."""
        from airflow_client.client import DAGApi, DAGPatchBody, ImportErrorApi
        from airflow_client.client.exceptions import NotFoundException

        dags = DAGApi(self._login())
        deadline = time.monotonic() + timeout
        while True:
            try:
                dag = dags.get_dag(dag_id, _request_timeout=self._timeout)
                break
            except NotFoundException:
                if time.monotonic() > deadline:
                    errors = ImportErrorApi(self._api).get_import_errors(
                        _request_timeout=self._timeout
                    )
                    raise TrainingError(
                        f"DAG {dag_id} not found after {timeout:.0f} s: {errors.to_dict()}"
                    ) from None
                time.sleep(2)
        if dag.is_paused:
            dags.patch_dag(dag_id, DAGPatchBody(is_paused=False), _request_timeout=self._timeout)

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> str:
        """Start a run now. Airflow 3 requires the ``logical_date`` key (null here), and
        ``TriggerDAGRunPostBody.to_dict`` keeps it even though it drops other Nones."""
        from airflow_client.client import DagRunApi, TriggerDAGRunPostBody
        from airflow_client.client.exceptions import ApiException

        body = TriggerDAGRunPostBody(logical_date=None, conf=conf)
        try:
            run = DagRunApi(self._login()).trigger_dag_run(
                dag_id, body, _request_timeout=self._timeout
            )
        except ApiException as exc:
            raise TrainingError(f"trigger {dag_id} refused: HTTP {exc.status} {exc.body}") from None
        return run.dag_run_id

    def run_state(self, dag_id: str, run_id: str) -> tuple[str, dict[str, str | None]]:
        """The run's state and each task's state."""
        from airflow_client.client import DagRunApi, TaskInstanceApi

        api = self._login()
        run = DagRunApi(api).get_dag_run(dag_id, run_id, _request_timeout=self._timeout)
        tis = (
            TaskInstanceApi(api)
            .get_task_instances(dag_id, run_id, limit=500, _request_timeout=self._timeout)
            .task_instances
        )
        tasks = {
            ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""): (
                ti.state.value if ti.state is not None else None
            )
            for ti in tis
        }
        return run.state.value, tasks

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
