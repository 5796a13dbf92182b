"""batch_quotes scale-out: one large lake CSV priced on the distributed profile with 1 and
with 2 Celery workers, plus `make up` time and stack memory per profile.

    python -m benchmarks.bench_batch_scaleout [--rows 1000000] [--chunk-rows 100000]
                                              [--workers 1 2] [--skip-embedded]

Every stack is a real `python -m stack up` in a temp state folder on free ports (distributed:
PostgreSQL databases of its own, dropped at the end), with a small first champion
(CARPRICE_STACK_TRIALS=1). The distributed runs share one state folder, so the second `up`
reuses the champion. Per worker count it prints rows/s from trigger to finished run and the
peak memory per worker: the highest summed RSS of the worker's process tree (sampled every
0.5 s while the run goes) and the highest VmHWM of any one process in it. Each worker runs
CARPRICE_STACK_WORKER_CONCURRENCY (1) task at a time.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from carprice.names import BATCH_DAG
from stack import control, databases, envfile
from stack.ports import free_port, is_free

REPO = Path(__file__).resolve().parent.parent
INPUT_KEY = "batch/in/scaleout.csv"
WARM_KEY = "batch/in/warmup.csv"
PORTS = ("S3", "MLFLOW", "AIRFLOW", "AIRFLOW_WORKER_LOG", "AIRFLOW_TRIGGER_LOG", "API",
         "FLOWER")  # fmt: skip


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclass
class UpResult:
    """One `python -m stack up`: wall time and the stack's memory once it returned."""

    seconds: float
    processes: int
    rss_mib: float
    pss_mib: float


@dataclass
class WorkerPeak:
    """Highest memory seen in one Celery worker's process tree during a run."""

    tree_rss_mib: float = 0.0
    hwm_mib: float = 0.0
    pids: set[int] = field(default_factory=set)


def _free_run(count: int) -> int:
    """A port with ``count`` free consecutive ports from it (one log server per worker)."""
    while True:
        base = free_port()
        if all(base + i < 65535 and is_free("127.0.0.1", base + i) for i in range(count)):
            return base


def stack_env(state: Path, profile: str, workers: int, token: str, broker: str) -> dict[str, str]:
    """Environment for a private `python -m stack up`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARPRICE_", "AIRFLOW"))}
    env.update({f"CARPRICE_STACK_{name}_PORT": str(free_port()) for name in PORTS})
    env.update(
        {
            "CARPRICE_STACK_PROFILE": profile,
            "CARPRICE_STACK_STATE_DIR": str(state),
            "CARPRICE_STACK_WORKERS": str(workers),
            "CARPRICE_STACK_WORKER_LOG_PORT": str(_free_run(workers)),
            "CARPRICE_STACK_DASHBOARD": "false",
            "CARPRICE_STACK_TRIALS": "1",
            "CARPRICE_STACK_MAX_ROUNDS": "100",
            "CARPRICE_STACK_STOP_GRACE": "10",
            "CARPRICE_STACK_AIRFLOW_DATABASE": f"carprice_bench_airflow_{token}",
            "CARPRICE_STACK_MLFLOW_DATABASE": f"carprice_bench_mlflow_{token}",
            "CARPRICE_STACK_BROKER_URL": broker,
        }
    )
    return env


def run_stack(command: str, env: dict[str, str], timeout: float = 1800) -> float:
    """`python -m stack <command>`; returns seconds; raises with its output on failure."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "stack", command],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"stack {command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return time.monotonic() - started


def up(env: dict[str, str]) -> UpResult:
    seconds = run_stack("up", env)
    count, rss, pss = control.memory(Path(env["CARPRICE_STACK_STATE_DIR"]).resolve())
    return UpResult(seconds, count, rss, pss)


def lake_csv(rows: int, path: Path) -> Path:
    """A raw-listing CSV of ``rows`` rows (a synthetic 20,000-row block repeated) with a
    ``ref`` column numbering them, so order and completeness can be checked."""
    import pandas as pd

    from carprice.synthetic import generate

    block = generate(rows=min(rows, 20_000), seed=3).drop(columns=["selling_price"])
    frame = pd.concat([block] * -(-rows // len(block)), ignore_index=True).iloc[:rows]
    frame.insert(0, "ref", range(rows))
    frame.to_csv(path, index=False)
    return path


def s3_client(values: dict[str, str]):  # noqa: ANN201 - boto3 client
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3", endpoint_url=values["S3_ENDPOINT"], aws_access_key_id=values["S3_KEY"],
        aws_secret_access_key=values["S3_SECRET"], region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )  # fmt: skip


def worker_roots(state: Path) -> dict[str, psutil.Process]:
    """Each worker's process tree root (its restart loop) by name."""
    pids = control.started_pids(state / "logs")
    return {n: psutil.Process(pid) for n, pid in pids.items() if n.startswith("airflow-worker-")}


def _vm_hwm_mib(pid: int) -> float:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sample_workers(
    roots: dict[str, psutil.Process], stop: threading.Event, peaks: dict[str, WorkerPeak]
) -> None:
    """Until ``stop``: each worker tree's summed RSS and each process's VmHWM, keep maxima."""
    while not stop.is_set():
        for name, root in roots.items():
            peak = peaks.setdefault(name, WorkerPeak())
            with contextlib.suppress(psutil.Error):
                tree = [root, *root.children(recursive=True)]
                rss = 0.0
                for proc in tree:
                    with contextlib.suppress(psutil.Error):
                        rss += proc.memory_info().rss / 2**20
                        peak.hwm_mib = max(peak.hwm_mib, _vm_hwm_mib(proc.pid))
                        peak.pids.add(proc.pid)
                peak.tree_rss_mib = max(peak.tree_rss_mib, rss)
        stop.wait(0.5)


def batch_run(
    env: dict[str, str], rows: int, chunk_rows: int
) -> tuple[float, dict[str, WorkerPeak], dict[str, float]]:
    """Trigger batch_quotes on the uploaded file; return seconds and per-worker peaks."""
    import pandas as pd

    from tests.airflow_server import AirflowClient

    state = Path(env["CARPRICE_STACK_STATE_DIR"]).resolve()
    values = envfile.read(state / "stack.env")
    client = AirflowClient(values["AIRFLOW_URL"], values["AIRFLOW_USER"],
                           values["AIRFLOW_PASSWORD"])  # fmt: skip
    client.wait_for_dag(BATCH_DAG)
    # Warm-up: every worker runs a few small chunks first (the first task on a fresh worker
    # pays one-off costs that are not batch pricing).
    warm = client.wait(BATCH_DAG, client.trigger(BATCH_DAG, {
        "input_uri": f"s3://data/{WARM_KEY}", "output_uri": f"s3://data/{WARM_KEY}.out",
        "chunk_rows": 100}), timeout=600)  # fmt: skip
    if warm["state"] != "success":
        raise RuntimeError(client.failure_report(warm))
    output_key = f"batch/out/scaleout-{env['CARPRICE_STACK_WORKERS']}w.csv"
    conf = {"input_uri": f"s3://data/{INPUT_KEY}", "output_uri": f"s3://data/{output_key}",
            "chunk_rows": chunk_rows}  # fmt: skip
    peaks: dict[str, WorkerPeak] = {}
    stop = threading.Event()
    workers = int(env["CARPRICE_STACK_WORKERS"])
    roots = worker_roots(state)
    if len(roots) != workers:
        raise RuntimeError(f"found workers {sorted(roots)}, not {env['CARPRICE_STACK_WORKERS']}")
    sampler = threading.Thread(target=sample_workers, args=(roots, stop, peaks))
    sampler.start()
    started = time.monotonic()
    try:
        run_id = client.trigger(BATCH_DAG, conf)
        run = client.wait(BATCH_DAG, run_id, timeout=3600)
    finally:
        seconds = time.monotonic() - started
        stop.set()
        sampler.join()
    if run["state"] != "success":
        raise RuntimeError(client.failure_report(run))
    body = s3_client(values).get_object(Bucket="data", Key=output_key)["Body"]
    refs = pd.read_csv(body, usecols=["ref"])["ref"]
    if len(refs) != rows or not (refs.to_numpy() == range(rows)).all():
        raise RuntimeError(f"output has {len(refs)} rows, not 0..{rows - 1} in order")
    stages = stage_seconds(run["task_instances"])
    log(f"{env['CARPRICE_STACK_WORKERS']} worker(s): {rows:,} rows in {seconds:.1f} s, "
        f"stages {stages}, output checked")  # fmt: skip
    return seconds, peaks, stages


def stage_seconds(instances: list[dict]) -> dict[str, float]:
    """Wall seconds of plan, of all quote_chunk tries (first start to last end), of combine."""
    from datetime import datetime

    spans: dict[str, list[datetime]] = {}
    for ti in instances:
        if ti.get("start_date") and ti.get("end_date"):
            span = spans.setdefault(ti["task_id"], [])
            span += [datetime.fromisoformat(ti["start_date"]),
                     datetime.fromisoformat(ti["end_date"])]  # fmt: skip
    return {task: round((max(s) - min(s)).total_seconds(), 1) for task, s in spans.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--skip-embedded", action="store_true", help="no embedded `make up`")
    args = parser.parse_args(argv)
    from tests.distributed_stack import flush_broker, free_redis_db

    broker = free_redis_db()  # workers on one broker database see each other
    token = f"{os.getpid()}"
    ups: dict[str, UpResult] = {}
    results: dict[int, tuple[float, dict[str, WorkerPeak], dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-scaleout-") as tmp:
        root = Path(tmp)
        if not args.skip_embedded:
            env = stack_env(root / "embedded", "embedded", 1, token, broker)
            try:
                log("embedded: make up from a clean state …")
                ups["embedded"] = up(env)
            finally:
                run_stack("down", env, timeout=300)
        path = lake_csv(args.rows, root / "lake.csv")
        log(f"lake file: {args.rows:,} rows, {path.stat().st_size / 2**20:.0f} MiB")
        state = root / "distributed"
        env = stack_env(state, "distributed", 1, token, broker)
        try:
            for index, workers in enumerate(args.workers):
                env = {**stack_env(state, "distributed", workers, token, broker),
                       **{k: v for k, v in env.items() if k.endswith("_DATABASE")}}  # fmt: skip
                label = f"distributed, {workers} worker(s)"
                log(f"{label}: make up ({'clean state' if index == 0 else 'same state'}) …")
                ups[label] = up(env)
                try:
                    if index == 0:
                        values = envfile.read(state.resolve() / "stack.env")
                        s3_client(values).upload_file(str(path), "data", INPUT_KEY)
                        warm = path.with_name("warmup.csv")
                        with path.open() as lines:  # header + 1,000 rows
                            warm.write_text("".join(itertools.islice(lines, 1001)))
                        s3_client(values).upload_file(str(warm), "data", WARM_KEY)
                    results[workers] = batch_run(env, args.rows, args.chunk_rows)
                finally:
                    run_stack("down", env, timeout=300)
        finally:
            databases.drop(
                "postgresql://postgres@127.0.0.1:5432",
                env["CARPRICE_STACK_AIRFLOW_DATABASE"],
                env["CARPRICE_STACK_MLFLOW_DATABASE"],
            )
            flush_broker(broker)
    print_report(args, ups, results)
    return 0


def print_report(
    args: argparse.Namespace,
    ups: dict[str, UpResult],
    results: dict[int, tuple[float, dict[str, WorkerPeak], dict[str, float]]],
) -> None:
    print(f"\nbatch_quotes scale-out: {args.rows:,} rows, chunk_rows {args.chunk_rows:,}, "
          f"{os.cpu_count()} CPUs, worker concurrency 1")  # fmt: skip
    print(f"{'workers':>7}  {'seconds':>8}  {'rows/s':>9}  {'x':>5}  "
          f"{'plan s':>6}  {'chunks s':>8}  {'chunk rows/s':>12}  {'combine s':>9}")  # fmt: skip
    base = chunk_base = None
    for workers, (seconds, _, stages) in sorted(results.items()):
        rate = args.rows / seconds
        base = base or rate
        chunks = stages.get("quote_chunk", 0.0)
        chunk_rate = args.rows / chunks if chunks else 0.0
        chunk_base = chunk_base or chunk_rate
        print(f"{workers:>7}  {seconds:>8.1f}  {rate:>9,.0f}  {rate / base:>5.2f}  "
              f"{stages.get('plan', 0):>6.1f}  {chunks:>8.1f}  {chunk_rate:>12,.0f}  "
              f"{stages.get('combine', 0):>9.1f}")  # fmt: skip
    print(
        "\npeak memory per worker (summed RSS of its process tree / highest VmHWM of one process)"
    )
    for workers, (_, peaks, _) in sorted(results.items()):
        per = "; ".join(f"{name} {p.tree_rss_mib:.0f} / {p.hwm_mib:.0f} MiB"
                        for name, p in sorted(peaks.items()))  # fmt: skip
        print(f"{workers:>7} worker(s): {per}")
    print("\nmake up (first champion: 1 trial) and the stack's memory once up")
    print(f"{'profile':<28}  {'seconds':>8}  {'procs':>5}  {'RSS MiB':>8}  {'PSS MiB':>8}")
    for label, result in ups.items():
        print(f"{label:<28}  {result.seconds:>8.0f}  {result.processes:>5}  "
              f"{result.rss_mib:>8.0f}  {result.pss_mib:>8.0f}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
