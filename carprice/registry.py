"""MLflow side of the model: the pyfunc wrapper, registration, the promotion gate, loading.

The pyfunc accepts either input shape (values may all be strings) and returns
`predicted_price`, `price_low`, `price_high` (rupees) and `error`, one row per input row.
It needs the `carprice` package importable wherever it is loaded.
"""

from __future__ import annotations

import tempfile
from importlib.metadata import version as pkg_version
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models.signature import ModelSignature
from mlflow.types.schema import AnyType, ColSpec, Schema

from carprice import champions, names
from carprice.evaluate import GateVerdict, gate
from carprice.model import PREDICTION_COLUMNS, PRICE_COLUMNS, PricingModel
from carprice.schema import FRAME_COLUMNS, RAW_COLUMNS, TARGET, CarFeatures

CHAMPION = names.CHAMPION
CHALLENGER = names.CHALLENGER


class CarPricePyfunc(mlflow.pyfunc.PythonModel):
    """Thin adapter: all logic lives in PricingModel so the API can call it directly."""

    def load_context(self, context) -> None:  # noqa: ANN001 - MLflow's context type
        self.model = PricingModel.load(context.artifacts["model"])

    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.model.predict(frame)


def connect(tracking_uri: str, experiment: str) -> None:
    """Point this process at the tracking server; called by entry points, never at import."""
    if tracking_uri.startswith("sqlite:///"):
        Path(tracking_uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    mlflow.set_experiment(experiment)


def _signature() -> ModelSignature:
    """Every column of both shapes, optional and untyped: the model validates values itself."""
    columns = dict.fromkeys([*CarFeatures.model_fields, *FRAME_COLUMNS, *RAW_COLUMNS])
    inputs = Schema([ColSpec(AnyType(), c, required=False) for c in columns])
    outputs = Schema(
        [ColSpec("double", c) for c in PRICE_COLUMNS]
        + [
            ColSpec("string", c, required=False)
            for c in PREDICTION_COLUMNS
            if c not in PRICE_COLUMNS
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def _input_example() -> pd.DataFrame:
    """The schema's own example car: registration depends on no file outside the package."""
    return pd.DataFrame(CarFeatures.model_config["json_schema_extra"]["examples"])


def _requirements() -> list[str]:
    names = ("xgboost", "pandas", "numpy", "pyarrow", "pydantic", "mlflow")
    return [f"{n}=={pkg_version(n)}" for n in names]


def log_model(model: PricingModel) -> str:
    """Log under the active run; returns the model URI."""
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = model.save(Path(tmp) / "pricing_model")
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=CarPricePyfunc(),
            artifacts={"model": str(model_dir)},
            signature=_signature(),
            input_example=_input_example(),
            pip_requirements=_requirements(),
        )
    return info.model_uri


class GateUnavailable(RuntimeError):
    """The champion exists but could not be scored, so the gate cannot decide."""


def _champion_prices(test: pd.DataFrame, name: str, client: MlflowClient) -> np.ndarray | None:
    """The live champion's prices for the test rows; None only when there is no champion.

    A champion that cannot be loaded or scored (its artifacts' store is down, say) raises
    ``GateUnavailable``: promoting a candidate that was never compared would break the gate,
    and a retry once the store is back can decide.
    """
    try:
        client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None
    try:
        champion = mlflow.pyfunc.load_model(f"models:/{name}@{CHAMPION}").unwrap_python_model()
        return champion.model.price_frame(test)["predicted_price"].to_numpy(dtype=float)
    except Exception as exc:
        raise GateUnavailable(
            f"champion of {name} could not be scored ({type(exc).__name__}: {exc}); "
            "nothing was promoted. Retry once it loads, or remove its alias to replace it."
        ) from exc


def register_version(
    model: PricingModel, run_id: str, name: str, tags: dict[str, str] | None = None
) -> str:
    """Log the model under MLflow run ``run_id`` and register it as a new version (no alias).

    ``tags`` go on the version, e.g. the pipeline run that made it; the gate's tags come later.
    """
    client = MlflowClient()
    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:  # train.run's open parent run
        model_uri = log_model(model)
    else:
        with mlflow.start_run(run_id=run_id):
            model_uri = log_model(model)
    version = str(mlflow.register_model(model_uri, name).version)
    for key, value in {**(tags or {}), "run_id": run_id}.items():
        client.set_model_version_tag(name, version, key, value)
    return version


def find_version(name: str, tag: str, value: str) -> str | None:
    """The newest version of ``name`` tagged ``tag=value`` (how a retried step finds its work)."""
    versions = MlflowClient().search_model_versions(f"name='{name}'", max_results=1000)
    matches = [int(v.version) for v in versions if v.tags.get(tag) == value]
    return str(max(matches)) if matches else None


def alias_version(name: str, alias: str) -> str | None:
    """The version behind ``alias``, or None if the alias is not set."""
    try:
        return str(MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def replaced_by(name: str, version: str) -> str | None:
    """The champion ``version`` replaced when it last went live (None: none, or unknown)."""
    tags = MlflowClient().get_model_version(name, version).tags
    return tags.get(names.REPLACED_TAG) or None


def promote(
    name: str,
    version: str,
    rows: pd.DataFrame,
    min_gain: float = 0.0,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    eval_set: str = "",
    require_approval: bool = False,
) -> GateVerdict:
    """The gate, the only automatic way ``champion`` moves: the registered candidate and the
    champion price the same evaluation rows the same way (the pyfunc's model), the verdict
    (with the bootstrap interval of the gain) is tagged on the version, then ``champion`` (a
    gain beyond noise, or no champion yet) or ``challenger`` is set. With
    ``require_approval`` the version always waits as ``challenger`` (see `approve`).
    Raises ``GateUnavailable``, moving nothing, when the champion cannot be scored."""
    client = MlflowClient()
    if alias_version(name, CHAMPION) == version:  # a retry after the alias already moved
        tags = client.get_model_version(name, version).tags
        scores = {k: float(tags.get(f"gate.candidate_{k}") or "nan") for k in ("mae", "mape")}
        return GateVerdict(True, tags.get("gate.reason", "already champion"), scores)
    features = rows.drop(columns=[TARGET])
    champion = _champion_prices(features, name, client)
    candidate = load_version(name, version).price_frame(features)["predicted_price"]
    verdict = gate(
        rows[TARGET].to_numpy(),
        candidate.to_numpy(dtype=float),
        champion,
        min_gain=min_gain,
        resamples=resamples,
        level=level,
        seed=seed,
        eval_set=eval_set,
    )
    tags = verdict.tags()
    previous = alias_version(name, CHAMPION)
    if previous is not None and eval_set:
        held = client.get_model_version(name, previous).tags.get(names.EVAL_SET_TAG)
        if held != eval_set:  # trained before this set existed: it may have seen its rows
            tags["gate.champion_held_out"] = "false"
            tags["gate.reason"] += (
                f" (champion v{previous} was not trained with {eval_set} held out: its "
                "figures on it may be flattered)"
            )
    tags["gate.awaiting_approval"] = str(require_approval).lower()
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if verdict.promote and not require_approval:
        _make_champion(client, name, version, "gate", tags["gate.reason"], previous)
    else:
        client.set_registered_model_alias(name, CHALLENGER, version)
    return verdict


def _make_champion(
    client: MlflowClient, name: str, version: str, how: str, reason: str, previous: str | None,
    rollback_to: str | None = None,
) -> str:  # fmt: skip
    """Move ``champion`` to ``version`` and record it on both versions; returns the time."""
    at = champions.now_iso()
    tags = client.get_model_version(name, version).tags
    rollback_to = previous if rollback_to is None else rollback_to
    for key, value in champions.live_tags(
        tags, at=at, how=how, reason=reason, replaced=previous, rollback_to=rollback_to
    ).items():
        client.set_model_version_tag(name, version, key, value)
    if previous is not None and previous != version:
        old = client.get_model_version(name, previous).tags
        for key, value in champions.retired_tags(
            old, at=at, how=how, reason=reason, replaced_by=version
        ).items():
            client.set_model_version_tag(name, previous, key, value)
    client.set_registered_model_alias(name, CHAMPION, version)
    return at


class RegistryActionError(RuntimeError):
    """An approve or rollback that cannot be done; the message is fit for a user."""


def approve(
    name: str,
    version: str | None = None,
    reason: str = "",
    by: str = "operator",
    client: MlflowClient | None = None,
) -> dict[str, str | None]:
    """An operator makes ``version`` (default: the challenger) champion; the reason, who and
    when are recorded on the version, and the champion it replaced on both."""
    client = client or MlflowClient()
    version = version or _alias(client, name, CHALLENGER)
    if version is None:
        raise RegistryActionError(f"{name} has no challenger to approve")
    previous = _alias(client, name, CHAMPION)
    if previous == version:
        raise RegistryActionError(f"v{version} is already the champion")
    why = f"approved by {by}" + (f": {reason}" if reason else "")
    at = _make_champion(client, name, version, "approval", why, previous)
    client.set_model_version_tag(name, version, "gate.awaiting_approval", "false")
    if _alias(client, name, CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    return {"version": version, "previous": previous, "at": at}


def rollback(
    name: str, reason: str, by: str = "operator", client: MlflowClient | None = None
) -> dict[str, str | None]:
    """Put the previous champion back (the one the live champion replaced); the reason is
    recorded on both versions (``carprice.rolled_back`` on the one taken down)."""
    if not reason.strip():
        raise RegistryActionError("say why you roll back: the reason is recorded on the version")
    client = client or MlflowClient()
    current = _alias(client, name, CHAMPION)
    if current is None:
        raise RegistryActionError(f"{name} has no champion to roll back")
    tags = client.get_model_version(name, current).tags
    if champions.ROLLBACK_TO_TAG in tags:
        target = tags[champions.ROLLBACK_TO_TAG]
    else:  # went live before rollbacks were recorded: the history's previous champion
        target = champions.previous_champion(history(name, client))
    if not target:
        raise RegistryActionError(f"v{current} replaced no earlier champion: nothing to go back to")
    restored_to = client.get_model_version(name, target).tags.get(champions.ROLLBACK_TO_TAG)
    why = f"rollback by {by}: {reason.strip()}"
    at = _make_champion(
        client, name, target, "rollback", why, current, rollback_to=restored_to or ""
    )
    return {"version": target, "previous": current, "at": at}


def _alias(client: MlflowClient, name: str, alias: str) -> str | None:
    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


def history(name: str, client: MlflowClient | None = None) -> list[champions.Reign]:
    """The champions of ``name``, newest first (see `carprice.champions.history`)."""
    client = client or MlflowClient()
    versions = client.search_model_versions(f"name='{name}'", max_results=1000)
    return champions.history((str(v.version), v.tags, v.creation_timestamp) for v in versions)


def load_version(name: str, version: str) -> PricingModel:
    """One exact version: a server that resolved the alias must load what it resolved."""
    pyfunc = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    return pyfunc.unwrap_python_model().model


def load(name: str, alias: str = CHAMPION) -> tuple[PricingModel, str]:
    """The aliased version as a PricingModel, plus its version number."""
    version = str(MlflowClient().get_model_version_by_alias(name, alias).version)
    return load_version(name, version), version
