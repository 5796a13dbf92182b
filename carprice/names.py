"""The names every part of CarPrice must agree on: registry, aliases, DAG ids, lake paths.

Plain constants with no imports, so the API, the dashboard, the stack, the DAGs and the
tests can all use them without pulling in anything heavy. Settings take their defaults from
here; a deployment may still rename the experiment or the model through the environment.
"""

from __future__ import annotations

EXPERIMENT = "car_price"
MODEL_NAME = "car_price"

CHAMPION = "champion"  # the live model: the API serves it, the gate is the only thing moving it
CHALLENGER = "challenger"  # a registered model that did not beat the champion
ALIASES: tuple[str, ...] = (CHAMPION, CHALLENGER)

TRAINING_DAG = "car_price_pipeline"
BATCH_DAG = "batch_quotes"
MONITOR_DAG = "model_monitor"

# Lake layout, relative to the lake root (a local folder or s3://bucket).
RAW_FILE = "car_details_v3.csv"
RAW_KEY = f"raw/{RAW_FILE}"  # the file the training DAG reads by default
RUNS_PREFIX = "runs"  # runs/<run id>/<stage>/…: one training run's stages
EVAL_PREFIX = "eval"  # eval/<set id>/rows.parquet + manifest.json: frozen evaluation sets
BATCH_OUT_PREFIX = "batch/out"  # batch_quotes writes <input name> here by default
SALES_PREFIX = "sales"  # sales/<date>/sales.csv: matched sales model_monitor adds to training
MONITOR_REPORTS_PREFIX = "reports/monitor"  # reports/monitor/<date>.html: model_monitor


def raw_uri(lake_root: str) -> str:
    """Where the training pipeline reads the raw listings by default."""
    return f"{lake_root.rstrip('/')}/{RAW_KEY}"


# MLflow artifact of every training run: the evaluation report table (carprice.report).
REPORT_ARTIFACT = "evaluation/report.json"

# Tags on training runs and model versions.
EVAL_SET_TAG = "carprice.eval_set"  # the frozen evaluation set a run was scored on (and held out)
EVENTS_TAG = "carprice.events"  # JSON list of what happened to a version (went live, retired, …)
LIVE_SINCE_TAG = "carprice.live_since"  # when the version last became champion (ISO, UTC)
REPLACED_TAG = "carprice.replaced"  # the champion it replaced then
PROMOTION_TAG = "carprice.promotion"  # how: gate, approval, rollback
PROMOTION_REASON_TAG = "carprice.promotion_reason"
ROLLED_BACK_TAG = "carprice.rolled_back"  # reason, on a version rolled back from champion
# SHA-256 of the configured raw file a run trained on (data_uri's bytes, before any extra_data
# was appended): `make up` retrains when the configured data is not the champion's.
DATA_SOURCE_SHA_TAG = "data.source_sha256"
