"""
### model_monitor

Daily (and on demand): is the live model still right about the cars being quoted?

**summarise → retrain?**

- **summarise** reads the quote log (`CARPRICE_DATABASE_URL`) for the last `days` days:
  live MAE, MAPE, median APE and interval coverage on quotes with a recorded sale, by model
  version and by week, and input drift (PSI) against the champion's training data. It
  writes an HTML report to `{lake_root}/reports/monitor/<date>.html`, logs the figures to
  the MLflow experiment `car_price_monitor`, and decides:
  - retrain when the live MAPE is more than `mape_points` above the champion's test MAPE
    over at least `min_sales` sales, or when at least `drift_features` inputs drifted
    (PSI ≥ 0.25) over at least `min_quotes` quotes;
  - with a retrain due, the matched sales are written as raw training rows to
    `{lake_root}/sales/<date>/sales.csv`.
- **retrain** (only when due and `allow_retrain` is on) triggers `car_price_pipeline` with
  those sales added to its training data, the reason as its `reason` and `retrain_trials`
  trials; the promotion gate still decides whether the new model goes live.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.sdk import Param, dag, get_current_context, task

from carprice import names
from carprice.settings import get_settings

_settings = get_settings()


@dag(
    dag_id=names.MONITOR_DAG,  # == this file's stem
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # the trigger's conf gets a real list of sales files
    doc_md=__doc__,
    tags=["carprice", "monitoring"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    params={
        "days": Param(7, type="integer", minimum=1, maximum=365, description="Window, days."),
        "mape_points": Param(
            5.0,
            type="number",
            minimum=0,
            description="Retrain when live MAPE exceeds the champion's test MAPE by this "
            "many percentage points …",
        ),
        "min_sales": Param(
            30, type="integer", minimum=1, description="… measured on at least this many sales."
        ),
        "drift_features": Param(
            2,
            type="integer",
            minimum=1,
            description="Retrain when at least this many inputs drifted (PSI ≥ 0.25) …",
        ),
        "min_quotes": Param(
            50, type="integer", minimum=1, description="… over at least this many quotes."
        ),
        "retrain_trials": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=500,
            description="Hyperparameter trials of a retrain this run triggers; empty: "
            f"the pipeline's default ({_settings.trials}).",
        ),
        "allow_retrain": Param(
            True,
            type="boolean",
            description="Trigger car_price_pipeline when a threshold is crossed (off: report "
            "only).",
        ),
    },
)
def model_monitor() -> None:
    @task
    def summarise() -> dict:
        """Figures, report, MLflow run and the retrain decision (see carprice.monitor)."""
        from carprice.monitor import Thresholds, summarise

        context = get_current_context()
        p = context["params"]
        thresholds = Thresholds(
            mape_points=p["mape_points"],
            min_sales=p["min_sales"],
            drift_features=p["drift_features"],
            min_quotes=p["min_quotes"],
        )
        out = summarise(days=p["days"], thresholds=thresholds, requested=context["run_id"])
        print(out)
        return out

    @task.short_circuit
    def retrain_due(result: dict) -> bool:
        """Go on to the trigger only when a threshold was crossed and retraining is allowed."""
        due = bool(result["retrain"]) and bool(get_current_context()["params"]["allow_retrain"])
        print("retrain due" if due else "no retrain:", *result["reasons"], sep="\n")
        return due

    result = summarise()
    trigger = TriggerDagRunOperator(
        task_id="retrain",
        trigger_dag_id=names.TRAINING_DAG,
        conf={
            "extra_data": "{{ [ti.xcom_pull(task_ids='summarise')['sales_uri']] "
            "if ti.xcom_pull(task_ids='summarise')['sales_uri'] else [] }}",
            "trials": "{{ params.retrain_trials or " + str(_settings.trials) + " }}",
            "reason": "model_monitor {{ run_id }}: "
            "{{ ti.xcom_pull(task_ids='summarise')['reasons'] | join('; ') }}",
        },
        wait_for_completion=False,
    )
    retrain_due(result) >> trigger


model_monitor()
