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

The frozen evaluation set (``carprice.evalset``) lives beside the runs, under
``{lake_root}/eval/<set id>/``: ``split`` picks it (or creates it) and drops its listings from
the clean rows before splitting, ``evaluate`` scores the candidate on it, ``promote`` compares
candidate and champion on it.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
import time
from collections.abc import Callable, Sequence
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


def ingest(data_uri: str, run: str, extra_uris: Sequence[str] = ()) -> dict[str, Any]:
    """Snapshot the raw CSV into the run, so a rerun of later steps sees the same bytes.
    `extra_uris` (e.g. the matched sales model_monitor exported under sales/) are CSVs in the
    same raw format, appended to it: they are cleaned and validated with the rest."""
    from carprice import lake

    data = lake.read_bytes(data_uri)
    if not data.strip():
        raise ValueError(f"{data_uri} is empty")
    source_sha = hashlib.sha256(data).hexdigest()  # the configured file, before any extras
    extra_rows = 0
    if extra_uris:
        import pandas as pd

        def table(uri: str, raw: bytes) -> pd.DataFrame:
            return pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False)

        base = table(data_uri, data)
        extras = [table(uri, lake.read_bytes(uri)) for uri in extra_uris]
        for uri, extra in zip(extra_uris, extras, strict=True):
            unknown = sorted(set(extra.columns) - set(base.columns))
            if unknown:
                raise ValueError(f"{uri} has columns the raw data lacks: {', '.join(unknown)}")
        extra_rows = sum(len(e) for e in extras)
        data = pd.concat([base, *extras], ignore_index=True).to_csv(index=False).encode()
    source = {"data_uri": data_uri, "bytes": len(data), "extra_uris": list(extra_uris),
              "extra_rows": extra_rows, "sha256": source_sha}  # fmt: skip
    with StageWriter(run, "raw") as stage:
        stage.write(RAW_NAME, data)
        stage.write_json("source.json", source)
    return source


def source_sha256(run: str) -> str:
    """SHA-256 of the configured file the run read (runs ingested before it was recorded,
    always without extras then, fall back to the snapshot's checksum: the same bytes)."""
    recorded = runlake.read_json(run, "raw", "source.json").get("sha256")
    return recorded or runlake.manifest(run, "raw")["files"][RAW_NAME]["sha256"]


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


def lake_root_of(run: str) -> str:
    """The lake root a run folder lives in (``{root}/runs/<id>``)."""
    root, sep, _ = run.rpartition(f"/{names.RUNS_PREFIX}/")
    if not sep:
        raise ValueError(f"{run} is not a run folder under a lake root")
    return root


def split(
    run: str,
    test_size: float | None = None,
    seed: int | None = None,
    new_eval_set: bool | None = None,
) -> dict[str, Any]:
    """Pick (or create) the frozen evaluation set, drop its listings from the clean rows,
    then a stratified train/test split of the rest (de-duplicated before, never after)."""
    from carprice import evalset, train
    from carprice.settings import get_settings

    settings = get_settings()
    seed = settings.seed if seed is None else seed
    frame = runlake.read_parquet(run, "validated", "clean.parquet")
    source = runlake.read_json(run, "raw", "source.json")["data_uri"]
    held, decision = evalset.resolve(
        lake_root_of(run),
        frame,
        source,
        share=settings.eval_share,
        seed=seed,
        new=settings.new_eval_set if new_eval_set is None else new_eval_set,
        pinned=settings.eval_set,
        run=run,
    )
    rest, excluded = evalset.exclude(frame, held.rows)
    if len(rest) < MIN_TRAINING_ROWS:
        raise ValueError(
            f"only {len(rest)} rows are left after holding out evaluation set {held.set_id}"
        )
    train_rows, test_rows = train.split(rest, test_size or settings.test_size, seed)
    info = {
        "set_id": held.set_id,
        "uri": held.uri,
        "rows": len(held.rows),
        "excluded_rows": excluded,
        "created_because": held.manifest.get("why"),
        "source": held.manifest.get("source"),
        "sha256": held.manifest.get("sha256"),
    }
    with StageWriter(run, "processed") as stage:
        stage.write_parquet("train.parquet", train_rows)
        stage.write_parquet("test.parquet", test_rows)
        stage.write_json("eval_set.json", info)
    return {
        "train_rows": len(train_rows),
        "test_rows": len(test_rows),
        "eval_set": held.set_id,
        "eval_rows": len(held.rows),
        "excluded_rows": excluded,
        "eval_decision": decision.why,
    }


def _eval_rows(run: str) -> tuple[dict[str, Any], Any]:
    """The run's frozen evaluation set: its info from the ``processed`` stage and its rows."""
    from carprice import evalset

    info = runlake.read_json(run, "processed", "eval_set.json")
    return info, evalset.load(lake_root_of(run), info["set_id"]).rows


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
                # the raw snapshot's checksum: retrains on the same bytes are recognisable
                "data.sha256": runlake.manifest(run, "raw")["files"][RAW_NAME]["sha256"],
                names.DATA_SOURCE_SHA_TAG: source_sha256(run),
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
                "max_rounds": max_rounds,
                "mlflow_run_id": parent.info.run_id,
                "label": label,
            },
        )
    return parent.info.run_id


def evaluate(run: str, settings: Settings | None = None) -> dict[str, float]:
    """Fit the best settings on the training rows, calibrate intervals and score on test,
    then refit on training and test rows together (the model served); the frozen set
    scores that refit model."""
    import mlflow
    import pandas as pd

    from carprice import anchor, train

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
        max_rounds=best.get("max_rounds", train.MAX_ROUNDS),  # a tune stage written earlier
    )
    info, held = _eval_rows(run)
    frozen = frozen_metrics(model, held)
    with mlflow.start_run(run_id=best["mlflow_run_id"]):
        mlflow.log_metrics({f"test_{k}": v for k, v in model.metrics.items()} | frozen)
        mlflow.set_tag(names.EVAL_SET_TAG, info["set_id"])
        recorded = ("forest_rounds", "booster_weight", *anchor.settings())
        mlflow.log_params({k: model.params[k] for k in recorded})
        mlflow.log_table(pd.DataFrame(model.report), names.REPORT_ARTIFACT)
    from carprice.model import MODEL_FILES

    with tempfile.TemporaryDirectory() as tmp, StageWriter(run, "model") as stage:
        saved = model.save(Path(tmp) / "model")
        for name in MODEL_FILES:
            stage.write(name, (saved / name).read_bytes())
        stage.write_json("metrics.json", model.metrics)
        stage.write_json("frozen_metrics.json", frozen | {"eval_set": info["set_id"]})
    return model.metrics | frozen


def frozen_metrics(model: Any, rows: Any) -> dict[str, float]:
    """The model's figures on the frozen evaluation set: ``frozen_mae``, ``frozen_mape``,
    ``frozen_median_ape``, ``frozen_rows`` (rows it priced) and ``frozen_refused_rows``."""
    from carprice.evaluate import priced_metrics
    from carprice.schema import TARGET

    priced = model.price_frame(rows.drop(columns=[TARGET]))
    metrics = priced_metrics(rows[TARGET].to_numpy(), priced)
    return {
        "frozen_mae": metrics["mae"],
        "frozen_mape": metrics["mape"],
        "frozen_median_ape": metrics["median_ape"],
        "frozen_rows": metrics["priced_rows"],
        "frozen_refused_rows": metrics["refused_rows"],
    }


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
    eval_set = runlake.read_json(run, "processed", "eval_set.json")["set_id"]
    # Keyed on the MLflow run: a retry finds its version, a re-tuned run gets a new one.
    version = registry.find_version(settings.model_name, "run_id", best["mlflow_run_id"])
    if version is None:
        version = registry.register_version(
            _load_model(run),
            best["mlflow_run_id"],
            settings.model_name,
            tags={
                PIPELINE_TAG: best["label"],
                "lake.run": run,
                names.EVAL_SET_TAG: eval_set,
                names.DATA_SOURCE_SHA_TAG: source_sha256(run),
            },
        )
    with StageWriter(run, "registry") as stage:
        stage.write_json("version.json", {"model": settings.model_name, "version": version})
    return version


def promote(
    run: str,
    settings: Settings | None = None,
    min_gain: float | None = None,
    require_approval: bool | None = None,
) -> dict[str, Any]:
    """The promotion gate on the frozen evaluation set: ``champion`` on a gain beyond noise
    (paired bootstrap, at least ``min_gain``), else ``challenger``; with ``require_approval``
    the version waits as ``challenger`` whatever the gate says, for an operator to approve."""
    from carprice import registry

    settings = _connect(settings)
    version = runlake.read_json(run, "registry", "version.json")["version"]
    info, rows = _eval_rows(run)
    previous = registry.alias_version(settings.model_name, registry.CHAMPION)
    approval = settings.require_approval if require_approval is None else require_approval
    verdict = registry.promote(
        settings.model_name,
        version,
        rows,
        min_gain=settings.gate_min_gain if min_gain is None else min_gain,
        resamples=settings.gate_resamples,
        level=settings.gate_level,
        seed=settings.seed,
        eval_set=info["set_id"],
        require_approval=approval,
    )
    if previous == version:  # a retry after this version already went live
        previous = registry.replaced_by(settings.model_name, version)
    gain = verdict.gain
    promoted = verdict.promote and not approval
    outcome = {
        "model": settings.model_name,
        "version": version,
        "alias": registry.CHAMPION if promoted else registry.CHALLENGER,
        "promoted": promoted,
        "gate_passed": verdict.promote,
        "awaiting_approval": approval,
        "previous_champion": previous,
        "reason": verdict.reason,
        "eval_set": info["set_id"],
        "candidate_mae": verdict.candidate.get("mae"),
        "champion_mae": (verdict.champion or {}).get("mae"),
        "candidate_mape": verdict.candidate.get("mape"),
        "champion_mape": (verdict.champion or {}).get("mape"),
        "gain_mae": gain.gain if gain else None,
        "gain_low": gain.low if gain else None,
        "gain_high": gain.high if gain else None,
        "min_gain": verdict.min_gain,
        "shared_rows": verdict.shared_rows,
        "decided_at": time.time(),
    }
    with StageWriter(run, "promotion") as stage:
        stage.write(PROMOTION_FILE, json.dumps(outcome).encode())
    return outcome
