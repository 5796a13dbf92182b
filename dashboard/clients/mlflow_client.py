"""MLflow for the dashboard: tracking reads over REST (httpx), the registry through MlflowClient.

The dashboard reads experiments, runs, registry aliases and runs' table artifacts (the
evaluation report). Alias lookups and artifact reads go through MLflow's own `MlflowClient`
(`get_model_version_by_alias`, `list_artifacts`, `download_artifacts`), imported on first use:
`mlflow` takes seconds to import, and the Quote pages never need it. Experiments and runs
are read with three plain REST calls (`experiments/search`, `runs/search` paged, `runs/get`):
MLflow's client retries a 5xx answer and then reports only "too many 500 error responses", while
these pages must show MLflow's own reason ("database is locked") at once.
Every failure becomes an `MlflowError` whose message can be shown to a user as is.
"""

from __future__ import annotations

import json
import math
import os
import posixpath
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from mlflow import MlflowClient as MlflowLibraryClient
    from mlflow.exceptions import MlflowException

#: MLflow refuses more than this many runs per runs/search page.
_PAGE_MAX = 1000


class MlflowError(RuntimeError):
    """MLflow answered with an error (or not at all); the message is fit for a user."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code  # MLflow's error_code, e.g. INVALID_PARAMETER_VALUE


class MlflowUnavailable(MlflowError):
    """The tracking server could not be reached."""


class MlflowNotFound(MlflowError):
    """The experiment, run, model or alias does not exist."""


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str


@dataclass(frozen=True)
class Run:
    """One run's identity, params, latest metrics and tags (all plain dicts)."""

    run_id: str
    run_name: str
    experiment_id: str
    status: str
    start_time: int | None
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def parent_run_id(self) -> str | None:
        return self.tags.get("mlflow.parentRunId")

    @classmethod
    def from_json(cls, payload: dict[str, Any]) -> Run:
        info = payload.get("info", {})
        data = payload.get("data", {})
        return cls(
            run_id=info["run_id"],
            run_name=info.get("run_name") or info["run_id"][:8],
            experiment_id=str(info.get("experiment_id", "")),
            status=info.get("status", ""),
            start_time=int(info["start_time"]) if info.get("start_time") else None,
            params={p["key"]: p.get("value", "") for p in data.get("params", [])},
            metrics={m["key"]: float(m["value"]) for m in data.get("metrics", [])},
            tags={t["key"]: t.get("value", "") for t in data.get("tags", [])},
        )


@dataclass(frozen=True)
class ModelVersion:
    name: str
    version: str
    run_id: str | None
    tags: dict[str, str]
    aliases: tuple[str, ...]
    created: int | None = None  # ms since the epoch


def _version(mv: Any, name: str) -> ModelVersion:
    return ModelVersion(
        name=mv.name or name,
        version=str(mv.version),
        run_id=mv.run_id or None,
        tags=dict(mv.tags or {}),
        aliases=tuple(mv.aliases or ()),
        created=int(mv.creation_timestamp) if getattr(mv, "creation_timestamp", None) else None,
    )


class MlflowClient:
    """Read-only MLflow client; one per dashboard process (held in st.cache_resource)."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(
            base_url=self.base_url + "/api/2.0/mlflow", timeout=timeout, trust_env=False
        )
        self._lock = threading.Lock()
        self._library: MlflowLibraryClient | None = None

    def close(self) -> None:
        self._http.close()

    def _registry(self) -> MlflowLibraryClient:
        """MLflow's own client for the registry, built on first use.

        MLflow's HTTP layer retries failed calls up to 7 times with exponential backoff
        (minutes when the server is down) and waits 120 s for an answer. A page answers a
        person, so unless the environment already chose, the dashboard process asks for no
        retries and its own timeout (these two settings are process-wide in MLflow).
        """
        with self._lock:
            if self._library is None:
                os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
                os.environ.setdefault(
                    "MLFLOW_HTTP_REQUEST_TIMEOUT", str(max(1, math.ceil(self.timeout)))
                )
                from mlflow import MlflowClient as MlflowLibraryClient

                self._library = MlflowLibraryClient(
                    tracking_uri=self.base_url, registry_uri=self.base_url
                )
            return self._library

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            resp = self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise MlflowUnavailable(
                f"MLflow at {self.base_url} did not answer in time ({type(exc).__name__})."
            ) from exc
        except httpx.HTTPError as exc:
            raise MlflowUnavailable(
                f"MLflow is unreachable at {self.base_url} ({type(exc).__name__})."
            ) from exc
        if resp.status_code == 404 or _error_code(resp) == "RESOURCE_DOES_NOT_EXIST":
            raise MlflowNotFound(_error_message(resp))
        if resp.status_code >= 500:
            raise MlflowUnavailable(
                f"MLflow at {self.base_url} failed with HTTP {resp.status_code}: "
                f"{_error_message(resp)}"
            )
        if resp.status_code >= 400:
            raise MlflowError(
                f"MLflow refused the request: {_error_message(resp)}", _error_code(resp)
            )
        try:
            return resp.json()
        except ValueError as exc:
            raise MlflowError(f"MLflow at {self.base_url} sent a non-JSON answer.") from exc

    def search_experiments(self) -> list[Experiment]:
        """Active experiments, all pages, newest first as MLflow orders them."""
        out: list[Experiment] = []
        token: str | None = None
        while True:
            body: dict[str, Any] = {"max_results": 1000, "view_type": "ACTIVE_ONLY"}
            if token:
                body["page_token"] = token
            page = self._call("POST", "/experiments/search", json=body)
            out += [
                Experiment(str(e["experiment_id"]), e["name"]) for e in page.get("experiments", [])
            ]
            token = page.get("next_page_token")
            if not token:
                return out

    def search_runs(
        self,
        experiment_ids: list[str],
        max_runs: int = 5000,
        filter_string: str = "",
        order_by: tuple[str, ...] = ("attributes.start_time DESC",),
    ) -> tuple[list[Run], bool]:
        """Runs page by page up to `max_runs`; returns (runs, truncated)."""
        runs: list[Run] = []
        token: str | None = None
        while len(runs) < max_runs:
            body: dict[str, Any] = {
                "experiment_ids": experiment_ids,
                "max_results": min(_PAGE_MAX, max_runs - len(runs)),
                "order_by": list(order_by),
                "run_view_type": "ACTIVE_ONLY",
            }
            if filter_string:
                body["filter"] = filter_string
            if token:
                body["page_token"] = token
            page = self._call("POST", "/runs/search", json=body)
            runs += [Run.from_json(r) for r in page.get("runs", [])]
            token = page.get("next_page_token")
            if not token:
                return runs, False
        return runs, True

    def get_run(self, run_id: str) -> Run:
        return Run.from_json(self._call("GET", "/runs/get", params={"run_id": run_id})["run"])

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        """The version `alias` points at, or None when the model or alias doesn't exist."""
        from mlflow.exceptions import MlflowException

        try:
            mv = self._registry().get_model_version_by_alias(name, alias)
        except MlflowException as exc:
            error = _library_error(exc, self.base_url)
            if isinstance(error, MlflowNotFound):  # no such model
                return None
            # No such alias: MLflow 3 answers 400 INVALID_PARAMETER_VALUE, not 404.
            if error.code == "INVALID_PARAMETER_VALUE" and "not found" in str(error):
                return None
            raise error from exc
        return _version(mv, name)

    def search_versions(self, name: str) -> list[ModelVersion]:
        """Every version of the registered model, newest first ([] when there is none)."""
        from mlflow.exceptions import MlflowException

        try:
            found = self._registry().search_model_versions(f"name='{name}'", max_results=1000)
        except MlflowException as exc:
            error = _library_error(exc, self.base_url)
            if isinstance(error, MlflowNotFound):
                return []
            raise error from exc
        return sorted((_version(v, name) for v in found), key=lambda v: -int(v.version))

    def approve(self, name: str, reason: str, by: str = "operator") -> dict[str, Any]:
        """Make the challenger champion (`carprice.registry.approve`); RegistryActionError's
        message or an MlflowError when it can't be done."""
        return self._registry_action("approve", name, reason=reason, by=by)

    def rollback(self, name: str, reason: str, by: str = "operator") -> dict[str, Any]:
        """Put the previous champion back (`carprice.registry.rollback`)."""
        return self._registry_action("rollback", name, reason=reason, by=by)

    def _registry_action(self, action: str, name: str, **kwargs: Any) -> dict[str, Any]:
        from mlflow.exceptions import MlflowException

        from carprice import registry  # imported on first use: it loads the model stack

        try:
            return getattr(registry, action)(name, client=self._registry(), **kwargs)
        except registry.RegistryActionError as exc:
            raise MlflowError(str(exc)) from exc
        except MlflowException as exc:
            raise _library_error(exc, self.base_url) from exc

    def load_table(self, run_id: str, path: str) -> list[dict[str, Any]] | None:
        """A run's table artifact (`mlflow.log_table` JSON: `columns` + `data`) as one dict per
        row, or None when the run has no artifact at `path`.

        The folder is listed first: `download_artifacts` reports any failure of the artifact
        store (a 503, a bucket that can't be reached) as "no such artifact", and a report
        that exists but can't be read must not be shown as missing.
        """
        from mlflow.exceptions import MlflowException

        client = self._registry()
        try:
            listed = client.list_artifacts(run_id, posixpath.dirname(path) or None)
        except MlflowException as exc:
            raise _library_error(exc, self.base_url) from exc
        except OSError as exc:  # requests' errors are OSErrors
            raise MlflowUnavailable(
                f"The artifacts of run {run_id[:8]} could not be listed at {self.base_url} "
                f"({type(exc).__name__})."
            ) from exc
        if path not in {f.path for f in listed}:
            return None
        try:
            with tempfile.TemporaryDirectory(prefix="carprice-dash-") as tmp:
                local = client.download_artifacts(run_id, path, tmp)
                text = Path(local).read_text(encoding="utf-8")
        except (MlflowException, OSError) as exc:
            raise MlflowUnavailable(
                f"Run {run_id[:8]} has {path}, but MLflow at {self.base_url} did not hand it "
                f"over ({type(exc).__name__}): check MLflow's artifact store."
            ) from exc
        return _table_rows(text, path)


def _library_error(exc: MlflowException, base_url: str) -> MlflowError:
    """An MlflowClient failure in the same terms as the REST calls' failures."""
    import requests
    import urllib3.exceptions as u3

    cause = exc.__cause__ or exc.__context__  # MLflow wraps the requests exception
    if isinstance(cause, requests.exceptions.RetryError):  # a 5xx answer, retries used up
        reason = getattr(cause.args[0], "reason", cause) if cause.args else cause
        return MlflowUnavailable(f"MLflow at {base_url} failed: {reason}")
    if isinstance(cause, requests.exceptions.RequestException):
        inner = getattr(cause.args[0], "reason", None) if cause.args else None
        slow = isinstance(cause, requests.exceptions.Timeout) or (
            isinstance(inner, u3.TimeoutError) and not isinstance(inner, u3.NewConnectionError)
        )
        if slow:
            return MlflowUnavailable(
                f"MLflow at {base_url} did not answer in time ({type(cause).__name__})."
            )
        return MlflowUnavailable(f"MLflow is unreachable at {base_url} ({type(cause).__name__}).")
    code = str(exc.error_code or "")
    if code == "RESOURCE_DOES_NOT_EXIST":
        return MlflowNotFound(exc.message[:300], code)
    status = exc.get_http_status_code()
    if status >= 500:
        return MlflowUnavailable(
            f"MLflow at {base_url} failed with HTTP {status}: {exc.message[:300]}", code
        )
    return MlflowError(f"MLflow refused the request: {exc.message[:300]}", code)


def _error_code(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("error_code", ""))
    except (ValueError, AttributeError):
        return ""


def _error_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
        return str(body.get("message") or body)[:300]
    except (ValueError, AttributeError):
        return (resp.text or f"HTTP {resp.status_code}")[:300]


def _table_rows(text: str, path: str) -> list[dict[str, Any]]:
    """`{"columns": [...], "data": [[...], ...]}` (what `mlflow.log_table` writes) as dicts."""
    try:
        table = json.loads(text)
        columns, data = table["columns"], table["data"]
        return [dict(zip(columns, row, strict=True)) for row in data]
    except (ValueError, KeyError, TypeError) as exc:
        raise MlflowError(
            f"The artifact {path} is not an MLflow table (expected `columns` and `data`)."
        ) from exc
