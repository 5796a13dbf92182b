"""Pricing API vs `mlflow models serve` vs raw booster, on one champion and the same rows.

    python -m benchmarks.bench_api [--tracking-uri sqlite:///path/mlflow.db] [--requests 300]

Without --tracking-uri it trains a quick champion on a synthetic sample into a temp SQLite
store. Both servers run on loopback and are stopped at the end. Prints one table:
single-row latency (p50/p95 over N sequential keep-alive requests, distinct cars, the two
servers alternating in blocks so background load hits both alike), 10k-row throughput,
and the API's peak RSS (VmHWM) after pricing a 100k-row CSV.
"""

from __future__ import annotations

import argparse
import inspect
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from carprice import names
from carprice.schema import FEATURE_REQUIRED, SPEC_COLUMNS
from stack.health import wait_http
from stack.ports import free_port
from stack.process import ManagedProcess, find_executable

REPO = Path(__file__).resolve().parent.parent
# A car with every spec given (the catalogue fills nothing): the heaviest usual request.
FEATURE_COLUMNS = ["name", *FEATURE_REQUIRED, *SPEC_COLUMNS]
CHAMPION_URI = f"models:/{names.MODEL_NAME}@{names.CHAMPION}"
INTS = ("year", "km_driven", "owner_rank", "seats")


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def ensure_champion(tracking_uri: str | None, workdir: Path, trials: int) -> str:
    if tracking_uri:
        return tracking_uri
    from carprice import train
    from carprice.synthetic import ensure_sample

    uri = f"sqlite:///{workdir / 'mlflow.db'}"
    sample = ensure_sample(str(workdir / "data"))
    kwargs = {"trials": trials, "tracking_uri": uri, "progress": log}
    if "max_rounds" in inspect.signature(train.run).parameters:
        kwargs["max_rounds"] = 300
    log(f"training a champion into {uri} …")
    old = os.getcwd()
    os.chdir(workdir)  # a sqlite store's default artifact root is ./mlruns
    try:
        train.run(sample, **kwargs)
    finally:
        os.chdir(old)
    return uri


def feature_rows(n: int, seed: int) -> pd.DataFrame:
    """`n` distinct, valid cars in the CarFeatures shape (from synthetic raw listings)."""
    from carprice.clean import to_frame
    from carprice.synthetic import generate

    raw = generate(rows=int(n * 1.3) + 50, seed=seed).drop_duplicates()
    frame, errors = to_frame(raw.drop(columns=["selling_price"]))
    frame = frame[errors == ""].dropna(subset=FEATURE_COLUMNS).head(n)
    frame = frame.reset_index(drop=True)
    if len(frame) < n:  # top up by cycling: still valid rows
        frame = pd.concat([frame] * (n // len(frame) + 1), ignore_index=True).head(n)
    out = frame[FEATURE_COLUMNS].copy()
    for col in INTS:
        out[col] = out[col].astype(int)
    return out


def start_api(uri: str, port: int, workdir: Path) -> ManagedProcess:
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "CARPRICE_API_POLL_SECONDS": "60"}
    env.pop("CARPRICE_API_KEY", None)
    # Quotes are logged as in production (SQLite by default), into a fresh file per run.
    env.setdefault("CARPRICE_DATABASE_URL", f"sqlite:///{workdir / 'quotes.db'}")
    env.setdefault("CARPRICE_QUOTE_SPOOL_DIR", str(workdir / "quote-spool"))
    cmd = [
        sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1",
        "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = ManagedProcess(f"api:{port}", cmd, workdir / "api.log", env=env, cwd=REPO).start()
    wait_http(f"http://127.0.0.1:{port}/health", 180, process=proc)
    deadline = time.monotonic() + 180
    while httpx.get(f"http://127.0.0.1:{port}/health").json()["model_version"] is None:
        if time.monotonic() > deadline:
            raise RuntimeError("API never loaded a model:\n" + proc.tail())
        time.sleep(0.5)
    return proc


def start_peer(uri: str, port: int, workdir: Path) -> ManagedProcess:
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    cmd = [
        find_executable("mlflow"), "models", "serve", "-m", CHAMPION_URI,
        "--env-manager", "local", "--host", "127.0.0.1", "-p", str(port),
    ]  # fmt: skip
    proc = ManagedProcess(f"peer:{port}", cmd, workdir / "peer.log", env=env, cwd=workdir).start()
    wait_http(f"http://127.0.0.1:{port}/ping", 240, process=proc)
    return proc


def split_payload(df: pd.DataFrame) -> dict:
    return {"dataframe_split": {"columns": list(df.columns), "data": df.to_numpy().tolist()}}


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000


def single_row(api: str, peer: str, cars: pd.DataFrame, n: int) -> dict[str, list[float]]:
    records = [
        {k: v for k, v in r.items() if not (isinstance(v, float) and np.isnan(v))}
        for r in cars.head(n).to_dict("records")
    ]
    times: dict[str, list[float]] = {"api": [], "api_unlogged": [], "peer": []}
    with httpx.Client(timeout=30) as client:

        def call(which: str, rec: dict) -> float:
            started = time.perf_counter()
            if which == "api":
                r = client.post(f"{api}/predict", json=rec)
            elif which == "api_unlogged":  # the quote log's cost is the difference
                r = client.post(f"{api}/predict", params={"record": "false"}, json=rec)
            else:
                r = client.post(f"{peer}/invocations", json=split_payload(pd.DataFrame([rec])))
            elapsed = time.perf_counter() - started
            r.raise_for_status()
            return elapsed

        for rec in records[:20]:  # warm-up
            for which in times:
                call(which, rec)
        block = 50
        for start in range(0, len(records), block):
            for which in times:
                for rec in records[start : start + block]:
                    times[which].append(call(which, rec))
    return times


def floor_single(uri: str, cars: pd.DataFrame, n: int) -> tuple[list[float], list[float], float]:
    """In-process booster on pre-encoded rows: predict, and predict with contributions."""
    import mlflow

    from carprice import registry

    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    model, _ = registry.load(names.MODEL_NAME, names.CHAMPION)
    rows = model.prepare(cars.head(n)).encoded.matrix
    single = model.booster.copy()
    single.set_param({"nthread": 1})
    plain, contribs = [], []
    for row in rows:
        started = time.perf_counter()
        dm = model.pipeline.dmatrix(row[None, :])
        single.predict(dm)
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        single.predict(dm, pred_contribs=True)
        contribs.append(time.perf_counter() - started)
    bulk = np.vstack([rows] * (10_000 // len(rows) + 1))[:10_000]
    started = time.perf_counter()
    model.booster.inplace_predict(bulk)
    return plain, contribs, 10_000 / (time.perf_counter() - started)


def best_of(fn, repeat: int = 3) -> float:  # noqa: ANN001
    return min(fn() for _ in range(repeat))


def post_csv(client: httpx.Client, api: str, data: bytes, expect_rows: int) -> float:
    """Seconds for one upload. Every priced CSV row is logged: the endpoint has no
    `record=false` (it is for /predict explorations), so none is measured here."""
    started = time.perf_counter()
    r = client.post(f"{api}/predict/csv", files={"file": ("cars.csv", data, "text/csv")})
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    lines = r.text.count("\n") - 1
    if lines != expect_rows:
        raise RuntimeError(f"/predict/csv returned {lines} rows, expected {expect_rows}")
    return elapsed


def post_split(client: httpx.Client, peer: str, df: pd.DataFrame) -> float:
    payload = split_payload(df.astype(object).where(df.notna(), None))
    started = time.perf_counter()
    r = client.post(f"{peer}/invocations", json=payload)
    elapsed = time.perf_counter() - started
    r.raise_for_status()
    return elapsed


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def child_pids(pid: int) -> list[int]:
    """The API's child processes (the quote-log writer, with CARPRICE_QUOTE_WRITER=process)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def api_pid(proc: ManagedProcess) -> int:
    """`python -m uvicorn` serves in the leader process itself (no --workers)."""
    return proc.pid


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri", help=f"MLflow store that already has {CHAMPION_URI}")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--big-rows", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=2)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="carprice-bench-") as tmp:
        workdir = Path(tmp)
        uri = ensure_champion(args.tracking_uri, workdir, args.trials)
        cars = feature_rows(max(args.rows, args.requests), seed=11)
        api_proc = peer_proc = None
        try:
            api_port, peer_port = free_port(), free_port()
            log("starting the API and the peer …")
            api_proc = start_api(uri, api_port, workdir)
            peer_proc = start_peer(uri, peer_port, workdir)
            api, peer = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{peer_port}"
            rss_start = vm_hwm_mb(api_pid(api_proc))

            log(f"single-row latency, {args.requests} requests each …")
            single = single_row(api, peer, cars, args.requests)
            plain, contribs, floor_rps = floor_single(uri, cars, args.requests)

            log(f"{args.rows}-row throughput …")
            rows = cars.head(args.rows)
            csv_bytes = rows.to_csv(index=False).encode()
            from carprice.synthetic import generate

            raw = generate(rows=args.rows, seed=5).drop(columns=["selling_price"]).head(args.rows)
            raw_bytes = raw.to_csv(index=False).encode()
            with httpx.Client(timeout=600) as client:
                api_s = best_of(lambda: post_csv(client, api, csv_bytes, len(rows)))
                peer_s = best_of(lambda: post_split(client, peer, rows))
                api_raw_s = best_of(lambda: post_csv(client, api, raw_bytes, len(raw)))
                peer_raw_s = best_of(lambda: post_split(client, peer, raw))

                log(f"{args.big_rows}-row CSV …")
                big = pd.concat([rows] * (args.big_rows // len(rows) + 1), ignore_index=True)
                big = big.head(args.big_rows)
                buf = io.BytesIO()
                big.to_csv(buf, index=False)
                big_s = post_csv(client, api, buf.getvalue(), len(big))
            rss_big = vm_hwm_mb(api_pid(api_proc))
            rss_children = sum(vm_hwm_mb(c) for c in child_pids(api_pid(api_proc)))
        finally:
            for proc in (api_proc, peer_proc):
                if proc is not None:
                    proc.stop()

    p50 = {k: pct(v, 50) for k, v in single.items()}
    n = args.rows

    def ms(label: str, values: list[float]) -> str:
        return f"  {label:<50}{pct(values, 50):>9.2f}{pct(values, 95):>9.2f}"

    def rate(label: str, seconds: float) -> str:
        return f"  {label:<50}{seconds:>9.3f}{n / seconds:>11,.0f}"

    lines = [
        "",
        f"CarPrice API benchmark - {time.strftime('%Y-%m-%d %H:%M')} - {os.cpu_count()} cores,"
        f" load average {os.getloadavg()[0]:.1f}",
        "",
        f"{'single row, sequential HTTP, distinct cars':<52}{'p50 ms':>9}{'p95 ms':>9}",
        ms("our API  POST /predict (+contribs, bounds, comps)", single["api"]),
        ms("our API  POST /predict?record=false (no quote log)", single["api_unlogged"]),
        ms("peer     POST /invocations (price, bounds)", single["peer"]),
        ms("floor    booster.predict, in-process", plain),
        ms("floor    booster.predict(pred_contribs), in-process", contribs),
        f"  ratio peer p50 / our p50: {p50['peer'] / p50['api']:.2f}x (target >= 1); "
        f"quote log adds {p50['api'] - p50['api_unlogged']:+.2f} ms to our p50",
        "",
        f"{f'{n:,} rows, best of 3':<52}{'seconds':>9}{'rows/s':>11}",
        rate("our API  POST /predict/csv (CarFeatures columns)", api_s),
        rate("peer     POST /invocations dataframe_split (same)", peer_s),
        rate("our API  POST /predict/csv (raw listing columns)", api_raw_s),
        rate("peer     dataframe_split (raw listing columns)", peer_raw_s),
        rate("floor    booster.inplace_predict, in-process", n / floor_rps),
        f"  ratio our / peer rows/s: {peer_s / api_s:.2f}x CarFeatures (target >= 2), "
        f"{peer_raw_s / api_raw_s:.2f}x raw",
        "",
        f"{args.big_rows:,}-row CSV through /predict/csv: {big_s:.1f} s "
        f"({args.big_rows / big_s:,.0f} rows/s); API peak RSS (VmHWM) {rss_big:.0f} MB "
        f"(after start-up: {rss_start:.0f} MB); its child processes (quote-log writer) "
        f"{rss_children:.0f} MB",
        f"single-row samples: {len(single['api'])} per server; "
        f"stdev our {statistics.pstdev(single['api']) * 1000:.2f} ms, "
        f"peer {statistics.pstdev(single['peer']) * 1000:.2f} ms",
    ]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
