"""Airflow 3 REST API (v2) with httpx: list DAGs and runs, trigger, follow a run.

Auth is `POST /auth/token` → a JWT sent as Bearer. The password and the token live only in
this object, on the Streamlit server: they never reach a page, a log line or an error
message (`repr` hides them too).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import SecretStr

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
    def from_json(cls, d: dict[str, Any]) -> DagRun:
        return cls(
            dag_id=d["dag_id"],
            run_id=d["dag_run_id"],
            state=d.get("state"),
            run_type=d.get("run_type"),
            start_date=d.get("start_date"),
            end_date=d.get("end_date"),
            duration=d.get("duration"),
            conf=d.get("conf") or {},
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
        self,
        base_url: str,
        user: str,
        password: SecretStr | None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._user = user
        self._password = password
        self._token: str | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(
            base_url=self.base_url, timeout=timeout, transport=transport, trust_env=False
        )

    def __repr__(self) -> str:
        return f"AirflowClient({self.base_url!r})"

    @property
    def has_credentials(self) -> bool:
        return self._password is not None and bool(self._password.get_secret_value())

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ plumbing

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise AirflowUnavailable(
                f"Airflow at {self.base_url} did not answer in time ({type(exc).__name__})."
            ) from exc
        except httpx.HTTPError as exc:
            raise AirflowUnavailable(
                f"Airflow is unreachable at {self.base_url} ({type(exc).__name__})."
            ) from exc

    def _fetch_token(self) -> str:
        if not self.has_credentials:
            raise AirflowAuthError(
                "Airflow credentials are not configured (CARPRICE_DASHBOARD_AIRFLOW_PASSWORD)."
            )
        assert self._password is not None
        resp = self._send(
            "POST",
            "/auth/token",
            json={"username": self._user, "password": self._password.get_secret_value()},
        )
        if resp.status_code in (401, 403):
            raise AirflowAuthError(
                "Airflow rejected the dashboard's credentials "
                "(check CARPRICE_DASHBOARD_AIRFLOW_USER / _PASSWORD).",
                resp.status_code,
            )
        if resp.status_code >= 400:
            raise _error(resp, "Airflow refused to issue a token")
        token = resp.json().get("access_token")
        if not token:
            raise AirflowError("Airflow's token answer had no access_token.")
        return str(token)

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """An authenticated API call; one retry with a fresh token after a 401."""
        for attempt in (1, 2):
            with self._lock:
                if self._token is None:
                    self._token = self._fetch_token()
                token = self._token
            resp = self._send(method, path, headers={"Authorization": f"Bearer {token}"}, **kwargs)
            if resp.status_code == 401 and attempt == 1:
                with self._lock:
                    self._token = None
                continue
            if resp.status_code == 401:
                raise AirflowAuthError("Airflow rejected the dashboard's token.", 401)
            if resp.status_code >= 400:
                raise _error(resp, f"Airflow refused {method} {path}")
            return resp.json() if resp.content else {}
        raise AssertionError("unreachable")  # pragma: no cover

    # ------------------------------------------------------------------ API

    def health(self) -> dict[str, Any]:
        """`/api/v2/monitor/health` (no auth): raises AirflowUnavailable when down."""
        resp = self._send("GET", "/api/v2/monitor/health")
        if resp.status_code >= 500:
            raise AirflowUnavailable(
                f"Airflow at {self.base_url} is unhealthy (HTTP {resp.status_code}).",
                resp.status_code,
            )
        if resp.status_code >= 400:
            raise _error(resp, "Airflow's health check failed")
        return resp.json()

    def list_dags(self, limit: int = 100) -> list[dict[str, Any]]:
        payload = self._call("GET", "/api/v2/dags", params={"limit": limit, "order_by": "dag_id"})
        return list(payload.get("dags", []))

    def dag_details(self, dag_id: str) -> dict[str, Any]:
        """Includes `params`: {name: {"value": default, "schema": {...}, "description": …}}."""
        return self._call("GET", f"/api/v2/dags/{dag_id}/details")

    def task_order(self, dag_id: str) -> list[str]:
        """Task ids in dependency order (upstream first), for showing a run's progress."""
        payload = self._call("GET", f"/api/v2/dags/{dag_id}/tasks")
        downstream = {
            t["task_id"]: list(t.get("downstream_task_ids") or []) for t in payload.get("tasks", [])
        }
        return topological(downstream)

    def latest_runs(self, dag_id: str, limit: int = 5) -> list[DagRun]:
        payload = self._call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns",
            params={"limit": limit, "order_by": "-run_after"},
        )
        return [DagRun.from_json(d) for d in payload.get("dag_runs", [])]

    def trigger(self, dag_id: str, conf: dict[str, Any], note: str | None = None) -> DagRun:
        """Start a manual run now (`logical_date: null`); raises AirflowError if refused."""
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        return DagRun.from_json(self._call("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body))

    def get_run(self, dag_id: str, run_id: str) -> DagRun:
        return DagRun.from_json(self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}"))

    def task_states(self, dag_id: str, run_id: str) -> list[TaskState]:
        payload = self._call(
            "GET",
            f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances",
            params={"limit": 100},
        )
        tasks = [
            TaskState(
                task_id=t["task_id"],
                state=t.get("state"),
                try_number=int(t.get("try_number") or 0),
                start_date=t.get("start_date"),
                end_date=t.get("end_date"),
                duration=t.get("duration"),
            )
            for t in payload.get("task_instances", [])
        ]
        return tasks


def topological(downstream: dict[str, list[str]]) -> list[str]:
    """Kahn's order over `task -> downstream tasks`; ties broken by name for stability."""
    indegree = dict.fromkeys(downstream, 0)
    for targets in downstream.values():
        for t in targets:
            indegree[t] = indegree.get(t, 0) + 1
    ready = sorted(t for t, n in indegree.items() if n == 0)
    order: list[str] = []
    while ready:
        task = ready.pop(0)
        order.append(task)
        for t in sorted(downstream.get(task, [])):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
        ready.sort()
    return order + sorted(t for t in indegree if t not in order)


def _error(resp: httpx.Response, prefix: str) -> AirflowError:
    """Airflow's own reason (FastAPI `detail`) in a user-facing message."""
    try:
        detail = resp.json().get("detail", resp.text)
    except (ValueError, AttributeError):
        detail = resp.text
    if isinstance(detail, list):  # validation errors: [{"loc": …, "msg": …}, …]
        detail = "; ".join(str(d.get("msg", d)) if isinstance(d, dict) else str(d) for d in detail)
    text = str(detail or f"HTTP {resp.status_code}")[:300]
    return AirflowError(f"{prefix} (HTTP {resp.status_code}): {text}", resp.status_code)
