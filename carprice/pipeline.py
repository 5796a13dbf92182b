"""The training pipeline as steps on lake URIs, one per Airflow task of `car_price_pipeline`.

Each step reads the finished stages of its run folder (``carprice.runlake``), writes its own
stage, and returns something small (counts, ids). Steps are idempotent: a retry rewrites its
stage, and the MLflow steps find the work a failed attempt already did. Only the last step,
``promote``, moves an alias, so a failure anywhere leaves the champion as it was.

Stages under ``{lake_root}/runs/<run id>/``:
``raw/`` snapshot of the input · ``validated/`` clean rows (Parquet), rejected rows with
reasons (CSV), data profile (JSON) · ``processed/`` train/test splits (Parquet) ·
``tune/`` best parameters and the MLflow run id · ``model/`` the fitted model and its test
metrics · ``registry/`` the registered version, ``promotion/`` the gate's verdict.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from carprice import names, runlake
from carprice.runlake import StageWriter

if TYPE_CHECKING:
    from carprice.settings import Settings

RAW_NAME = names.RAW_FILE
MIN_TRAINING_ROWS = 50
PIPELINE_TAG = "pipeline_run"
PROMOTION_FILE = "promotion.json"


def _log(message: str) -> None:
    print(message, flush=True)


def default_data_uri(lake_root: str) -> str:
    """Where the pipeline expects the raw file: ``{lake_root}/raw/car_details_v3.csv``."""
    return names.raw_uri(lake_root)


def ingest(data_uri: str, run: str) -> dict[str, Any]:
    """Snapshot the raw CSV into the run, so a rerun of later steps sees the same bytes."""
    from carprice import lake

    data = lake.read_bytes(data_uri)
    if not data.strip():
        raise ValueError(f"{data_uri} is empty")
    with StageWriter(run, "raw") as stage:
        stage.write(RAW_NAME, data)
        stage.write_json("source.json", {"data_uri": data_uri, "bytes": len(data)})
    return {"data_uri": data_uri, "bytes": len(data)}


def validate(run: str) -> dict[str, int]:
    """Clean the snapshot; write clean rows, rejected rows with reasons, and the profile."""
    import pandas as pd

    from carprice import profile
    from carprice.clean import clean_training

    source = runlake.read_json(run, "raw", "source.json")["data_uri"]
    raw = pd.read_csv(
        io.BytesIO(runlake.read(run, "raw", RAW_NAME)), dtype=str, keep_default_na=False
    )
    report = clean_training(raw)
    if report.counts["rows_out"] < MIN_TRAINING_ROWS:
        raise ValueError(
            f"only {report.counts['rows_out']} usable rows in {source} "
            f"(need {MIN_TRAINING_ROWS}); see the rejected rows for reasons"
        )
    with StageWriter(run, "validated") as stage:
        stage.write_parquet("clean.parquet", report.frame)
        stage.write_csv("rejected_rows.csv", report.rejected)
        stage.write_json(
            "profile.json", profile.build(report.frame, report.rejected, report.counts, source)
        )
    return report.counts


def split(run: str, test_size: float | None = None, seed: int | None = None) -> dict[str, int]:
    """Stratified train/test split of the clean rows (de-duplicated before, never after)."""
    from carprice import train
    from carprice.settings import get_settings

    settings = get_settings()
    frame = runlake.read_parquet(run, "validated", "clean.parquet")
    train_rows, test_rows = train.split(
        frame, test_size or settings.test_size, settings.seed if seed is None else seed
    )
    with StageWriter(run, "processed") as stage:
        stage.write_parquet("train.parquet", train_rows)
        stage.write_parquet("test.parquet", test_rows)
    return {"train_rows": len(train_rows), "test_rows": len(test_rows)}


def _connect(settings: Settings | None) -> Settings:
    from carprice import registry
    from carprice.settings import get_settings

    settings = settings or get_settings()
    registry.connect(settings.mlflow_tracking_uri, settings.experiment)
    return settings


def tune(
    run: str,
    trials: int,
    max_rounds: int | None = None,
    run_label: str = "",
    settings: Settings | None = None,
    progress: Callable[[str], None] = _log,
) -> str:
    """Hyperparameter search: one MLflow parent run, one child run per trial.

    Returns the parent run id; the best settings go to the ``tune`` stage. The parent run
    also holds the data profile and the rejected rows, whoever started the run (CLI or DAG).
    """
    import mlflow

    from carprice import train

    settings = _connect(settings)
    max_rounds = max_rounds or train.MAX_ROUNDS
    train_rows = runlake.read_parquet(run, "processed", "train.parquet")
    profile = runlake.read_json(run, "validated", "profile.json")
    rejected = runlake.read(run, "validated", "rejected_rows.csv")
    label = run_label or run.rsplit("/", 1)[-1]
    with mlflow.start_run(run_name=f"train-{label}") as parent:
        mlflow.set_tags(
            {
                PIPELINE_TAG: label,
                "lake.run": run,
                "data.synthetic": str(profile["synthetic"]).lower(),
            }
        )
        mlflow.log_params(
            {
                "data": profile["source"],
                "trials": trials,
                "seed": settings.seed,
                "max_rounds": max_rounds,
            }
        )
        mlflow.log_metrics({f"data_{k}": v for k, v in profile["rows"].items()})
        mlflow.log_dict(profile, "data/profile.json")
        if rejected.count(b"\n") > 1:  # more than the header line
            mlflow.log_text(rejected.decode(), "data/rejected_rows.csv")
        logger = train.trial_logger(trials, progress)
        params, rounds, _ = train.tune(train_rows, trials, settings.seed, logger, max_rounds)
        mlflow.log_params({f"best_{k}": v for k, v in params.items()} | {"best_rounds": rounds})
    with StageWriter(run, "tune") as stage:
        stage.write_json(
            "best.json",
            {
                "params": params,
                "rounds": rounds,
                "mlflow_run_id": parent.info.run_id,
                "label": label,
            },
        )
    return parent.info.run_id


def evaluate(run: str, settings: Settings | None = None) -> dict[str, float]:
    """Refit the best settings on all training rows, calibrate intervals, score on test."""
    import mlflow
    import pandas as pd

    from carprice import train

    settings = _connect(settings)
    best = runlake.read_json(run, "tune", "best.json")
    train_rows = runlake.read_parquet(run, "processed", "train.parquet")
    test_rows = runlake.read_parquet(run, "processed", "test.parquet")
    profile = runlake.read_json(run, "validated", "profile.json")
    summary = train.data_summary(train_rows, test_rows, profile["rows"], profile["source"])
    model = train.fit_best(
        train_rows,
        test_rows,
        best["params"],
        best["rounds"],
        settings.seed,
        settings.interval_level,
        summary,
    )
    with mlflow.start_run(run_id=best["mlflow_run_id"]):
        mlflow.log_metrics({f"test_{k}": v for k, v in model.metrics.items()})
        mlflow.log_table(pd.DataFrame(model.report), names.REPORT_ARTIFACT)
    from carprice.model import MODEL_FILES

    with tempfile.TemporaryDirectory() as tmp, StageWriter(run, "model") as stage:
        saved = model.save(Path(tmp) / "model")
        for name in MODEL_FILES:
            stage.write(name, (saved / name).read_bytes())
        stage.write_json("metrics.json", model.metrics)
    return model.metrics


def _load_model(run: str) -> Any:
    from carprice.model import MODEL_FILES, PricingModel

    with tempfile.TemporaryDirectory() as tmp:
        for name in MODEL_FILES:
            (Path(tmp) / name).write_bytes(runlake.read(run, "model", name))
        return PricingModel.load(tmp)


def register(run: str, settings: Settings | None = None) -> str:
    """Register the run's model as a new version (no alias yet); a retry reuses it."""
    from carprice import registry

    settings = _connect(settings)
    best = runlake.read_json(run, "tune", "best.json")
    # Keyed on the MLflow run: a retry finds its version, a re-tuned run gets a new one.
    version = registry.find_version(settings.model_name, "run_id", best["mlflow_run_id"])
    if version is None:
        version = registry.register_version(
            _load_model(run),
            best["mlflow_run_id"],
            settings.model_name,
            tags={PIPELINE_TAG: best["label"], "lake.run": run},
        )
    with StageWriter(run, "registry") as stage:
        stage.write_json("version.json", {"model": settings.model_name, "version": version})
    return version


def promote(run: str, settings: Settings | None = None) -> dict[str, Any]:
    """The promotion gate on this run's test set: ``champion`` if better, else ``challenger``."""
    from carprice import registry

    settings = _connect(settings)
    version = runlake.read_json(run, "registry", "version.json")["version"]
    test_rows = runlake.read_parquet(run, "processed", "test.parquet")
    verdict = registry.promote(settings.model_name, version, test_rows)
    outcome = {
        "model": settings.model_name,
        "version": version,
        "alias": registry.CHAMPION if verdict.promote else registry.CHALLENGER,
        "promoted": verdict.promote,
        "reason": verdict.reason,
        "candidate_mae": verdict.candidate.get("mae"),
        "champion_mae": (verdict.champion or {}).get("mae"),
        "candidate_mape": verdict.candidate.get("mape"),
        "champion_mape": (verdict.champion or {}).get("mape"),
        "shared_rows": verdict.shared_rows,
        "decided_at": time.time(),
    }
    with StageWriter(run, "promotion") as stage:
        stage.write(PROMOTION_FILE, json.dumps(outcome).encode())
    return outcome
