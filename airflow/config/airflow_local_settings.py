"""Airflow local settings: pre-import the training stack in processes that fork task runners.

With the LocalExecutor, the scheduler forks its worker processes once and every task process
is forked from them. Each CarPrice task imports pandas, XGBoost, scikit-learn, Optuna,
MLflow and s3fs (10-30 s on a busy 2-core machine); importing them once here, in the
scheduler (LocalExecutor) or a Celery worker before it forks, makes every task start with
them already loaded. Other components (api-server, dag-processor, triggerer) skip this and
stay light. Put this folder on PYTHONPATH (or copy the file to $AIRFLOW_HOME/config/) to use
it; set CARPRICE_AIRFLOW_PRELOAD=0 to turn it off.
"""

from __future__ import annotations

import importlib
import os
import sys

_FORKING_COMMANDS = {"scheduler", "worker"}
_PRELOAD = (
    "pandas",
    "pyarrow.parquet",
    "s3fs",  # the lake (carprice.lake goes through fsspec)
    "sklearn.model_selection",
    "xgboost",
    "optuna",
    "mlflow",
    "carprice.train",
    "carprice.registry",
)


def _preload() -> None:
    if os.environ.get("CARPRICE_AIRFLOW_PRELOAD", "1") == "0":
        return
    if not _FORKING_COMMANDS.intersection(sys.argv[1:3]):
        return
    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:  # a worker image without the training extras still runs
            continue


_preload()
