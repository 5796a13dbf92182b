"""The model runtime: load the aliased model, follow the alias, swap atomically.

A background thread polls MLflow; when the alias points at a new version it loads that version
off the request path and replaces one reference. A request reads `runtime.current` once and
uses that `Served` object throughout, so it is priced entirely by one version. A failed load
keeps the previous model; MLflow being down keeps the current model serving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from api import metrics
from api.scoring import warm_up
from carprice import registry
from carprice.model import PricingModel

log = logging.getLogger("api.runtime")

# MLflow's answers for "that model or alias does not exist": the server is up, no model yet.
_MISSING_CODES = {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}

Loader = Callable[[str, str], PricingModel]  # (name, version) -> model


def _iso(ms: int | None) -> str | None:
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Served:
    """One loaded model version and everything derived from it; never mutated after load."""

    model: PricingModel
    comparables_k: int
    name: str
    alias: str
    version: str
    loaded_at: str
    registry_info: dict = field(default_factory=dict)


@dataclass
class Status:
    mlflow_reachable: bool | None = None
    last_check: str | None = None
    last_error: str | None = None
    failed_version: str | None = None


class ModelRuntime:
    """Owns the current model and the poller thread; created and started in the lifespan."""

    def __init__(
        self,
        tracking_uri: str,
        name: str,
        alias: str,
        poll_seconds: float,
        loader: Loader = registry.load_version,
        comparables_k: int = 5,
    ) -> None:
        self.comparables_k = comparables_k
        self.tracking_uri = tracking_uri
        self.name = name
        self.alias = alias
        self.poll_seconds = poll_seconds
        self._loader = loader
        self.current: Served | None = None
        self.status = Status()
        self._stop = threading.Event()
        self._first_attempt = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, wait_seconds: float) -> None:
        """Start polling; wait up to `wait_seconds` for the first load attempt to finish."""
        self._thread = threading.Thread(target=self._run, name="model-poller", daemon=True)
        self._thread.start()
        if not self._first_attempt.wait(wait_seconds):
            log.warning("first model load still running after %.0f s; serving anyway", wait_seconds)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception as exc:  # noqa: BLE001 - the poller must never die
                log.exception("model poll failed")
                self.status.last_error = f"{type(exc).__name__}: {exc}"
            finally:
                self._first_attempt.set()
            self._stop.wait(self.poll_seconds)

    # ------------------------------------------------------------------ one poll
    def check_once(self) -> None:
        """Ask MLflow where the alias points; load and swap if it moved."""
        client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        self.status.last_check = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            target = client.get_model_version_by_alias(self.name, self.alias)
        except MlflowException as exc:
            if exc.error_code in _MISSING_CODES:
                self.status.mlflow_reachable = True
                if self.current is None:
                    self.status.last_error = (
                        f"no model {self.name}@{self.alias} in MLflow yet ({exc.message})"
                    )
                return
            self._unreachable(exc)
            return
        except Exception as exc:  # noqa: BLE001 - network errors come in many types
            self._unreachable(exc)
            return
        self.status.mlflow_reachable = True
        version = str(target.version)
        if self.current is not None and self.current.version == version:
            return
        self._load(client, version)

    def _unreachable(self, exc: BaseException) -> None:
        was = self.status.mlflow_reachable
        self.status.mlflow_reachable = False
        self.status.last_error = f"MLflow unreachable at {self.tracking_uri}: {exc}"[:500]
        if was is not False:
            log.warning("%s", self.status.last_error)

    def _load(self, client: MlflowClient, version: str) -> None:
        started = time.perf_counter()
        log.info("loading %s@%s (version %s)", self.name, self.alias, version)
        try:
            model = self._loader(self.name, version)
            served = self._build(client, model, version)
        except Exception as exc:  # noqa: BLE001 - a broken version must not take us down
            metrics.MODEL_LOAD_FAILURES.inc()
            self.status.failed_version = version
            self.status.last_error = (
                f"loading version {version} failed: {type(exc).__name__}: {exc}"
            )
            log.error("%s; still serving %s", self.status.last_error, self.served_version())
            return
        self.current = served  # the swap: one reference assignment
        self.status.last_error = None
        self.status.failed_version = None
        metrics.MODEL_LOADS.inc()
        metrics.MODEL_VERSION.set(float(served.version) if served.version.isdigit() else -1)
        log.info(
            "serving version %s (loaded in %.1f s)", served.version, time.perf_counter() - started
        )

    def _build(self, client: MlflowClient, model: PricingModel, version: str) -> Served:
        info: dict = {}
        try:
            mv = client.get_model_version(self.name, version)
            info = {
                "created_at": _iso(mv.creation_timestamp),
                "run_id": mv.run_id or mv.tags.get("run_id"),
                "tags": dict(mv.tags),
            }
            if info["run_id"]:
                info["trained_at"] = _iso(client.get_run(info["run_id"]).info.start_time)
        except Exception as exc:  # noqa: BLE001 - metadata is nice to have, not required
            log.warning("could not read registry metadata for version %s: %s", version, exc)
        warm_up(model)
        return Served(
            model=model,
            comparables_k=self.comparables_k,
            name=self.name,
            alias=self.alias,
            version=version,
            loaded_at=datetime.now(UTC).isoformat(timespec="seconds"),
            registry_info=info,
        )

    def served_version(self) -> str | None:
        current = self.current
        return current.version if current else None
