"""
### car_price_pipeline

Trains the used-car price model from the raw CarDekho CSV in the data lake and puts it
behind the promotion gate:

**ingest → validate → split → tune → evaluate → register → promote**

- **ingest** snapshots `data_uri` (default `{lake_root}/raw/car_details_v3.csv`), with any
  `extra_data` CSVs appended (model_monitor's matched sales), into
  `{lake_root}/runs/<run id>/raw/`.
- **validate** cleans it: clean rows (Parquet), rejected rows with reasons (CSV) and a
  data profile (JSON) under `validated/`.
- **split** picks the frozen evaluation set (`{lake_root}/eval/<set id>/`; created on the
  first run, when `new_eval_set` is ticked or when the data's columns change), drops its
  listings from the clean rows, and writes the train/test splits (Parquet) under `processed/`.
- **tune** runs `trials` hyperparameter trials as MLflow child runs under one parent run
  (experiment `car_price`); `max_rounds` caps boosting rounds (small = quick, weaker model).
- **evaluate** refits the best settings, calibrates intervals and scores the test split and
  the frozen evaluation set (`frozen_*` metrics).
- **register** adds a model version (no alias); **promote** is the gate: both models price
  the frozen evaluation set, and the new version becomes `champion` only if the low end of the
  paired-bootstrap interval of its MAE gain is above `min_gain`, else `challenger`. With
  `require_approval` it always waits as `challenger` until an operator approves it
  (Pipelines page).

Each stage is written first and marked complete (`_SUCCESS`) last; later steps refuse
unfinished stages. A failure anywhere leaves `champion` untouched.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, get_current_context, task

from carprice import names
from carprice.settings import get_settings

_settings = get_settings()


@dag(
    dag_id=names.TRAINING_DAG,  # == this file's stem
    schedule=None,
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # the gate compares with the champion: one decision at a time
    doc_md=__doc__,
    tags=["carprice", "training"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=10)},
    params={
        "trials": Param(
            _settings.trials,
            type="integer",
            minimum=1,
            maximum=500,
            description="Hyperparameter search trials (MLflow child runs).",
        ),
        "data_uri": Param(
            names.raw_uri(_settings.lake_root),
            type="string",
            minLength=1,
            description="Raw CSV in the car_details_v3 format (s3://, path, URL).",
        ),
        "max_rounds": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            description="Optional cap on boosting rounds (small values give weaker models).",
        ),
        "min_gain": Param(
            _settings.gate_min_gain,
            type="number",
            minimum=0,
            maximum=0.5,
            description="Gate: minimum MAE gain over the champion, as a share of its MAE "
            "(0.01 = 1%), that the bootstrap interval's low end must clear.",
        ),
        "require_approval": Param(
            _settings.require_approval,
            type="boolean",
            description="Wait as challenger for an operator's approval instead of letting "
            "the gate promote.",
        ),
        "new_eval_set": Param(
            False,
            type="boolean",
            description="Hold out a new frozen evaluation set from this run's data.",
        ),
        "extra_data": Param(
            [],
            type="array",
            items={"type": "string", "minLength": 1},
            description="More CSVs in the same raw format appended to data_uri, e.g. the "
            "matched sales model_monitor exports under sales/.",
        ),
        "reason": Param(
            None,
            type=["null", "string"],
            description="Why this run was started (model_monitor writes its finding here).",
        ),
    },
)
def car_price_pipeline() -> None:
    @task
    def ingest() -> str:
        """Snapshot the raw file into this run's folder; returns the run's lake prefix."""
        from carprice import pipeline, runlake
        from carprice.settings import get_settings

        context = get_current_context()
        run = runlake.run_uri(get_settings().lake_root, context["run_id"])
        params = context["params"]
        if params.get("reason"):
            print("requested because:", params["reason"])
        print(pipeline.ingest(params["data_uri"], run, params.get("extra_data") or ()))
        return run

    @task
    def validate(run: str) -> str:
        """Clean rows, rejected rows with reasons, data profile."""
        from carprice import pipeline

        print(pipeline.validate(run))
        return run

    @task
    def split(run: str) -> str:
        """The frozen evaluation set, then train/test splits as Parquet."""
        from carprice import pipeline

        new = bool(get_current_context()["params"].get("new_eval_set"))
        print(pipeline.split(run, new_eval_set=new))
        return run

    @task
    def tune(run: str) -> str:
        """Trials as MLflow child runs; returns the run prefix (best settings in the lake)."""
        from carprice import pipeline

        params = get_current_context()["params"]
        print("mlflow parent run", pipeline.tune(run, params["trials"], params["max_rounds"]))
        return run

    @task
    def evaluate(run: str) -> str:
        """Refit with the best settings and score on the test split."""
        from carprice import pipeline

        print(pipeline.evaluate(run))
        return run

    @task
    def register(run: str) -> str:
        """New model version, no alias yet."""
        from carprice import pipeline

        print("registered version", pipeline.register(run))
        return run

    @task
    def promote(run: str) -> dict:
        """The gate on the frozen set: champion on a gain beyond noise, else challenger."""
        from carprice import pipeline

        params = get_current_context()["params"]
        return pipeline.promote(
            run, min_gain=params["min_gain"], require_approval=params["require_approval"]
        )

    promote(register(evaluate(tune(split(validate(ingest()))))))


car_price_pipeline()
