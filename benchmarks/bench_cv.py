"""Grouped, repeated cross-validation of the served design, with 95% bootstrap intervals.

    python -m benchmarks.bench_cv [--data PATH] [--folds 5] [--repeats 4] [--rounds 600]
                                  [--identity]

One test split is one draw: on about 1,000 rows its MAPE moves by half a point from seed to
seed. This scores the whole pricing path (catalogue, out-of-fold encoding, booster and the
calibrated interval, `PricingModel.price_frame`) on every clean row of the real file, in
folds that never split a car from its reposts (`carprice.listings`), at the search's start
settings and a fixed number of rounds (tuning inside every fold would cost 30× as much).
Intervals resample whole cars (listing groups), so reposts move together. With `--identity`,
every held-out car is priced a second time by its identity alone (name, year, km, fuel,
seller, gearbox, owners: what a salesperson knows), its specs filled from the fold's
catalogue as a quote's are, and those figures are printed too.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

from carprice import report, train
from carprice.clean import clean_training
from carprice.evaluate import regression_metrics
from carprice.listings import listing_groups
from carprice.schema import SPEC_COLUMNS, TARGET
from carprice.settings import get_settings

BARS = {
    "mape": "<= 14.5%",
    "median_ape": "<= 10.2%",
    "mae": "<= 66,000",
    "coverage": "77%–83%",
    "unseen_mape": "<= 18%",
}


def out_of_fold(
    frame: pd.DataFrame,
    folds: int,
    repeats: int,
    rounds: int,
    first_seed: int = 0,
    trials: int = 0,
    identity: bool = False,
) -> pd.DataFrame:
    """One priced row per clean row and repeat: actual, predicted, bounds, unseen variant.
    With `trials`, each fold runs the training job's own search on its training rows first
    and prices with what it chose (the served procedure, at `trials` times the cost). With
    `identity`, also `id_price`, `id_low` and `id_high`: the same cars quoted without specs."""
    parts = []
    groups = listing_groups(frame)
    summary = {"source": "bench_cv"}
    for repeat in range(repeats):
        seed = first_seed + repeat
        for k, (fit_idx, hold_idx) in enumerate(train._grouped_folds(frame, folds, seed)):
            started = time.monotonic()
            fit, hold = frame.iloc[fit_idx], frame.iloc[hold_idx]
            params, fit_rounds = train.START_PARAMS, rounds
            if trials:
                params, fit_rounds, _ = train.tune(fit.reset_index(drop=True), trials, seed)
            model = train.assemble(fit, params, fit_rounds, seed, 0.8, summary, explain=False)
            priced = model.price_frame(hold.drop(columns=[TARGET]))
            identity_quotes = {}
            if identity:
                quoted = model.price_frame(hold.drop(columns=[TARGET, *SPEC_COLUMNS]))
                identity_quotes = {
                    f"id_{short}": quoted[column].to_numpy(dtype=float)
                    for short, column in (("price", "predicted_price"), ("low", "price_low"),
                                          ("high", "price_high"))
                }  # fmt: skip
            parts.append(
                pd.DataFrame(
                    {
                        "repeat": repeat,
                        "group": groups[hold_idx],
                        "actual": hold[TARGET].to_numpy(dtype=float),
                        "price": priced["predicted_price"].to_numpy(dtype=float),
                        "low": priced["price_low"].to_numpy(dtype=float),
                        "high": priced["price_high"].to_numpy(dtype=float),
                        "unseen": ~report.variant_seen(hold, fit),
                        **identity_quotes,
                    }
                )
            )
            print(
                f"[cv] repeat {repeat + 1}/{repeats} fold {k + 1}/{folds}: "
                f"{time.monotonic() - started:.0f}s",
                file=sys.stderr,
                flush=True,
            )
    return pd.concat(parts, ignore_index=True)


def priced_only(rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows the model priced, and how many it refused (a brand its fold never saw has no
    catalogue entry: the API answers those with a 4xx, not a number)."""
    ok = np.isfinite(rows["price"].to_numpy())
    return rows[ok].reset_index(drop=True), int((~ok).sum())


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, cum[-1] / 2)])


def figures(rows: pd.DataFrame, weights: np.ndarray | None = None) -> dict[str, float]:
    """The bars' metrics over all priced rows (every repeat pooled), optionally weighted by
    how often a bootstrap resample drew each row's car."""
    w = np.ones(len(rows)) if weights is None else weights
    actual, price = rows["actual"].to_numpy(), rows["price"].to_numpy()
    ape = np.abs(price - actual) / actual
    covered = (rows["low"].to_numpy() <= actual) & (actual <= rows["high"].to_numpy())
    unseen = rows["unseen"].to_numpy()
    return {
        "mape": float(np.average(ape, weights=w)),
        "median_ape": _weighted_median(ape, w),
        "mae": float(np.average(np.abs(price - actual), weights=w)),
        "coverage": float(np.average(covered, weights=w)),
        "unseen_mape": float(np.average(ape[unseen], weights=w[unseen])),
        "seen_mape": float(np.average(ape[~unseen], weights=w[~unseen])),
    }


def bootstrap(rows: pd.DataFrame, resamples: int, seed: int) -> dict[str, tuple[float, float]]:
    """95% percentile intervals, resampling cars (groups) with replacement."""
    rng = np.random.default_rng(seed)
    codes, uniques = pd.factorize(rows["group"])
    n = len(uniques)
    draws = [
        figures(rows, np.bincount(rng.integers(0, n, n), minlength=n)[codes])
        for _ in range(resamples)
    ]
    return {k: tuple(np.percentile([d[k] for d in draws], [2.5, 97.5])) for k in draws[0]}


def identity_view(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with their identity-only quotes (`out_of_fold(identity=True)`) as the price."""
    quoted = rows.drop(columns=["price", "low", "high"])
    return quoted.rename(columns={"id_price": "price", "id_low": "low", "id_high": "high"})


def _print_figures(rows: pd.DataFrame, resamples: int) -> None:
    point, spread = figures(rows), bootstrap(rows, resamples, seed=0)
    for key, value in point.items():
        low, high = spread[key]
        shown = (lambda v: f"{v:,.0f}") if key == "mae" else (lambda v: f"{v:.2%}")
        print(
            f"  {key:<12}{shown(value):>10}   95% [{shown(low)}, {shown(high)}]   "
            f"bar {BARS.get(key, '-')}"
        )
    per_repeat = [regression_metrics(r["actual"], r["price"]) for _, r in rows.groupby("repeat")]
    print("  per repeat MAPE: " + ", ".join(f"{m['mape']:.2%}" for m in per_repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default=get_settings().raw_data)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=600)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="fold seed of the first repeat")
    parser.add_argument(
        "--trials",
        type=int,
        default=0,
        help="run the training search (this many trials) inside every fold instead of the "
        "start settings at --rounds: the served procedure, about 30× slower at 30",
    )
    parser.add_argument("--rows", help="also write the priced rows here (parquet), to pair runs")
    parser.add_argument(
        "--identity",
        action="store_true",
        help="also quote every held-out car by its identity alone, specs filled from the "
        "catalogue (what a salesperson types), and print those figures",
    )
    args = parser.parse_args()
    if not args.data:
        print("set CARPRICE_RAW_DATA or --data to the real CarDekho file", file=sys.stderr)
        return 2
    frame = clean_training(pd.read_csv(args.data, dtype=str, keep_default_na=False)).frame
    started = time.monotonic()
    priced = out_of_fold(
        frame, args.folds, args.repeats, args.rounds, args.seed, args.trials, args.identity
    )
    rows, refused = priced_only(priced)
    if args.rows:
        rows.to_parquet(args.rows)
    print(
        f"grouped CV (name + year + km), {args.folds} folds × {args.repeats} repeats, "
        f"{len(frame)} clean rows, "
        + (
            f"a {args.trials}-trial search in every fold, "
            if args.trials
            else f"{args.rounds} rounds at the start settings, "
        )
        + f"{time.monotonic() - started:.0f}s; unseen-variant share {rows['unseen'].mean():.1%}; "
        f"{refused} row(s) refused (brand unseen by the fold)"
    )
    _print_figures(rows, args.resamples)
    if args.identity:
        quoted, refused = priced_only(identity_view(rows))
        print(
            f"the same cars quoted by identity alone (specs filled from the fold's catalogue); "
            f"{refused} more row(s) refused"
        )
        _print_figures(quoted, args.resamples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
