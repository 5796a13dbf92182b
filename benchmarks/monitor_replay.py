"""What model_monitor decides on a week of quotes replayed from real listings.

    python -m benchmarks.monitor_replay --tracking-uri sqlite:///.stack/mlflow.db \
        --data car_details_v3.csv [--rows 2000] [--km-factor 1.6] [--years-older 3]

Prices `--rows` listings with the champion (as `/predict/csv` would), logs them as quotes
spread over the last six days in a temporary SQLite quote log, records half of them as sold
at their listed price, and runs `carprice.monitor.summarise` twice: on the listings as they
are, and on the same listings made older and higher-km (what a lot of trade-ins looks like).
Prints the live figures, the drift verdict and the decision of each. The champion should be
trained on the same file: then "as they are" measures the model on (mostly) seen cars.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd


def run_case(name: str, cars: pd.DataFrame, workdir: Path) -> dict:
    from carprice import monitor
    from carprice.quotelog.replay import replay
    from carprice.quotelog.store import QuoteStore
    from carprice.settings import get_settings

    db = workdir / f"{name}.db"
    os.environ["CARPRICE_DATABASE_URL"] = f"sqlite:///{db}"
    os.environ["CARPRICE_LAKE_ROOT"] = str(workdir / "lake")
    get_settings.cache_clear()
    store = QuoteStore.from_url(f"sqlite:///{db}")
    store.migrate()
    replay(store, cars, datetime.now(UTC))
    return monitor.summarise(days=7, requested=f"monitor_replay {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--data", required=True, help="raw car_details_v3 CSV")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--km-factor", type=float, default=1.6)
    parser.add_argument("--years-older", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    import mlflow

    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_registry_uri(args.tracking_uri)
    raw = pd.read_csv(args.data, dtype=str, keep_default_na=False)
    cars = raw.sample(n=min(args.rows, len(raw)), random_state=args.seed).reset_index(drop=True)
    year = pd.to_numeric(cars["year"], errors="coerce")
    km = pd.to_numeric(cars["km_driven"], errors="coerce")
    shifted = cars.assign(
        year=(year - args.years_older).clip(lower=1983).astype("Int64").astype(str),
        km_driven=(km * args.km_factor).round().astype("Int64").astype(str),
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name, frame in (("as listed", cars), (
            f"{args.years_older} years older, km x{args.km_factor:g}", shifted)):  # fmt: skip
            out = run_case(name.split()[0], frame, Path(tmp))
            live = out["live"]
            print(f"\n== {name}: {out['quotes']} quotes, {out['sales']} sales ==")
            print(f"live MAPE {live['mape']:.1%} (champion's test MAPE {out['test_mape']:.1%}), "
                  f"median APE {live['median_ape']:.1%}, MAE ₹{live['mae']:,.0f}, "
                  f"coverage {live['coverage']:.1%}")  # fmt: skip
            print(f"drift: {out['drift']}; retrain: {out['retrain']}")
            for reason in out["reasons"]:
                print(f"  - {reason}")


if __name__ == "__main__":
    main()
