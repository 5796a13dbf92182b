"""compose.yaml checked against the code: Docker can't run here, so its structure is the test.

Healthchecks and start order, profiles, ports and environment names against the pydantic
settings classes, Dockerfiles and the extras they install, and every secret coming from .env
with a placeholder the services refuse.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from api.config import ApiSettings
from carprice.settings import Settings
from dashboard.config import DashboardSettings
from stack.config import StackSettings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "compose.yaml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
INIT_JOBS = {"minio-init", "airflow-init"}
#: Image -> extra of pyproject.toml it must install.
EXTRAS = {"api/Dockerfile": "api", "dashboard/Dockerfile": "dashboard", "airflow/Dockerfile":
          "airflow"}  # fmt: skip
#: Environment names the compose file sets that no settings class reads, and why.
NOT_SETTINGS = {
    "CARPRICE_REQUIRED_SECRETS",  # docker/check-secrets.sh
    "CARPRICE_AIRFLOW_PRELOAD",  # airflow/config/airflow_local_settings.py
}
TASK_ENV = {"MLFLOW_TRACKING_URI", "MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY", "CARPRICE_LAKE_ROOT"}  # fmt: skip


def _env(name: str) -> dict[str, str]:
    env = SERVICES[name].get("environment") or {}
    assert isinstance(env, dict), f"{name}: use the mapping form for environment"
    return {k: str(v) for k, v in env.items()}


def _host_ports(name: str) -> dict[int, int]:
    """container port -> host port."""
    out = {}
    for mapping in SERVICES[name].get("ports", []):
        host, container = str(mapping).rsplit(":", 1)
        out[int(container)] = int(host.rsplit(":", 1)[-1])
    return out


def _prefixed_fields(cls: type, prefix: str) -> set[str]:
    names = set()
    for field_name, field in cls.model_fields.items():
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias.upper())
        else:
            names.add(prefix + field_name.upper())
    return names


def _depends(name: str) -> dict[str, dict[str, Any]]:
    deps = SERVICES[name].get("depends_on") or {}
    assert isinstance(deps, dict), f"{name}: depends_on must name a condition"
    return deps


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_healthcheck(name: str) -> None:
    check = SERVICES[name].get("healthcheck")
    assert check and not check.get("disable"), f"{name} has no healthcheck"
    assert check["test"][0] in ("CMD", "CMD-SHELL"), name


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_depends_on_waits_for_health_or_finished_init(name: str) -> None:
    for dep, spec in _depends(name).items():
        assert dep in SERVICES, f"{name} depends on unknown {dep}"
        wanted = "service_completed_successfully" if dep in INIT_JOBS else "service_healthy"
        assert spec.get("condition") == wanted, f"{name} -> {dep}: {spec}"
    if name in INIT_JOBS:
        assert SERVICES[name].get("restart") == "no", f"{name} is one-shot"


def test_expected_services_exist() -> None:
    assert set(SERVICES) >= {
        "postgres", "valkey", "minio", "minio-init", "mlflow", "airflow-init",
        "airflow-api-server", "airflow-scheduler", "airflow-dag-processor",
        "airflow-triggerer", "airflow-worker", "api", "dashboard",
    }  # fmt: skip


def test_profiles_include_all_and_are_closed_under_depends_on() -> None:
    profiles: set[str] = set()
    for name, svc in SERVICES.items():
        assert "all" in svc.get("profiles", []), f"{name} is not in profile 'all'"
        profiles.update(svc["profiles"])
    assert profiles >= {"all", "serving", "pipeline"}
    for profile in profiles:
        members = {n for n, s in SERVICES.items() if profile in s["profiles"]}
        for name in members:
            missing = set(_depends(name)) - members
            assert not missing, f"profile {profile}: {name} needs {missing}"


def test_host_ports_match_the_stack_and_the_clients_defaults() -> None:
    stack = StackSettings()
    dash = DashboardSettings()
    assert _host_ports("api") == {8800: stack.api_port}
    assert _host_ports("dashboard") == {8501: stack.dashboard_port}
    assert _host_ports("airflow-api-server") == {8080: stack.airflow_port}
    assert _host_ports("mlflow") == {5000: stack.mlflow_port}
    assert _host_ports("minio")[9000] == stack.s3_port
    # The dashboard's defaults point at the same host ports.
    assert urlparse(dash.api_url).port == stack.api_port
    assert urlparse(dash.mlflow_url).port == stack.mlflow_port
    assert urlparse(dash.airflow_url).port == stack.airflow_port
    # Commands listen where the port mappings point.
    assert "--port=5000" in SERVICES["mlflow"]["command"]
    dockerfiles = {n: (ROOT / SERVICES[n]["build"]["dockerfile"]).read_text() for n in
                   ("api", "dashboard")}  # fmt: skip
    assert '"--port", "8800"' in dockerfiles["api"]
    assert '"--server.port", "8501"' in dockerfiles["dashboard"]


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_carprice_env_names_are_real_settings(name: str) -> None:
    known = (
        _prefixed_fields(Settings, "CARPRICE_")
        | _prefixed_fields(ApiSettings, "CARPRICE_API_")
        | _prefixed_fields(DashboardSettings, "CARPRICE_DASHBOARD_")
        | NOT_SETTINGS
    )
    for key in _env(name):
        if key.startswith("CARPRICE_"):
            assert key in known, f"{name}: {key} is read by no settings class"


def test_service_urls_point_at_compose_services() -> None:
    api, dash = _env("api"), _env("dashboard")
    assert api["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert dash["CARPRICE_DASHBOARD_API_URL"] == "http://api:8800"
    assert dash["CARPRICE_DASHBOARD_MLFLOW_URL"] == "http://mlflow:5000"
    assert dash["CARPRICE_DASHBOARD_AIRFLOW_URL"] == "http://airflow-api-server:8080"


@pytest.mark.parametrize("name", sorted(n for n in SERVICES if n.startswith("airflow-")))
def test_airflow_tasks_get_the_pipeline_contract(name: str) -> None:
    env = _env(name)
    assert env.keys() >= TASK_ENV, TASK_ENV - env.keys()
    assert env["CARPRICE_LAKE_ROOT"] == "s3://data"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith(
        "http://airflow-api-server:8080/"
    )
    assert SERVICES[name]["build"]["dockerfile"] == "airflow/Dockerfile"


@pytest.mark.parametrize("name", sorted(n for n in SERVICES if "build" in SERVICES[n]))
def test_dockerfiles_exist_and_install_from_the_lock(name: str) -> None:
    build = SERVICES[name]["build"]
    dockerfile = ROOT / build.get("context", ".") / build["dockerfile"]
    assert dockerfile.is_file(), dockerfile
    text = dockerfile.read_text()
    assert "-c requirements.lock" in text, f"{dockerfile}: install pinned to the lock"
    extra = EXTRAS.get(build["dockerfile"])
    if extra:
        assert f'".[{extra}]"' in text, f"{dockerfile} must install the {extra} extra"
        pyproject = (ROOT / "pyproject.toml").read_text()
        assert re.search(rf"^{extra} = \[", pyproject, re.M), f"no extra {extra!r}"
    for source in re.findall(r"^COPY (\S+)", text, re.M):
        if not source.startswith("--"):
            assert (ROOT / source).exists(), f"{dockerfile}: COPY {source} does not exist"


def test_dockerignore_keeps_secrets_and_state_out() -> None:
    lines = set((ROOT / ".dockerignore").read_text().splitlines())
    assert {".env", ".stack", ".venv", ".git"} <= lines


def test_every_compose_variable_is_documented() -> None:
    used = set(re.findall(r"(?<!\$)\$\{([A-Z0-9_]+)", COMPOSE_TEXT))
    documented = set(re.findall(r"^#?\s*([A-Z0-9_]+)=", ENV_EXAMPLE, re.M))
    assert used, "no variables found: regex broken?"
    assert not used - documented, f"undocumented in .env.example: {sorted(used - documented)}"


def test_secrets_come_from_env_with_refused_placeholders() -> None:
    required: set[str] = set()
    for name in SERVICES:
        env = _env(name)
        required.update(env.get("CARPRICE_REQUIRED_SECRETS", "").split())
        for key, value in env.items():
            is_secret = re.search(r"PASSWORD|SECRET|FERNET", key) and not key.endswith("_FILE")
            if is_secret and key != "CARPRICE_REQUIRED_SECRETS":
                assert value.startswith("${"), f"{name}: {key} is hard-coded"
    compose_names = {"AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET",
                     "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY",
                     "AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY",
                     "AWS_SECRET_ACCESS_KEY": "MINIO_ROOT_PASSWORD"}  # fmt: skip
    for secret in required:
        var = compose_names.get(secret, secret)
        match = re.search(rf"^{var}=(.*)$", ENV_EXAMPLE, re.M)
        assert match and match[1].startswith("change-me"), f"{var} needs a placeholder"


@pytest.mark.parametrize(
    ("value", "code"), [("change-me-postgres", 64), ("", 64), ("s3cr3t-Value", 0)]
)
def test_check_secrets_refuses_placeholders(value: str, code: int) -> None:
    env = {"PATH": "/usr/bin:/bin", "CARPRICE_REQUIRED_SECRETS": "DB_PASSWORD",
           "DB_PASSWORD": value}  # fmt: skip
    done = subprocess.run(
        ["sh", str(ROOT / "docker" / "check-secrets.sh"), "true"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == code, done.stderr
    if code:
        assert "DB_PASSWORD" in done.stderr and "placeholder" in done.stderr


def test_postgres_init_creates_the_three_databases() -> None:
    script = (ROOT / "docker" / "postgres" / "init-databases.sh").read_text()
    assert "CREATE DATABASE mlflow_db" in script and "CREATE DATABASE airflow" in script
    assert "CREATE DATABASE carprice" in script  # the quote log, beside the other two
    for name in ("api", "airflow-scheduler", "airflow-worker"):  # writes it; model_monitor reads
        assert _env(name)["CARPRICE_DATABASE_URL"].endswith("@postgres:5432/carprice"), name
    assert "postgres" in SERVICES["api"]["depends_on"]
    mounts = " ".join(str(v) for v in SERVICES["postgres"]["volumes"])
    assert "init-databases.sh:/docker-entrypoint-initdb.d/" in mounts
    assert "/mlflow_db" in " ".join(SERVICES["mlflow"]["command"])
    assert (
        "@postgres:5432/airflow" in _env("airflow-scheduler")["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    )


def test_the_image_that_trains_has_the_openmp_runtime_lightgbm_links() -> None:
    """Training (the DAG's tasks) fits LightGBM, which loads the system's libgomp.so.1; the
    slim Python image lacks it. Serving images only load XGBoost, which bundles its own."""
    text = (ROOT / "airflow/Dockerfile").read_text()
    install = text.index("libgomp1")
    assert "apt-get install" in text[:install].rsplit("RUN", 1)[-1]
    assert install < text.index("uv pip install"), "libgomp1 before the packages that need it"
