"""`python -m stack up|down|logs|status` (and `supervise`, which `up` runs in the background)."""

from __future__ import annotations

import argparse
import os
import sys
import time

from stack import control, envfile
from stack.config import StackSettings, get_stack_settings


def say(message: str) -> None:
    print(message, flush=True)


class UpError(RuntimeError):
    """`up` could not finish; the message says what to do."""


def _start_services(settings: StackSettings) -> None:
    """Check ports, prepare Airflow, spawn the supervisor and wait for every service."""
    from stack import airflow_init, health, ports
    from stack.credentials import load_or_create
    from stack.services import build

    creds, _ = load_or_create(settings.secrets_dir)
    busy = ports.busy_ports(settings.host, settings.ports())
    if busy:
        raise UpError("cannot start, ports busy:\n" + "\n".join(f"  - {m}" for m in busy))
    airflow_init.write_passwords(settings.state / "airflow", creds)
    if not (settings.state / "airflow" / ".migrated").is_file():
        say("airflow: creating its database (first run only, about a minute) …")
    airflow_init.migrate(settings, creds)
    (settings.state / "s3").mkdir(parents=True, exist_ok=True)
    pid = control.spawn_supervisor(settings)
    say(f"supervisor pid {pid} (honcho); logs in {settings.log_dir}")
    services = build(settings, creds)
    try:
        health.wait_all(
            services,
            settings.log_dir,
            settings.start_timeout,
            supervisor_alive=lambda: control.read_pid(settings.pidfile) is not None,
            first_stopped=lambda: control.first_stopped(settings.log_dir),
            say=say,
        )
    except health.StartError as err:
        say("start-up failed; stopping what started …")
        control.stop(settings, say)
        raise UpError(str(err)) from err


def _ensure_champion(settings: StackSettings, seed_uri: str) -> str:
    """Return the live champion version, training one through Airflow if none exists."""
    from carprice.settings import get_settings
    from stack import training
    from stack.credentials import load_or_create
    from stack.services import AIRFLOW_USER

    app = get_settings()
    creds, _ = load_or_create(settings.secrets_dir)
    mlflow_url = settings.url(settings.mlflow_port)
    version = training.champion_version(mlflow_url, app.model_name, app.model_alias)
    if version is not None:
        say(f"champion: {app.model_name} v{version} already registered, not retraining")
    else:
        conf: dict[str, object] = {"trials": settings.trials, "data_uri": seed_uri}
        if settings.max_rounds is not None:
            conf["max_rounds"] = settings.max_rounds
        airflow = training.Airflow(
            settings.url(settings.airflow_port), AIRFLOW_USER, creds.airflow_admin_password
        )
        say(f"training: waiting for DAG {settings.dag_id} to be parsed …")
        airflow.wait_for_dag(settings.dag_id, timeout=240)
        run_id = airflow.trigger(settings.dag_id, conf)
        say(f"training: triggered {settings.dag_id} run {run_id} with {conf}")
        result = airflow.follow(settings.dag_id, run_id, settings.train_timeout, say)
        if result["state"] != "success":
            failed = [t for t, s in result["tasks"].items() if s in ("failed", "upstream_failed")]
            raise UpError(
                f"training run {run_id} {result['state']} (tasks {failed}); the stack is still "
                f"up: read the task logs in the Airflow UI "
                f"{settings.url(settings.airflow_port)} or under "
                f"{settings.state / 'airflow' / 'logs'}"
            )
        version = training.champion_version(mlflow_url, app.model_name, app.model_alias)
        if version is None:
            raise UpError(
                f"run {run_id} succeeded but no '{app.model_alias}' alias exists in MLflow "
                f"({mlflow_url}); see the promote task's log in Airflow"
            )
    say(f"api: waiting until it serves v{version} …")
    training.wait_api_serving(settings.url(settings.api_port), version, timeout=300)
    return version


def up(settings: StackSettings) -> int:
    """Start (or reuse) the stack, make sure a champion is live, print URLs and credentials."""
    from stack import bootstrap
    from stack.credentials import load_or_create

    started = time.monotonic()
    settings.state.mkdir(parents=True, exist_ok=True)
    creds, created = load_or_create(settings.secrets_dir)
    if created:
        say(f"secrets: generated {len(created)} in {settings.secrets_dir} (mode 0600)")
    running = control.read_pid(settings.pidfile)
    if running is not None:
        say(f"stack already running (supervisor pid {running}); reusing it")
    else:
        _start_services(settings)
    client = bootstrap.s3_client(settings, creds)
    bootstrap.ensure_buckets(client)
    seed = bootstrap.seed_data(client, os.environ.get("CARPRICE_RAW_DATA"), settings.state)
    say(f"data: {seed.data_uri} ({seed.source}{', uploaded' if seed.uploaded else ''})")
    version = _ensure_champion(settings, seed.data_uri)
    env = envfile.values(settings, creds)
    env.update(
        {
            "DATA_URI": seed.data_uri,
            "DATA_SOURCE": seed.source.split(":")[0],
            "CHAMPION_VERSION": version,
        }
    )
    envfile.write(settings.env_file, env)
    count, rss, pss = control.memory(settings.state)
    say("")
    say(f"champion live: v{version}   ({time.monotonic() - started:.0f} s)")
    say(
        f"  Dashboard  {env['DASHBOARD_URL'] or '(not started: dashboard/app.py missing)'}"
        f"   operator password {env['DASHBOARD_OPERATOR_PASSWORD']}"
    )
    say(f"  API        {env['API_URL']}/docs")
    say(
        f"  Airflow    {env['AIRFLOW_URL']}   user {env['AIRFLOW_USER']} "
        f"password {env['AIRFLOW_PASSWORD']}"
    )
    say(f"  MLflow     {env['MLFLOW_URL']}")
    say(f"  S3         {env['S3_ENDPOINT']}   key {env['S3_KEY']} secret {env['S3_SECRET']}")
    say(f"  all of it  {settings.env_file} (0600); secrets in {settings.secrets_dir}")
    say(f"  memory     {count} processes, RSS {rss:.0f} MiB, PSS {pss:.0f} MiB")
    say("  stop with `make down`, follow logs with `make logs`")
    return 0


def down(settings: StackSettings) -> int:
    """Stop the supervisor and every process it started."""
    pid = control.read_pid(settings.pidfile)
    say("stopping the stack …" if pid else "stack not running; checking for leftovers …")
    killed = control.stop(settings, say)
    say(f"stopped{f' (killed {len(killed)} leftovers)' if killed else ''}")
    return 0


def logs(settings: StackSettings, service: str | None, follow: bool = True) -> int:
    """Follow the combined log (or one service's) with `tail -F`."""
    path = settings.log_dir / (f"{service}.log" if service else "stack.log")
    if not path.is_file():
        say(f"no log at {path}; has `make up` run?")
        return 1
    args = ["tail", "-n", "100"] + (["-F"] if follow else []) + [str(path)]
    os.execvp("tail", args)
    return 0  # pragma: no cover - exec does not return


def status(settings: StackSettings) -> int:
    """Supervisor pid, each service's health and the memory held."""
    import httpx

    from stack import health
    from stack.credentials import load_or_create
    from stack.services import build

    pid = control.read_pid(settings.pidfile)
    if pid is None:
        say("stack not running")
        return 3
    creds, _ = load_or_create(settings.secrets_dir)
    say(f"supervisor pid {pid}")
    with httpx.Client(timeout=5, trust_env=False) as client:
        for service in build(settings, creds):
            state = "healthy" if health.is_healthy(service, client) else "NOT healthy"
            say(f"  {service.name:<22} {state:<12} {service.log_file(settings.log_dir)}")
    count, rss, pss = control.memory(settings.state)
    say(f"  {count} processes, RSS {rss:.0f} MiB, PSS {pss:.0f} MiB")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the stack and put a champion live")
    sub.add_parser("down", help="stop everything the stack started")
    p_logs = sub.add_parser("logs", help="follow the logs")
    p_logs.add_argument("service", nargs="?", help="one service (default: all)")
    p_logs.add_argument("--no-follow", action="store_true")
    sub.add_parser("status", help="health of each service")
    sub.add_parser("supervise", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = get_stack_settings()
    try:
        if args.command == "up":
            return up(settings)
        if args.command == "down":
            return down(settings)
        if args.command == "logs":
            return logs(settings, args.service, follow=not args.no_follow)
        if args.command == "status":
            return status(settings)
        from stack import supervise

        return supervise.run(settings)
    except (UpError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the stack may be half up: run `make down`", file=sys.stderr)
        return 130
