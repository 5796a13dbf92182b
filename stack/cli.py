"""`python -m stack up|down|logs|status` (and `supervise`, which `up` runs in the background)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING

from stack import control, envfile
from stack.config import StackSettings, get_stack_settings

if TYPE_CHECKING:
    from stack.bootstrap import Seed
    from stack.credentials import Credentials


def say(message: str) -> None:
    print(message, flush=True)


class UpError(RuntimeError):
    """`up` could not finish; the message says what to do."""


def prepare(settings: StackSettings, creds: Credentials) -> None:
    """Everything before the services start: Airflow's login file, the PostgreSQL databases
    (distributed profile), Airflow's schema, the S3 folder. Tests that run the services
    themselves call it too."""
    from stack import airflow_init

    airflow_init.write_passwords(settings.state / "airflow", creds)
    created = airflow_init.ensure_databases(settings)
    if created:
        say(f"postgresql: created databases {', '.join(created)}")
    if airflow_init.migrate(settings, creds, announce=say):
        say("airflow: database schema ready")
    (settings.state / "s3").mkdir(parents=True, exist_ok=True)


def _start_services(settings: StackSettings) -> None:
    """Check ports, prepare Airflow, spawn the supervisor and wait for every service."""
    from stack import health, ports
    from stack.credentials import load_or_create
    from stack.services import build

    creds, _ = load_or_create(settings.secrets_dir)
    busy = ports.busy_ports(settings.host, settings.ports())
    if busy:
        raise UpError("cannot start, ports busy:\n" + "\n".join(f"  - {m}" for m in busy))
    prepare(settings, creds)
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


def stale_reason(version: str | None, trained_on: str | None, seed: Seed) -> str | None:
    """Why the champion can't be served on this data (None: it can). A champion trained on
    other bytes than the configured data's, or on bytes nobody recorded, is the wrong model."""
    if version is None:
        return None
    if trained_on is None:
        return f"champion v{version} records no checksum of its training data"
    if trained_on != seed.sha256:
        return (
            f"champion v{version} was trained on other data (sha256 {trained_on[:12]}…) than "
            f"this stack's ({seed.source}, sha256 {seed.sha256[:12]}…)"
        )
    return None


def _train(settings: StackSettings, seed: Seed, reason: str) -> str:
    """Run the training DAG on the seed data, follow it, return the champion version after."""
    from carprice.settings import get_settings
    from stack import training
    from stack.credentials import load_or_create
    from stack.services import AIRFLOW_USER

    app = get_settings()
    creds, _ = load_or_create(settings.secrets_dir)
    conf: dict[str, object] = {"trials": settings.trials, "data_uri": seed.data_uri}
    if settings.max_rounds is not None:
        conf["max_rounds"] = settings.max_rounds
    airflow = training.Airflow(
        settings.url(settings.airflow_port), AIRFLOW_USER, creds.airflow_admin_password
    )
    say(f"training: waiting for DAG {settings.dag_id} to be parsed …")
    airflow.wait_for_dag(settings.dag_id, timeout=240)
    run_id = airflow.trigger(settings.dag_id, {**conf, "reason": f"make up: {reason}"})
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
    mlflow_url = settings.url(settings.mlflow_port)
    version = training.champion_version(mlflow_url, app.model_name, app.model_alias)
    if version is None:
        raise UpError(
            f"run {run_id} succeeded but no '{app.model_alias}' alias exists in MLflow "
            f"({mlflow_url}); see the promote task's log in Airflow"
        )
    return version


def _ensure_champion(settings: StackSettings, seed: Seed) -> str:
    """Return the live champion version once it was trained on the seed data: train one
    through Airflow if there is none, or if the registered one was trained on other data."""
    from carprice.settings import get_settings
    from stack import training

    app = get_settings()
    mlflow_url = settings.url(settings.mlflow_port)
    version = training.champion_version(mlflow_url, app.model_name, app.model_alias)
    trained_on = (
        training.champion_data_sha(mlflow_url, app.model_name, version) if version else None
    )
    stale = stale_reason(version, trained_on, seed)
    if version is not None and stale is None:
        say(
            f"champion: {app.model_name} v{version} already registered, trained on this data "
            f"(sha256 {seed.sha256[:12]}…), not retraining"
        )
    else:
        if stale:
            say(f"champion: {stale}: training on the configured data instead")
        version = _train(settings, seed, stale or "no champion yet")
        after = training.champion_data_sha(mlflow_url, app.model_name, version)
        still = stale_reason(version, after, seed)
        if still:
            raise UpError(
                f"the run trained on the configured data did not go live: {still}. The "
                "promotion gate kept it (its verdict is on the version in MLflow and on "
                "Pipelines); approve the challenger on Pipelines, or retrain there, and run "
                "`make up` again. The stack is still up."
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
    if settings.distributed:
        say(
            f"profile: distributed (CeleryExecutor, {settings.workers} workers, "
            "PostgreSQL for Airflow and MLflow)"
        )
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
    uploaded = ", replaced: the file changed" if seed.replaced else ", uploaded"
    say(f"data: {seed.data_uri} ({seed.source}{uploaded if seed.uploaded else ''})")
    version = _ensure_champion(settings, seed)
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
    say(f"  Dashboard  {env['DASHBOARD_URL'] or '(not started: dashboard/app.py missing)'}")
    say(f"  API        {env['API_URL']}/docs")
    say(
        f"  Airflow    {env['AIRFLOW_URL']}   user {env['AIRFLOW_USER']} "
        f"password {env['AIRFLOW_PASSWORD']}"
    )
    say(f"  MLflow     {env['MLFLOW_URL']}")
    if settings.distributed:
        say(
            f"  Flower     {env['FLOWER_URL']}   same login as Airflow; "
            f"{settings.workers} Celery workers on {settings.broker_url.split('@')[-1]}"
        )
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


def _workers(settings: StackSettings) -> dict[str, object]:
    """The Celery workers that answer the broker's ping (none with the LocalExecutor, which
    runs tasks in the scheduler's own subprocesses)."""
    if not settings.distributed:
        return {"workers": []}
    from stack.celery_status import live_workers, safe_url

    report: dict[str, object] = {"broker": safe_url(settings.broker_url)}
    try:
        report["workers"] = live_workers(settings.broker_url)
    except Exception as err:  # noqa: BLE001 - a status report names the failure, never raises
        report["workers"] = []
        report["workers_error"] = f"broker unreachable: {type(err).__name__}: {err}"[:300]
    return report


def _running_profile(settings: StackSettings) -> StackSettings:
    """The settings with the profile the running stack was started with (stack.env records
    it), so `status` without CARPRICE_STACK_PROFILE still describes a distributed stack."""
    try:
        started = envfile.read(settings.env_file).get("PROFILE")
    except OSError:
        return settings
    if started in ("embedded", "distributed") and started != settings.profile:
        return settings.model_copy(update={"profile": started})
    return settings


def status_report(settings: StackSettings) -> dict[str, object]:
    """What runs, on what: the profile and executor, each database's backend, the Celery
    workers that answer by name, each service's URL and health, and the memory held."""
    import httpx

    from stack import health
    from stack.credentials import load_or_create
    from stack.databases import kind
    from stack.services import build, mlflow_store_url

    pid = control.read_pid(settings.pidfile)
    if pid is None:
        return {"running": False, "state_dir": str(settings.state), "profile": settings.profile}
    settings = _running_profile(settings)
    creds, _ = load_or_create(settings.secrets_dir)
    services = build(settings, creds)
    by_name = {s.name: s for s in services}
    airflow = by_name["airflow-scheduler"].env
    with httpx.Client(timeout=5, trust_env=False) as client:
        states = [
            {
                "name": s.name,
                "url": s.health_url,
                "state": "healthy" if health.is_healthy(s, client) else "unhealthy",
                "log": str(s.log_file(settings.log_dir)),
            }
            for s in services
        ]
    count, rss, pss = control.memory(settings.state)
    return {
        "running": True,
        "profile": settings.profile,
        "supervisor_pid": pid,
        "executor": airflow["AIRFLOW__CORE__EXECUTOR"],
        "databases": {
            "airflow": kind(airflow["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
            "mlflow": kind(mlflow_store_url(settings)),
            "quote_log": kind(by_name["api"].env["CARPRICE_DATABASE_URL"]),
        },
        **_workers(settings),
        "services": states,
        "memory": {"processes": count, "rss_mib": round(rss), "pss_mib": round(pss)},
    }


def status(settings: StackSettings) -> int:
    """`status_report` as JSON on stdout; exit 3 when the stack is not running."""
    import json

    report = status_report(settings)
    print(json.dumps(report, indent=2), flush=True)
    return 0 if report["running"] else 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stack", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start the stack and put a champion live")
    sub.add_parser("down", help="stop everything the stack started")
    p_logs = sub.add_parser("logs", help="follow the logs")
    p_logs.add_argument("service", nargs="?", help="one service (default: all)")
    p_logs.add_argument("--no-follow", action="store_true")
    sub.add_parser("status", help="JSON: executor, databases, workers, each service's health")
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
