"""Airflow 3 REST API (v2) through apache-airflow-client: list DAGs and runs, trigger, follow.

Auth is `POST /auth/token` → a JWT that the generated client sends as Bearer. The generated
client has no operation for that endpoint (its `LoginApi` only redirects a browser to the
auth manager's login page), so the token is asked for with the same `ApiClient`'s generic
`call_api`: one request through the same connection pool, timeout and retry policy.
The password and the token live only in this object, on the Streamlit server: they never
reach a page, a log line or an error message (`repr` hides them too).

`airflow_client.client` takes about a second to import (every model of the API), so it is
imported when the first client is built, never when a page module is.
"""

from __future__ import annotations

import heapq
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import SecretStr

if TYPE_CHECKING:
    from airflow_client.client import ApiClient
    from airflow_client.client.exceptions import ApiException
    from airflow_client.client.models import DAGRunResponse

T = TypeVar("T")
TERMINAL_RUN_STATES = frozenset({"success", "failed"})


class AirflowError(RuntimeError):
    """Airflow refused or failed a request; the message is fit for a user."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AirflowUnavailable(AirflowError):
    """The API server could not be reached."""


class AirflowAuthError(AirflowError):
    """Airflow rejected the dashboard's credentials (or they are not configured)."""


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str | None
    run_type: str | None
    start_date: str | None
    end_date: str | None
    duration: float | None
    conf: dict[str, Any]

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_RUN_STATES

    @classmethod
    def from_model(cls, run: DAGRunResponse) -> DagRun:
        return cls(
            dag_id=run.dag_id,
            run_id=run.dag_run_id,
            state=_text(run.state),
            run_type=_text(run.run_type),
            start_date=_iso(run.start_date),
            end_date=_iso(run.end_date),
            duration=run.duration,
            conf=run.conf or {},
        )


@dataclass(frozen=True)
class TaskState:
    task_id: str
    state: str | None
    try_number: int
    start_date: str | None
    end_date: str | None
    duration: float | None


class AirflowClient:
    """One per dashboard process (held in st.cache_resource); token refreshed on 401."""

    def __init__(
        self, base_url: str, user: str, password: SecretStr | None, timeout: float = 30.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._user = user
        self._password = password
        self._timeout = (timeout, timeout)  # (connect, read) seconds, per request
        self._token: str | None = None
        self._token_lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._api_client: ApiClient | None = None

    def __repr__(self) -> str:
        return f"AirflowClient({self.base_url!r})"

    @property
    def has_credentials(self) -> bool:
        return self._password is not None and bool(self._password.get_secret_value())

    def close(self) -> None:
        if self._api_client is not None:
            self._api_client.rest_client.pool_manager.clear()

    # ------------------------------------------------------------------ plumbing

    @property
    def _api(self) -> ApiClient:
        """The generated client, built on first use (see the module docstring)."""
        with self._build_lock:
            if self._api_client is None:
                import urllib3
                from airflow_client.client import ApiClient, Configuration

                config = Configuration(
                    host=self.base_url,
                    proxy="",  # the dashboard talks to Airflow directly: no proxy from the env
                    # No retries and no redirects followed, as before: a failure is shown
                    # at once and the user reloads (urllib3 would retry 3 times by default).
                    retries=urllib3.Retry(total=0, redirect=0, raise_on_redirect=False),
                )
                self._api_client = ApiClient(config)
            return self._api_client

    def _send(self, call: Callable[[ApiClient], T]) -> T:
        """`call(api)` with transport failures and unreadable answers as AirflowErrors."""
        import urllib3
        from pydantic import ValidationError

        api = self._api
        try:
            return call(api)
        except urllib3.exceptions.HTTPError as exc:
            raise _unavailable(exc, self.base_url) from exc
        except ValidationError as exc:  # an answer that isn't what Airflow 3's API documents
            raise AirflowError(
                f"Airflow at {self.base_url} sent an answer the dashboard cannot read "
                f"({exc.error_count()} fields do not match the API)."
            ) from exc

    def _fetch_token(self) -> str:
        if not self.has_credentials:
            raise AirflowAuthError(
                "Airflow credentials are not configured (CARPRICE_DASHBOARD_AIRFLOW_PASSWORD)."
            )
        assert self._password is not None
        body = {"username": self._user, "password": self._password.get_secret_value()}

        def post(api: ApiClient) -> tuple[int, bytes]:
            # Not in the generated client (see the module docstring): the generic call.
            request = api.param_serialize(
                method="POST",
                resource_path="/auth/token",
                header_params={"Content-Type": "application/json", "Accept": "application/json"},
                body=body,
                auth_settings=[],
            )
            resp = api.call_api(*request, _request_timeout=self._timeout)
            return resp.status, resp.read()

        status, content = self._send(post)
        if status in (401, 403):
            raise AirflowAuthError(
                "Airflow rejected the dashboard's credentials "
                "(check CARPRICE_DASHBOARD_AIRFLOW_USER / _PASSWORD).",
                status,
            )
        if status >= 400:
            raise _error(status, content, "Airflow refused to issue a token")
        try:
            token = json.loads(content).get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise AirflowError("Airflow's token answer had no access_token.")
        return str(token)

    def _call(self, what: str, call: Callable[[ApiClient], T]) -> T:
        """An authenticated API call (`what`: "GET /api/v2/…" for error messages); one retry
        with a fresh token after a 401."""
        from airflow_client.client.exceptions import ApiException

        for attempt in (1, 2):
            with self._token_lock:
                if self._token is None:
                    self._token = self._fetch_token()
                token = self._token
            self._api.configuration.access_token = token
            try:
                return self._send(call)
            except ApiException as exc:
                if exc.status == 401 and attempt == 1:
                    with self._token_lock:
                        self._token = None
                    continue
                if exc.status == 401:
                    raise AirflowAuthError("Airflow rejected the dashboard's token.", 401) from None
                raise _api_error(exc, f"Airflow refused {what}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ API

    def health(self) -> dict[str, Any]:
        """`/api/v2/monitor/health` (no auth): raises AirflowUnavailable when down."""
        from airflow_client.client import MonitorApi
        from airflow_client.client.exceptions import ApiException

        try:
            health = self._send(
                lambda api: MonitorApi(api).get_health(_request_timeout=self._timeout)
            )
        except ApiException as exc:
            status = int(exc.status or 0)
            if status >= 500:
                raise AirflowUnavailable(
                    f"Airflow at {self.base_url} is unhealthy (HTTP {status}).", status
                ) from None
            raise _api_error(exc, "Airflow's health check failed") from None
        return health.to_dict()

    def list_dags(self, limit: int = 100) -> list[dict[str, Any]]:
        from airflow_client.client import DAGApi

        dags = self._call(
            "GET /api/v2/dags",
            lambda api: DAGApi(api).get_dags(
                limit=limit, order_by=["dag_id"], _request_timeout=self._timeout
            ),
        )
        return [d.to_dict() for d in dags.dags]

    def dag_details(self, dag_id: str) -> dict[str, Any]:
        """Includes `params`: {name: {"value": default, "schema": {...}, "description": …}}."""
        from airflow_client.client import DAGApi

        details = self._call(
            f"GET /api/v2/dags/{dag_id}/details",
            lambda api: DAGApi(api).get_dag_details(dag_id, _request_timeout=self._timeout),
        )
        return details.to_dict()

    def task_order(self, dag_id: str) -> list[str]:
        """Task ids in dependency order (upstream first), for showing a run's progress."""
        from airflow_client.client import TaskApi

        tasks = self._call(
            f"GET /api/v2/dags/{dag_id}/tasks",
            lambda api: TaskApi(api).get_tasks(dag_id, _request_timeout=self._timeout),
        )
        return topological(
            {t.task_id: list(t.downstream_task_ids or []) for t in tasks.tasks if t.task_id}
        )

    def latest_runs(self, dag_id: str, limit: int = 5) -> list[DagRun]:
        from airflow_client.client import DagRunApi

        runs = self._call(
            f"GET /api/v2/dags/{dag_id}/dagRuns",
            lambda api: DagRunApi(api).get_dag_runs(
                dag_id, limit=limit, order_by=["-run_after"], _request_timeout=self._timeout
            ),
        )
        return [DagRun.from_model(r) for r in runs.dag_runs]

    def trigger(self, dag_id: str, conf: dict[str, Any], note: str | None = None) -> DagRun:
        """Start a manual run now; raises AirflowError if refused.

        Airflow 3 requires the `logical_date` key (null: "now, no logical date");
        `TriggerDAGRunPostBody.to_dict` sends it as null even though it drops other Nones.
        """
        from airflow_client.client import DagRunApi, TriggerDAGRunPostBody

        body = TriggerDAGRunPostBody(logical_date=None, conf=conf, note=note or None)
        run = self._call(
            f"POST /api/v2/dags/{dag_id}/dagRuns",
            lambda api: DagRunApi(api).trigger_dag_run(
                dag_id, body, _request_timeout=self._timeout
            ),
        )
        return DagRun.from_model(run)

    def get_run(self, dag_id: str, run_id: str) -> DagRun:
        from airflow_client.client import DagRunApi

        run = self._call(
            f"GET /api/v2/dags/{dag_id}/dagRuns/{run_id}",
            lambda api: DagRunApi(api).get_dag_run(dag_id, run_id, _request_timeout=self._timeout),
        )
        return DagRun.from_model(run)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any | None:
        """A task's XCom value (e.g. what the `promote` task returned), or None when the task
        pushed none (it has not run, or failed): how a page reads a run's recorded outcome."""
        from airflow_client.client import XComApi

        try:
            entry = self._call(
                f"GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries",
                lambda api: XComApi(api).get_xcom_entry(
                    dag_id, task_id, run_id, key, _request_timeout=self._timeout
                ),
            )
        except AirflowError as exc:
            if exc.status == 404:
                return None
            raise
        value = getattr(entry, "actual_instance", entry)
        value = getattr(value, "value", None)
        if isinstance(value, str):  # stringified by an older server: JSON or Python repr
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def task_states(self, dag_id: str, run_id: str) -> list[TaskState]:
        from airflow_client.client import TaskInstanceApi

        instances = self._call(
            f"GET /api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
            lambda api: TaskInstanceApi(api).get_task_instances(
                dag_id, run_id, limit=100, _request_timeout=self._timeout
            ),
        )
        return [
            TaskState(
                task_id=t.task_id,
                state=_text(t.state),
                try_number=int(t.try_number or 0),
                start_date=_iso(t.start_date),
                end_date=_iso(t.end_date),
                duration=t.duration,
            )
            for t in instances.task_instances
        ]


def topological(downstream: dict[str, list[str]]) -> list[str]:
    """Task ids upstream first (`graphlib`), the smallest name first among the ready ones.

    `downstream` maps a task to the tasks after it. Airflow refuses cyclic DAGs; should a
    cycle ever come through, the tasks are listed by name.
    """
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for task, targets in downstream.items():
        sorter.add(task)
        for target in targets:
            sorter.add(target, task)
    try:
        sorter.prepare()
    except CycleError:
        return sorted({t for task, targets in downstream.items() for t in (task, *targets)})
    ready = list(sorter.get_ready())
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        task = heapq.heappop(ready)
        order.append(task)
        sorter.done(task)
        for t in sorter.get_ready():
            heapq.heappush(ready, t)
    return order


def _text(value: Enum | str | None) -> str | None:
    """An enum state as its plain value ("success"), so pages can format and compare it."""
    return value.value if isinstance(value, Enum) else value


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _unavailable(exc: Exception, base_url: str) -> AirflowUnavailable:
    """A urllib3 failure (raised as is, or inside MaxRetryError) as a user-facing message."""
    import urllib3.exceptions as u3

    cause = exc.reason if isinstance(exc, u3.MaxRetryError) and exc.reason else exc
    name = type(cause).__name__
    # NewConnectionError subclasses ConnectTimeoutError in urllib3 2: refused is not slow.
    if isinstance(cause, u3.TimeoutError) and not isinstance(cause, u3.NewConnectionError):
        return AirflowUnavailable(f"Airflow at {base_url} did not answer in time ({name}).")
    return AirflowUnavailable(f"Airflow is unreachable at {base_url} ({name}).")


def _api_error(exc: ApiException, prefix: str) -> AirflowError:
    body = exc.body.encode() if isinstance(exc.body, str) else (exc.body or b"")
    return _error(int(exc.status or 0), body, prefix)


def _error(status: int, content: bytes, prefix: str) -> AirflowError:
    """Airflow's own reason (FastAPI `detail`) in a user-facing message."""
    text = content.decode("utf-8", "replace")
    try:
        detail = json.loads(text).get("detail", text)
    except (ValueError, AttributeError):
        detail = text
    if isinstance(detail, list):  # validation errors: [{"loc": …, "msg": …}, …]
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    text = str(detail or f"HTTP {status}")[:300]
    return AirflowError(f"{prefix} (HTTP {status}): {text}", status)
