"""The Airflow settings written once, per profile, for `make up`, the tests and compose.yaml.

`shared(profile)` holds what every deployment of a profile agrees on (executor, parsing
intervals, how a dead worker's task is detected). What differs per deployment (database,
broker, ports, paths, secrets) is named in `DEPLOYMENT_KEYS`: every place sets those itself.
tests/unit/test_airflow_config.py holds compose.yaml's Airflow environment to this, key by key.
"""

from __future__ import annotations

from typing import Literal

Profile = Literal["embedded", "distributed"]
PROFILES: tuple[Profile, ...] = ("embedded", "distributed")
EXECUTORS: dict[Profile, str] = {"embedded": "LocalExecutor", "distributed": "CeleryExecutor"}

_COMMON = {
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
    # New DAG files show up within seconds rather than the default 5 minutes.
    "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "10",
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
}

_DISTRIBUTED = {
    # A worker killed mid-task stops heartbeating; after this many seconds the scheduler fails
    # the try and the task's retries run it on a live worker (the default waits 5 minutes).
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
    # A worker reserves no more than it runs, so an idle worker is never starved of chunks.
    "AIRFLOW__CELERY__WORKER_PREFETCH_MULTIPLIER": "1",
}

#: Settings each deployment sets for itself (where things are, secrets, sizes).
DEPLOYMENT_KEYS = frozenset(
    {
        "AIRFLOW__CORE__PARALLELISM",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__CORE__DAGS_FOLDER",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CELERY__FLOWER_HOST",
        "AIRFLOW__CELERY__FLOWER_PORT",
        "AIRFLOW__CELERY__FLOWER_BASIC_AUTH",
        "AIRFLOW__API__HOST",
        "AIRFLOW__API__PORT",
        "AIRFLOW__API__BASE_URL",
        "AIRFLOW__API__WORKERS",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT",
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK",
    }
)


def shared(profile: Profile) -> dict[str, str]:
    """The AIRFLOW__ settings every deployment of ``profile`` uses, whatever its host."""
    if profile not in EXECUTORS:
        raise ValueError(f"unknown profile {profile!r}; choose one of {PROFILES}")
    settings = {**_COMMON, "AIRFLOW__CORE__EXECUTOR": EXECUTORS[profile]}
    if profile == "distributed":
        settings.update(_DISTRIBUTED)
    return settings


def async_url(sync_url: str) -> str:
    """The asyncpg twin of a psycopg2 URL (Airflow's API server needs one on PostgreSQL)."""
    return sync_url.replace("postgresql+psycopg2://", "postgresql+asyncpg://", 1)
