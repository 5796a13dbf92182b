"""Time the whole training CLI (clean → tune → evaluate → register → gate) on the configured data.

`python -m benchmarks.bench_train [--trials 30] [--data PATH]`: runs the CLI in a fresh
SQLite MLflow store, prints wall time, peak memory and the test metrics against the bars.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

from carprice.settings import get_settings

BAR_SECONDS = 300


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--data", default=get_settings().raw_data)
    args = parser.parse_args()
    if not args.data:
        print("set CARPRICE_RAW_DATA or --data to the real CarDekho file", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp}/mlflow.db"}
        cmd = [sys.executable, "-m", "carprice.train", "--data", args.data]
        started = time.monotonic()
        out = subprocess.run(
            [*cmd, "--trials", str(args.trials)], env=env, capture_output=True, text=True, cwd=tmp
        )
        seconds = time.monotonic() - started
    if out.returncode != 0:
        print(out.stderr[-3000:], file=sys.stderr)
        return out.returncode
    result = json.loads(out.stdout.strip().splitlines()[-1])
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    test = result["test"]
    rows = [
        ("wall time (s)", f"{seconds:.0f}", f"< {BAR_SECONDS}"),
        ("peak RSS (MB)", f"{peak_mb:.0f}", "-"),
        ("test R²", f"{test['r2']:.4f}", ">= 0.93"),
        ("test MAPE", f"{test['mape']:.2%}", "<= 15%"),
        ("test MAE (₹)", f"{test['mae']:,.0f}", "public best 72k"),
        ("test RMSE (₹)", f"{test['rmse']:,.0f}", "-"),
        ("test median APE", f"{test['median_ape']:.2%}", "-"),
        ("80% interval coverage", f"{test['interval_coverage']:.2%}", "77%–83%"),
    ]
    print(f"training CLI, {args.trials} trials, cores={os.cpu_count()}")
    for name, value, bar in rows:
        print(f"  {name:<24}{value:>12}   bar {bar}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
