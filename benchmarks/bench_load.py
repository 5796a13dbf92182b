"""Load: 50 concurrent clients for 60 s against the pricing API, mixing `/predict` and
1,000-row `/predict/csv` (locust, headless, on loopback).

    python -m benchmarks.bench_load [--tracking-uri URI] [--users 50] [--seconds 60]

Without --tracking-uri it trains a quick champion on a synthetic sample into a temp SQLite
store. Prints requests, failures, p50/p95 per endpoint, rows/s, and the API's peak RSS.
Client and server share this machine's cores, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.bench_api import api_pid, ensure_champion, feature_rows, log, start_api, vm_hwm_mb
from stack.ports import free_port

HERE = Path(__file__).resolve().parent


def _stats(prefix: Path) -> dict[str, dict[str, str]]:
    with open(f"{prefix}_stats.csv") as fh:
        return {row["Name"]: row for row in csv.DictReader(fh)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracking-uri")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        work = Path(tmp)
        uri = ensure_champion(args.tracking_uri, work, args.trials)
        cars = feature_rows(2000, seed=11)
        records = [
            {k: v for k, v in r.items() if v == v and v is not None}  # drop NaN
            for r in cars.to_dict("records")
        ]
        (work / "cars.json").write_text(json.dumps(records))
        cars.head(1000).to_csv(work / "lot.csv", index=False)
        port = free_port()
        api = start_api(uri, port, work)
        try:
            env = {
                **os.environ,
                "BENCH_CARS_JSON": str(work / "cars.json"),
                "BENCH_CSV": str(work / "lot.csv"),
                "BENCH_ROWS_OUT": str(work / "rows.json"),
            }
            cmd = [
                sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), "--headless",
                "-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s",
                "--host", f"http://127.0.0.1:{port}", "--csv", str(work / "load"),
                "--only-summary", "--stop-timeout", "30",
            ]  # fmt: skip
            log(f"locust: {args.users} users for {args.seconds} s …")
            subprocess.run(cmd, env=env, check=False, capture_output=True, text=True)
            peak = vm_hwm_mb(api_pid(api))
        finally:
            api.stop()
        stats = _stats(work / "load")
        rows = json.loads((work / "rows.json").read_text())

    print(f"\nLoad: {args.users} clients, {args.seconds} s, /predict : /predict/csv = 9 : 1")
    print(f"{'endpoint':<22}{'requests':>10}{'failures':>10}{'p50 ms':>10}{'p95 ms':>10}")
    for name in ("/predict", "/predict/csv", "Aggregated"):
        s = stats.get(name)
        if s:
            print(
                f"{name:<22}{s['Request Count']:>10}{s['Failure Count']:>10}"
                f"{s['50%']:>10}{s['95%']:>10}"
            )
    total_rows = rows["predict"] + rows["csv"]
    print(f"rows priced: {total_rows:,} ({total_rows / args.seconds:,.0f} rows/s); "
          f"API peak RSS {peak:.0f} MB")  # fmt: skip
    failures = int(stats["Aggregated"]["Failure Count"])
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
