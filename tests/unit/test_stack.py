"""Launcher logic: busy ports, secrets on disk, stack.env, reuse detection, log plumbing."""

from __future__ import annotations

import datetime
import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from stack import control, credentials, envfile, ports, services
from stack.config import REPO_ROOT, StackSettings
from stack.supervise import TeePrinter

REQUIRED_ENV = {
    "AIRFLOW_URL", "AIRFLOW_USER", "AIRFLOW_PASSWORD", "MLFLOW_URL", "API_URL",
    "DASHBOARD_URL", "S3_ENDPOINT", "S3_KEY", "S3_SECRET",
}  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StackSettings:
    for key in list(os.environ):
        if key.startswith("CARPRICE_STACK_"):
            monkeypatch.delenv(key)
    return StackSettings(state_dir=tmp_path / "state")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_busy_port_names_service_port_and_holder() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        messages = ports.busy_ports("127.0.0.1", {"mlflow": port})
    assert len(messages) == 1
    assert f"port {port} (mlflow) is in use by" in messages[0]
    assert "CARPRICE_STACK_MLFLOW_PORT" in messages[0]
    # psutil can see our own socket: the holder is this very process.
    assert f"pid {os.getpid()}" in messages[0]


def test_free_port_is_not_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert ports.busy_ports("127.0.0.1", {"api": port}) == []


def test_airflow_port_message_names_its_variable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        [message] = ports.busy_ports("127.0.0.1", {"airflow-worker-log-server": port})
    assert "CARPRICE_STACK_AIRFLOW_WORKER_LOG_PORT" in message


def test_secrets_are_random_private_and_reused(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    creds, created = credentials.load_or_create(folder)
    assert len(created) == 5
    assert _mode(folder) == 0o700
    for path in created:
        assert _mode(path) == 0o600, path
    assert len(creds.airflow_admin_password) >= 20
    assert creds.s3_key.isalnum() and creds.s3_secret.isalnum()
    other, _ = credentials.load_or_create(tmp_path / "other")
    assert other.airflow_jwt_secret != creds.airflow_jwt_secret

    again, created_again = credentials.load_or_create(folder)
    assert created_again == []
    assert again == creds


def test_loose_secret_file_is_tightened(tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    credentials.load_or_create(folder)
    loose = folder / "s3_secret"
    os.chmod(loose, 0o644)
    credentials.load_or_create(folder)
    assert _mode(loose) == 0o600


def test_stack_env_has_every_url_and_credential(settings: StackSettings) -> None:
    creds, _ = credentials.load_or_create(settings.secrets_dir)
    values = envfile.values(settings, creds)
    assert values.keys() >= REQUIRED_ENV
    assert values["AIRFLOW_PASSWORD"] == creds.airflow_admin_password
    assert values["S3_ENDPOINT"] == "http://127.0.0.1:9000"
    assert values["MLFLOW_URL"] == "http://127.0.0.1:5001"
    envfile.write(settings.env_file, values)
    assert _mode(settings.env_file) == 0o600
    assert envfile.read(settings.env_file) == values
    for line in settings.env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        assert key.isupper() and " " not in value


def test_ports_follow_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CARPRICE_STACK_API_PORT", "18800")
    monkeypatch.setenv("CARPRICE_STACK_MAX_ROUNDS", "")  # empty = unset, as in .env.example
    monkeypatch.setenv("CARPRICE_STACK_STATE_DIR", "some/state")
    s = StackSettings()
    assert s.ports()["api"] == 18800
    assert s.max_rounds is None
    assert s.state == REPO_ROOT / "some" / "state"
    assert StackSettings(dashboard=False).ports().keys() >= {"s3", "mlflow", "api"}
    assert "dashboard" not in StackSettings(dashboard=False).ports()


def test_services_carry_marker_and_secrets_stay_out_of_argv(settings: StackSettings) -> None:
    creds, _ = credentials.load_or_create(settings.secrets_dir)
    built = services.build(settings, creds)
    names = [s.name for s in built]
    assert names[:2] == ["s3", "mlflow"]
    assert {"airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "api"} <= set(names)
    for service in built:
        assert service.env[services.MARKER] == str(settings.state)
        argv = " ".join(service.argv)
        for secret in (creds.airflow_admin_password, creds.airflow_jwt_secret,
                       creds.airflow_api_secret_key, creds.s3_key, creds.s3_secret):  # fmt: skip
            assert secret not in argv, service.name
    mlflow = next(s for s in built if s.name == "mlflow")
    assert mlflow.env["MLFLOW_BACKEND_STORE_URI"] == f"sqlite:///{settings.state / 'mlflow.db'}"
    assert "--backend-store-uri" not in mlflow.argv  # one way for every profile: environment
    s3 = next(s for s in built if s.name == "s3").env
    assert s3["RCLONE_AUTH_KEY"] == f'"{creds.s3_key},{creds.s3_secret}"'  # one CSV field
    airflow = next(s for s in built if s.name == "airflow-scheduler").env
    assert airflow["AIRFLOW__API_AUTH__JWT_SECRET"] == creds.airflow_jwt_secret
    assert airflow["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"].startswith(
        str(settings.state)
    )
    assert airflow["CARPRICE_LAKE_ROOT"] == "s3://data"
    assert airflow["AWS_SECRET_ACCESS_KEY"] == creds.s3_secret
    assert airflow["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:8080"


def test_stale_or_foreign_pidfile_is_not_a_running_stack(settings: StackSettings) -> None:
    settings.state.mkdir(parents=True)
    assert control.read_pid(settings.pidfile) is None  # no file
    settings.pidfile.write_text("999999999\n")
    assert control.read_pid(settings.pidfile) is None  # no such process
    settings.pidfile.write_text(f"{os.getpid()}\n")
    assert control.read_pid(settings.pidfile) is None  # alive, but not a supervisor
    settings.pidfile.write_text("garbage")
    assert control.read_pid(settings.pidfile) is None


def test_live_supervisor_is_reused_and_stop_leaves_nothing(settings: StackSettings) -> None:
    settings.state.mkdir(parents=True)
    env = {**os.environ, services.MARKER: str(settings.state)}
    # Looks like `python -m stack supervise` to read_pid; ignores SIGTERM like a hung child.
    code = (
        "import signal,sys,time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "stack", "supervise"], env=env, stdout=subprocess.PIPE
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        settings.pidfile.write_text(f"{proc.pid}\n")
        assert control.read_pid(settings.pidfile) == proc.pid
        assert [p.pid for p in control.marked_processes(settings.state)] == [proc.pid]
        quick = settings.model_copy(update={"stop_grace": 0.5})
        killed = control.stop(quick, log=lambda _: None)
        assert killed == [proc.pid]  # SIGTERM ignored: escalated to SIGKILL
        proc.wait(timeout=10)  # psutil may have reaped it already (then rc reads 0)
        assert not psutil.pid_exists(proc.pid)
        assert control.marked_processes(settings.state) == []
        assert not settings.pidfile.exists()
    finally:
        proc.kill()


def test_tee_printer_and_first_stopped(tmp_path: Path) -> None:
    from honcho.printer import Message

    printer = TeePrinter(tmp_path)
    now = datetime.datetime.now()
    printer.width = 10
    printer.write(Message("line", "system     | x", now, "system", None))
    printer.write(Message("line", "s3 started (pid=1)\n", now, "system", None))
    printer.write(Message("line", b"listening\n", now, "mlflow", None))
    printer.write(Message("line", "mlflow stopped (rc=1)\n", now, "system", None))
    printer.write(Message("line", "api stopped (rc=-15)\n", now, "system", None))
    assert (tmp_path / "mlflow.log").read_text() == "listening\n"
    assert not (tmp_path / "system.log").exists()
    combined = (tmp_path / "stack.log").read_text()
    assert "mlflow     | listening" in combined
    assert control.first_stopped(tmp_path) == ("mlflow", 1)
    printer.write(Message("line", "airflow-worker-1 started (pid=42)\n", now, "system", None))
    printer.write(Message("line", "airflow-worker-1 started (pid=43)\n", now, "system", None))
    assert control.started_pids(tmp_path) == {"s3": 1, "airflow-worker-1": 43}
    assert control.started_pids(tmp_path / "none") == {}


def test_service_dying_at_start_is_named_with_its_log(tmp_path: Path) -> None:
    from stack.health import StartError, wait_all

    (tmp_path / "mlflow.log").write_text("boom: database is locked\n")
    dead = services.Service("mlflow", ["mlflow"], "http://127.0.0.1:9/health")
    with pytest.raises(StartError) as err:
        wait_all([dead], tmp_path, 30, lambda: False, lambda: ("mlflow", 1), lambda _: None)
    message = str(err.value)
    assert "mlflow exited with code 1" in message
    assert str(tmp_path / "mlflow.log") in message and "database is locked" in message


def test_service_never_healthy_times_out_with_its_log(tmp_path: Path) -> None:
    from stack.health import StartError, wait_all

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing answers there
    silent = services.Service("api", ["x"], f"http://127.0.0.1:{port}/health")
    with pytest.raises(StartError) as err:
        wait_all([silent], tmp_path, 0.5, lambda: True, lambda: None, lambda _: None)
    assert "not healthy after" in str(err.value) and str(tmp_path / "api.log") in str(err.value)


def test_api_and_monitor_share_one_quote_log(
    settings: StackSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API writes the quote log and model_monitor (an Airflow task, in another folder)
    reads it: one absolute SQLite path by default, the caller's database when configured."""
    monkeypatch.delenv("CARPRICE_DATABASE_URL", raising=False)
    creds, _ = credentials.load_or_create(settings.secrets_dir)
    built = {s.name: s.env for s in services.build(settings, creds)}
    url = built["api"]["CARPRICE_DATABASE_URL"]
    assert url == built["airflow-scheduler"]["CARPRICE_DATABASE_URL"]
    assert url.startswith("sqlite:////") and url.endswith("/carprice.db")
    assert Path(url.removeprefix("sqlite:///")).parent == settings.state.resolve()
    postgres = "postgresql+psycopg2://carprice@127.0.0.1:5432/carprice"
    monkeypatch.setenv("CARPRICE_DATABASE_URL", postgres)
    built = {s.name: s.env for s in services.build(settings, creds)}
    assert built["api"]["CARPRICE_DATABASE_URL"] == postgres
    assert built["airflow-scheduler"]["CARPRICE_DATABASE_URL"] == postgres
