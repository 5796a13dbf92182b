"""MLflow over its REST API (2.0 endpoints) with httpx.

The dashboard only reads experiments, runs and registry aliases, so it talks HTTP to the
tracking server rather than importing mlflow (heavy, and it would tie the dashboard to the
training code's MLflow version). Every failure becomes an `MlflowError` whose message can be
shown to a user as is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

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


class MlflowClient:
    """Read-only MLflow REST client; `transport` lets unit tests plug an httpx.MockTransport."""

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/api/2.0/mlflow",
            timeout=timeout,
            transport=transport,
            trust_env=False,
        )

    def close(self) -> None:
        self._http.close()

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
        try:
            payload = self._call(
                "GET", "/registered-models/alias", params={"name": name, "alias": alias}
            )
        except MlflowNotFound:  # no such model
            return None
        except MlflowError as exc:  # no such alias: MLflow 3 answers 400, not 404
            if exc.code == "INVALID_PARAMETER_VALUE" and "not found" in str(exc):
                return None
            raise
        mv = payload["model_version"]
        return ModelVersion(
            name=mv.get("name", name),
            version=str(mv["version"]),
            run_id=mv.get("run_id") or None,
            tags={t["key"]: t.get("value", "") for t in mv.get("tags", [])},
            aliases=tuple(mv.get("aliases", [])),
        )


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
