"""Run a real Airflow 3 (api-server, scheduler, dag-processor, triggerer) for tests, and talk
to it over its REST API (v2) with apache-airflow-client.

Plain helpers with no pytest dependency (the fixture is ``airflow_stack`` in
``tests/plugins/stack.py``). Airflow runs with the LocalExecutor on a fresh PostgreSQL
database, reads the repository's ``airflow/dags`` and hands its tasks the environment given
in ``task_env`` (MLflow and S3 settings, ``CARPRICE_LAKE_ROOT``). Every component is a
``ManagedProcess`` in its own process group: stopping sends SIGTERM, then SIGKILLs leftovers
(the scheduler can hang on an idle LocalExecutor worker, apache/airflow#67870).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from stack import airflow_config
from stack.training import airflow_api, request_token
from tests.servers import (
    ManagedProcess,
    ServerStartError,
    _find_executable,
    create_pg_database,
    drop_pg_database,
    free_port,
    log_tail,
    wait_http,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "airflow" / "dags"
AIRFLOW_USER = "admin"

#: Dag-run and task states after which nothing more will happen.
FINISHED_RUN_STATES = frozenset({"success", "failed"})
_TASK_FAILED_STATES = frozenset({"failed", "upstream_failed"})

#: Keys every structured log event repeats; left out of ``task_log`` text.
_LOG_NOISE = frozenset(
    {
        "event",
        "timestamp",
        "level",
        "logger",
        "filename",
        "lineno",
        "dag_id",
        "run_id",
        "ti_id",
        "task_id",
        "map_index",
        "try_number",
        "ti",
    }
)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")

if TYPE_CHECKING:
    from airflow_client.client import ApiClient

T = TypeVar("T")


class AirflowError(RuntimeError):
    """The Airflow REST API refused a call, or a run did not finish in time."""


class AirflowClient:
    """A small Airflow REST (v2) client on apache-airflow-client: JWT login, trigger, poll,
    task logs. Answers are the API's JSON as plain dicts (every field, None included)."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.user = user
        self.password = password
        self._timeout = (timeout, timeout)
        self._api = airflow_api(self.url)

    def token(self) -> str:
        """A bearer token from ``POST /auth/token`` (cached; fetched again after a 401)."""
        if self._api.configuration.access_token is None:
            status, token = request_token(self._api, self.user, self.password, self._timeout[1])
            if token is None:
                raise AirflowError(f"login failed: HTTP {status}")
            self._api.configuration.access_token = token
        return self._api.configuration.access_token

    def call(self, what: str, call: Callable[[ApiClient], T]) -> T:
        """``call(api)`` with a token; one retry with a fresh token after a 401. Raises
        ``AirflowError`` with ``what`` and the answer's body on HTTP >= 400."""
        from airflow_client.client.exceptions import ApiException

        for attempt in range(2):
            self.token()
            try:
                return call(self._api)
            except ApiException as err:
                if err.status == 401 and attempt == 0:
                    self._api.configuration.access_token = None
                    continue
                body = str(err.body or "")[:500]
                raise AirflowError(f"{what}: HTTP {err.status} {body}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG's JSON, or None while the dag-processor has not serialised it yet."""
        from airflow_client.client import DAGApi

        try:
            dag = self.call(
                f"GET /api/v2/dags/{dag_id}",
                lambda api: DAGApi(api).get_dag(dag_id, _request_timeout=self._timeout),
            )
        except AirflowError as err:
            if "HTTP 404" in str(err):
                return None
            raise
        return _json(dag)

    def wait_for_dag(self, dag_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Wait until ``dag_id`` is parsed (and unpause it); raise with import errors if not."""
        from airflow_client.client import DAGApi, DAGPatchBody, ImportErrorApi

        deadline = time.monotonic() + timeout
        while (dag := self.get_dag(dag_id)) is None:
            if time.monotonic() > deadline:
                errors = self.call(
                    "GET /api/v2/importErrors",
                    lambda api: ImportErrorApi(api).get_import_errors(
                        _request_timeout=self._timeout
                    ),
                )
                raise AirflowError(
                    f"DAG {dag_id} not parsed within {timeout:.0f} s: {_json(errors)}"
                )
            time.sleep(1.0)
        if dag.get("is_paused"):
            self.call(
                f"PATCH /api/v2/dags/{dag_id}",
                lambda api: DAGApi(api).patch_dag(
                    dag_id, DAGPatchBody(is_paused=False), _request_timeout=self._timeout
                ),
            )
        return dag

    def trigger(self, dag_id: str, conf: Mapping[str, Any] | None = None) -> str:
        """Start a manual run now; return its run id. (``TriggerDAGRunPostBody`` sends the
        ``logical_date`` key Airflow 3 requires as null.)"""
        from airflow_client.client import DagRunApi, TriggerDAGRunPostBody

        body = TriggerDAGRunPostBody(logical_date=None, conf=dict(conf or {}))
        run = self.call(
            f"POST /api/v2/dags/{dag_id}/dagRuns",
            lambda api: DagRunApi(api).trigger_dag_run(
                dag_id, body, _request_timeout=self._timeout
            ),
        )
        return run.dag_run_id

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The dag run's JSON."""
        from airflow_client.client import DagRunApi

        run = self.call(
            f"GET /api/v2/dags/{dag_id}/dagRuns/{run_id}",
            lambda api: DagRunApi(api).get_dag_run(dag_id, run_id, _request_timeout=self._timeout),
        )
        return _json(run)

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every task instance of the run (mapped ones once per map index)."""
        from airflow_client.client import TaskInstanceApi

        instances = self.call(
            f"GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
            lambda api: TaskInstanceApi(api).get_task_instances(
                dag_id, run_id, limit=1000, _request_timeout=self._timeout
            ),
        )
        return [_json(ti) for ti in instances.task_instances]

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int = 1, map_index: int = -1
    ) -> str:
        """The text of one task try's log (Airflow serves it as JSON events)."""
        from airflow_client.client import TaskInstanceApi

        log = self.call(
            f"GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            lambda api: TaskInstanceApi(api).get_log_with_http_info(
                dag_id,
                run_id,
                task_id,
                try_number,
                full_content=True,
                map_index=map_index,
                accept="application/json",
                _request_timeout=self._timeout,
            ),
        )
        # The body as sent: the generated `Content` model validates each event with pydantic
        # and drops the fields it doesn't declare, such as `error_detail`, which holds the
        # task's exception.
        lines = []
        for event in json.loads(log.raw_data).get("content") or []:
            if isinstance(event, dict):
                extra = {k: v for k, v in event.items() if k not in _LOG_NOISE}
                lines.append(f"{event.get('event', '')} {extra if extra else ''}".rstrip())
            else:
                lines.append(str(event))
        return "\n".join(lines)

    def wait(self, dag_id: str, run_id: str, timeout: float = 600.0) -> dict[str, Any]:
        """Poll until the run finishes; return its JSON plus ``task_instances`` and
        ``task_states`` (``task_id`` or ``task_id[map_index]`` -> state)."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.dag_run(dag_id, run_id)
            if run["state"] in FINISHED_RUN_STATES:
                break
            if time.monotonic() > deadline:
                states = _task_states(self.task_instances(dag_id, run_id))
                raise AirflowError(
                    f"{dag_id} run {run_id} still {run['state']} after {timeout:.0f} s: {states}"
                )
            time.sleep(2.0)
        instances = self.task_instances(dag_id, run_id)
        return {**run, "task_instances": instances, "task_states": _task_states(instances)}

    def failure_report(self, run: Mapping[str, Any], lines: int = 30) -> str:
        """Tails of the logs of the failed tasks of a finished run (for assertion messages)."""
        parts = [f"{run['dag_id']} run {run['dag_run_id']}: {run['state']} {run['task_states']}"]
        for ti in run.get("task_instances", []):
            if ti["state"] not in _TASK_FAILED_STATES or ti["state"] == "upstream_failed":
                continue
            try:
                text = self.task_log(
                    run["dag_id"],
                    run["dag_run_id"],
                    ti["task_id"],
                    max(1, int(ti.get("try_number") or 1)),
                    int(ti.get("map_index", -1)),
                )
            except AirflowError as err:
                text = str(err)
            tail = "\n".join(text.splitlines()[-lines:])
            parts.append(f"--- {ti['task_id']}[{ti.get('map_index')}] ---\n{tail}")
        return "\n".join(parts)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._api.rest_client.pool_manager.clear()


def _json(model: Any) -> dict[str, Any]:
    """A response model as the API's JSON: plain strings for dates and enums, None kept."""
    return model.model_dump(mode="json", by_alias=True, exclude={"additional_properties"})


def _task_states(instances: list[dict[str, Any]]) -> dict[str, str | None]:
    states: dict[str, str | None] = {}
    for ti in instances:
        key = (
            ti["task_id"] if ti.get("map_index", -1) < 0 else f"{ti['task_id']}[{ti['map_index']}]"
        )
        states[key] = ti["state"]
    return states


@dataclass
class AirflowStack:
    """A running Airflow wired to an MLflow server and an S3 server.

    ``url``/``user``/``password`` log in to the UI and the REST API; ``token()`` returns a
    bearer token; ``trigger_and_wait(dag_id, conf, timeout)`` returns the finished dag run's
    JSON with ``task_states``. ``processes`` holds the components (logs in ``home/logs``).
    """

    url: str
    user: str
    password: str
    mlflow_url: str
    s3: Any  # tests.servers.S3Server (kept loose: it is optional for helpers)
    home: Path
    db_name: str
    task_env: dict[str, str]
    processes: list[ManagedProcess] = field(default_factory=list)
    startup_seconds: float = 0.0
    _client: AirflowClient | None = field(default=None, repr=False)

    @property
    def client(self) -> AirflowClient:
        """The REST client, logged in as ``user``."""
        if self._client is None:
            self._client = AirflowClient(self.url, self.user, self.password)
        return self._client

    def token(self) -> str:
        """A JWT for ``Authorization: Bearer …``."""
        return self.client.token()

    def trigger_and_wait(
        self, dag_id: str, conf: Mapping[str, Any] | None = None, timeout: float = 600.0
    ) -> dict[str, Any]:
        """Wait for the DAG to be parsed, trigger it with ``conf`` and wait for the run to end.

        Returns the final dag-run JSON (``state``, ``dag_run_id``, …) plus ``task_instances``
        and ``task_states``; a failed run is returned, not raised (see ``failure_report``).
        """
        self.check_alive()
        self.client.wait_for_dag(dag_id)
        run_id = self.client.trigger(dag_id, conf)
        return self.client.wait(dag_id, run_id, timeout)

    def failure_report(self, run: Mapping[str, Any]) -> str:
        """Failed tasks' log tails plus the scheduler log tail, for assertion messages."""
        scheduler = next((p for p in self.processes if p.name.endswith("scheduler")), None)
        tail = scheduler.tail(20) if scheduler else ""
        return f"{self.client.failure_report(run)}\n--- scheduler log ---\n{tail}"

    def check_alive(self) -> None:
        """Raise with the log tail if a component died."""
        for proc in self.processes:
            if not proc.is_running():
                raise ServerStartError(
                    f"{proc.name} exited with code {proc.returncode}\n{proc.tail()}"
                )

    def stop(self) -> None:
        """Stop every component (SIGTERM, then SIGKILL leftovers) and close the client."""
        if self._client is not None:
            self._client.close()
        # In parallel: each may need its full grace period before the SIGKILL.
        with ThreadPoolExecutor(max_workers=max(1, len(self.processes))) as pool:
            list(pool.map(lambda proc: proc.stop(timeout=15.0), self.processes))


def airflow_env(
    home: Path,
    db_uri: str,
    port: int,
    password_file: Path,
    task_env: Mapping[str, str],
    dags_folder: Path = DAGS_FOLDER,
) -> dict[str, str]:
    """The environment every component (and so every task) runs with."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CARPRICE_", "MLFLOW_", "AWS_"))
    }
    bin_dir = str(Path(sys.executable).parent)
    jwt_secret = secrets.token_urlsafe(32)
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            # airflow/config holds airflow_local_settings.py: the scheduler pre-imports the
            # training stack once, so forked task processes start with it loaded. The repo
            # root is not needed: carprice and friends are installed into the venv.
            "PYTHONPATH": str(REPO_ROOT / "airflow" / "config"),
            # The embedded profile's shared settings (LocalExecutor): the ones `make up` uses.
            **airflow_config.shared("embedded"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_uri,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_config.async_url(db_uri),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API_AUTH__JWT_SECRET": jwt_secret,
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
        }
    )
    env.update(task_env)
    return env


def start_airflow(
    home: Path,
    task_env: Mapping[str, str],
    *,
    mlflow_url: str,
    s3: Any = None,
    db_name: str | None = None,
    dags_folder: Path = DAGS_FOLDER,
    timeout: float = 240.0,
) -> AirflowStack:
    """Migrate a fresh PostgreSQL database and start the four components; wait for the API.

    ``task_env`` is added to every component's environment (tasks inherit it). The
    database is dropped again by ``stop_airflow``.
    """
    started = time.monotonic()
    home.mkdir(parents=True, exist_ok=True)
    db_name = db_name or f"carprice_test_airflow_{os.getpid()}"
    db_uri = create_pg_database(db_name)
    port = free_port()
    password = secrets.token_urlsafe(12)
    password_file = home / "simple_auth_manager_passwords.json"
    password_file.write_text(json.dumps({AIRFLOW_USER: password}))
    env = airflow_env(home, db_uri, port, password_file, task_env, dags_folder)
    airflow = _find_executable("airflow")
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    stack = AirflowStack(
        url=f"http://127.0.0.1:{port}",
        user=AIRFLOW_USER,
        password=password,
        mlflow_url=mlflow_url,
        s3=s3,
        home=home,
        db_name=db_name,
        task_env=dict(task_env),
    )
    try:
        migrate_log = logs / "db-migrate.log"
        with migrate_log.open("wb") as out:
            done = subprocess.run(
                [airflow, "db", "migrate"],
                env=env,
                cwd=home,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            raise ServerStartError(f"airflow db migrate failed:\n{log_tail(migrate_log)}")
        for component in COMPONENTS:
            proc = ManagedProcess(
                f"airflow-{component}",
                [airflow, component],
                logs / f"{component}.log",
                env=env,
                cwd=home,
            )
            stack.processes.append(proc.start())
        api = stack.processes[0]
        remaining = timeout - (time.monotonic() - started)
        wait_http(f"{stack.url}/api/v2/monitor/health", max(30.0, remaining), process=api)
        stack.check_alive()
    except BaseException:
        stop_airflow(stack)
        raise
    stack.startup_seconds = time.monotonic() - started
    return stack


def stop_airflow(stack: AirflowStack) -> None:
    """Stop the components and drop the database."""
    try:
        stack.stop()
    finally:
        drop_pg_database(stack.db_name)
