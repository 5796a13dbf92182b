"""The Airflow configuration is written once (stack/airflow_config.py): compose.yaml, the
stack's profiles and the tests' Airflow use it. Docker can't run here, so compose.yaml is
held to it structurally: every Airflow service's environment, key by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from stack import airflow_config
from stack.config import StackSettings
from stack.credentials import Credentials
from stack.services import build

ROOT = Path(__file__).resolve().parents[2]
SERVICES: dict[str, dict[str, Any]] = yaml.safe_load((ROOT / "compose.yaml").read_text())[
    "services"
]
AIRFLOW_SERVICES = sorted(n for n in SERVICES if n.startswith("airflow-"))
CREDS = Credentials(*(f"secret-{i}-value" for i in range(5)))


def _airflow_keys(env: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in env.items() if k.startswith("AIRFLOW__")}


@pytest.mark.parametrize("name", AIRFLOW_SERVICES)
def test_compose_airflow_env_is_the_distributed_profile_key_by_key(name: str) -> None:
    env = _airflow_keys(SERVICES[name]["environment"])
    shared = airflow_config.shared("distributed")
    for key, value in shared.items():
        assert env.get(key) == value, f"{name}: {key}={env.get(key)!r}, shared says {value!r}"
    extra = set(env) - set(shared) - airflow_config.DEPLOYMENT_KEYS
    assert not extra, f"{name} sets {sorted(extra)}: put them in stack/airflow_config.py"


@pytest.mark.parametrize("profile", airflow_config.PROFILES)
def test_stack_profiles_use_the_shared_settings(profile: str, tmp_path: Path) -> None:
    settings = StackSettings(profile=profile, state_dir=tmp_path, dashboard=False)
    airflow = {s.name: s.env for s in build(settings, CREDS) if s.name.startswith("airflow-")}
    assert airflow, "no Airflow service"
    shared = airflow_config.shared(profile)  # type: ignore[arg-type]
    for name, env in airflow.items():
        keys = _airflow_keys(env)
        assert {k: keys.get(k) for k in shared} == shared, name
        assert set(keys) - set(shared) <= airflow_config.DEPLOYMENT_KEYS, name


def test_compose_and_distributed_stack_set_the_same_keys(tmp_path: Path) -> None:
    """Beyond the shared values, both name the database, broker and result backend."""
    settings = StackSettings(profile="distributed", state_dir=tmp_path, dashboard=False)
    worker = next(s for s in build(settings, CREDS) if s.name == "airflow-worker-1")
    stack = _airflow_keys(worker.env)
    compose = _airflow_keys(SERVICES["airflow-worker"]["environment"])
    for key in ("AIRFLOW__CELERY__BROKER_URL", "AIRFLOW__CELERY__RESULT_BACKEND",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"):  # fmt: skip
        assert key in stack and key in compose, key
    assert stack["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")
    assert compose["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql")


def test_tests_airflow_uses_the_embedded_profile(tmp_path: Path) -> None:
    from tests.airflow_server import airflow_env

    env = airflow_env(tmp_path, "postgresql+psycopg2://u@h/db", 1234, tmp_path / "p.json", {})
    shared = airflow_config.shared("embedded")
    assert {k: env[k] for k in shared} == shared
    assert set(_airflow_keys(env)) - set(shared) <= airflow_config.DEPLOYMENT_KEYS


def test_unknown_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown profile"):
        airflow_config.shared("kubernetes")  # type: ignore[arg-type]


def test_distributed_profile_has_its_own_ports_and_hides_passwords(tmp_path: Path) -> None:
    settings = StackSettings(
        profile="distributed",
        state_dir=tmp_path,
        workers=3,
        database_url="postgresql://carprice:s3cret-pw@db.example:5433",
        dashboard=False,
    )
    ports = settings.ports()
    assert ports["flower"] == 5555
    worker_ports = [ports[f"airflow-worker-{i}-log-server"] for i in (1, 2, 3)]
    assert len(set(ports.values())) == len(ports), ports  # no port shared
    assert worker_ports == [8795, 8796, 8797]
    services = build(settings, CREDS)
    names = [s.name for s in services]
    assert names.count("flower") == 1
    assert [n for n in names if n.startswith("airflow-worker-")] == [
        "airflow-worker-1", "airflow-worker-2", "airflow-worker-3"
    ]  # fmt: skip
    for service in services:
        assert not any("s3cret-pw" in arg for arg in service.argv), service.name
    mlflow = next(s for s in services if s.name == "mlflow")
    assert mlflow.env["MLFLOW_BACKEND_STORE_URI"] == (
        "postgresql+psycopg2://carprice:s3cret-pw@db.example:5433/mlflow_db"
    )
    worker = next(s for s in services if s.name == "airflow-worker-2")
    assert worker.env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] == "8796"
    assert worker.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("db.example:5433/airflow")
    assert worker.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith(
        "postgresql+asyncpg://"
    )
    assert "--celery-hostname" in worker.argv and "airflow-worker-2" in worker.argv


def test_safe_url_hides_the_broker_password() -> None:
    from stack.celery_status import safe_url

    assert safe_url("redis://:pw@valkey:6379/0") == "redis://:***@valkey:6379/0"
    assert safe_url("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


def test_compose_flower_is_on_the_stack_port_behind_a_login() -> None:
    flower = SERVICES["airflow-flower"]
    assert flower["command"] == ["celery", "flower"]
    assert flower["ports"] == [f"{StackSettings().flower_port}:5555"]
    assert flower["environment"]["AIRFLOW__CELERY__FLOWER_BASIC_AUTH"].startswith("admin:${")
