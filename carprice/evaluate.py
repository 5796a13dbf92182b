"""Metrics in rupees, the calibrated prediction interval, and the promotion gate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Rupee-space metrics: what a salesperson feels, not log-space flattery."""
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    err = y_pred - y_true
    ape = np.abs(err) / y_true
    ss_res = float(np.sum(err**2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "r2": 1.0 - ss_res / ss_tot if ss_tot > 0 else float("nan"),
        "mape": float(np.mean(ape)),
        "median_ape": float(np.median(ape)),
    }


@dataclass(frozen=True)
class IntervalCalibration:
    """Split-conformal bounds on the log-price residual: price × exp(low) … price × exp(high).

    Asymmetric quantiles because used-car residuals are skewed (a few cars sell far below
    their spec's price); fitted on out-of-fold residuals so they are honest. Mondrian: cars
    whose variant the model never saw err more, so they get their own, wider bounds; one
    pooled interval would be too wide for known variants and too narrow for new ones.
    """

    level: float
    log_low: float
    log_high: float
    n_residuals: int
    unseen_log_low: float | None = None
    unseen_log_high: float | None = None
    n_unseen: int = 0

    @classmethod
    def fit(
        cls, log_residuals: np.ndarray, unseen: np.ndarray, level: float
    ) -> IntervalCalibration:
        """Residual = log(actual) − log(predicted); finite-sample conformal quantiles, for
        seen and unseen variants apart (unseen falls back to seen when too few to tell)."""
        residuals = np.asarray(log_residuals, dtype=float)
        unseen = np.asarray(unseen, dtype=bool)
        seen_low, seen_high = _conformal(residuals[~unseen], level)
        out = cls(level, seen_low, seen_high, int((~unseen).sum()))
        if unseen.sum() >= MIN_GROUP_RESIDUALS:
            low, high = _conformal(residuals[unseen], level)
            out = cls(level, seen_low, seen_high, out.n_residuals, low, high, int(unseen.sum()))
        return out

    def bounds(
        self, price: np.ndarray, unseen: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        price = np.asarray(price, dtype=float)
        low = np.full(price.shape, self.log_low)
        high = np.full(price.shape, self.log_high)
        if unseen is not None and self.unseen_log_low is not None:
            low = np.where(unseen, self.unseen_log_low, low)
            high = np.where(unseen, self.unseen_log_high, high)
        return price * np.exp(low), price * np.exp(high)


MIN_GROUP_RESIDUALS = 50  # fewer and a group's quantiles are noise


def _conformal(residuals: np.ndarray, level: float) -> tuple[float, float]:
    r = np.sort(residuals)
    n = len(r)
    alpha = (1.0 - level) / 2.0
    q_low = max(np.floor(alpha * (n + 1)) / n, 0.0)
    q_high = min(np.ceil((1.0 - alpha) * (n + 1)) / n, 1.0)
    return float(np.quantile(r, q_low)), float(np.quantile(r, q_high))


def coverage(y_true: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    y = np.asarray(y_true, dtype=float)
    return float(np.mean((y >= low) & (y <= high)))


def priced_metrics(actual: np.ndarray, priced: pd.DataFrame) -> dict[str, float]:
    """Test metrics of `PricingModel.price_frame` output: rupee metrics and interval coverage
    on the rows the model priced, and how many it refused (unknown brand, say)."""
    actual = np.asarray(actual, dtype=float)
    price = priced["predicted_price"].to_numpy(dtype=float)
    ok = np.isfinite(price)
    metrics = regression_metrics(actual[ok], price[ok])
    metrics["interval_coverage"] = coverage(
        actual[ok],
        priced["price_low"].to_numpy(dtype=float)[ok],
        priced["price_high"].to_numpy(dtype=float)[ok],
    )
    metrics["priced_rows"] = float(ok.sum())
    metrics["refused_rows"] = float((~ok).sum())
    return metrics


@dataclass(frozen=True)
class GainInterval:
    """A paired bootstrap of the candidate's MAE gain over the champion on the same rows.

    ``gain`` is champion MAE − candidate MAE in rupees (positive: the candidate errs less),
    ``rel_gain`` that gain as a share of the champion's MAE; ``low``/``high`` and
    ``rel_low``/``rel_high`` are the percentile interval at ``level`` over ``resamples``
    resamples of the rows (each resample scores both models on the same rows, so the noise
    they share cancels out).
    """

    gain: float
    rel_gain: float
    low: float
    high: float
    rel_low: float
    rel_high: float
    level: float
    resamples: int
    rows: int


def paired_bootstrap(
    actual: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> GainInterval:
    """Resample rows with replacement; in each resample, both models' MAE on the same rows."""
    y = np.asarray(actual, dtype=float)
    cand_err = np.abs(np.asarray(candidate, dtype=float) - y)
    champ_err = np.abs(np.asarray(champion, dtype=float) - y)
    n = len(y)
    if n == 0:
        raise ValueError("no rows to compare the models on")
    rng = np.random.default_rng(seed)
    gains, rel = np.empty(resamples), np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # bounded memory on a large evaluation set
    for start in range(0, resamples, chunk):
        stop = min(start + chunk, resamples)
        idx = rng.integers(0, n, size=(stop - start, n))
        champ_mae = champ_err[idx].mean(axis=1)
        gains[start:stop] = champ_mae - cand_err[idx].mean(axis=1)
        rel[start:stop] = np.divide(
            gains[start:stop], champ_mae, out=np.zeros(stop - start), where=champ_mae > 0
        )
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(gains, [tail, 1.0 - tail])
    rel_low, rel_high = np.quantile(rel, [tail, 1.0 - tail])
    champ_mae = float(champ_err.mean())
    gain = champ_mae - float(cand_err.mean())
    return GainInterval(
        gain, gain / champ_mae if champ_mae > 0 else 0.0, float(low), float(high),
        float(rel_low), float(rel_high), level, resamples, n,
    )  # fmt: skip


@dataclass(frozen=True)
class GateVerdict:
    """Why a candidate did or didn't become champion; recorded as model-version tags.

    Both scores come from the same rows: those of the frozen evaluation set both models
    could price.
    """

    promote: bool
    reason: str
    candidate: dict[str, float]  # mae, mape on the shared rows
    champion: dict[str, float] | None = None
    shared_rows: int = 0
    champion_unpriced: int = 0  # rows the candidate priced and the champion could not
    candidate_unpriced: int = 0
    gain: GainInterval | None = None
    min_gain: float = 0.0
    eval_set: str = ""

    def tags(self) -> dict[str, str]:
        champion = self.champion or {}
        tags = {
            "gate.verdict": "promoted" if self.promote else "rejected",
            "gate.reason": self.reason,
            "gate.eval_set": self.eval_set,
            "gate.candidate_mae": f"{self.candidate['mae']:.2f}",
            "gate.candidate_mape": f"{self.candidate['mape']:.6f}",
            "gate.champion_mae": f"{champion['mae']:.2f}" if champion else "",
            "gate.champion_mape": f"{champion['mape']:.6f}" if champion else "",
            "gate.shared_rows": str(self.shared_rows),
            "gate.champion_unpriced_rows": str(self.champion_unpriced),
            "gate.candidate_unpriced_rows": str(self.candidate_unpriced),
            "gate.min_gain": f"{self.min_gain:.4f}",
        }
        if self.gain is not None:
            g = self.gain
            tags |= {
                "gate.gain_mae": f"{g.gain:.2f}",
                "gate.gain_pct": f"{g.rel_gain:.6f}",
                "gate.gain_low": f"{g.low:.2f}",
                "gate.gain_high": f"{g.high:.2f}",
                "gate.gain_pct_low": f"{g.rel_low:.6f}",
                "gate.gain_pct_high": f"{g.rel_high:.6f}",
                "gate.level": f"{g.level:g}",
                "gate.resamples": str(g.resamples),
            }
        return tags


def _mae_mape(actual: np.ndarray, price: np.ndarray) -> dict[str, float]:
    metrics = regression_metrics(actual, price)
    return {"mae": metrics["mae"], "mape": metrics["mape"]}


def _rupees(value: float) -> str:
    return f"{'−' if value < 0 else ''}₹{abs(value):,.0f}"


def gate(
    actual: np.ndarray,
    candidate: np.ndarray,
    champion: np.ndarray | None,
    min_gain: float = 0.0,
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
    eval_set: str = "",
) -> GateVerdict:
    """Promote only on a gain that holds beyond noise: on the rows both models can price,
    the low end of the paired-bootstrap interval of the candidate's MAE gain (a share of the
    champion's MAE) must be above ``min_gain``, and its MAPE no higher. The first model wins
    by default.

    `candidate` and `champion` are each model's prices for the same evaluation rows (NaN
    where a model refused a row, e.g. a brand the older champion never saw).
    """
    actual = np.asarray(actual, dtype=float)
    candidate = np.asarray(candidate, dtype=float)
    cand_ok = np.isfinite(candidate)
    common = {"min_gain": min_gain, "eval_set": eval_set}
    if champion is None:
        scores = _mae_mape(actual[cand_ok], candidate[cand_ok])
        return GateVerdict(
            True, "no champion yet", scores, shared_rows=int(cand_ok.sum()), **common
        )
    champion = np.asarray(champion, dtype=float)
    champ_ok = np.isfinite(champion)
    shared = cand_ok & champ_ok
    counts = {
        "shared_rows": int(shared.sum()),
        "champion_unpriced": int((cand_ok & ~champ_ok).sum()),
        "candidate_unpriced": int((champ_ok & ~cand_ok).sum()),
    }
    if not shared.any():
        return GateVerdict(
            False,
            "does not beat the champion: no evaluation row both models can price",
            {"mae": np.nan, "mape": np.nan},
            None,
            **counts,
            **common,
        )
    y, cand_p, champ_p = actual[shared], candidate[shared], champion[shared]
    cand, champ = _mae_mape(y, cand_p), _mae_mape(y, champ_p)
    gain = paired_bootstrap(y, cand_p, champ_p, resamples, level, seed)
    beyond_noise = gain.rel_low > min_gain
    mape_ok = cand["mape"] <= champ["mape"]
    better = beyond_noise and mape_ok
    where = f"on {counts['shared_rows']} shared rows" + (f" of {eval_set}" if eval_set else "")
    scores = (
        f"MAE {_rupees(cand['mae'])} vs champion's {_rupees(champ['mae'])}: gain "
        f"{_rupees(gain.gain)} ({gain.rel_gain:+.1%}), {level:.0%} interval "
        f"{_rupees(gain.low)} … {_rupees(gain.high)} ({gain.rel_low:+.1%} … "
        f"{gain.rel_high:+.1%}); MAPE {cand['mape']:.2%} vs {champ['mape']:.2%}; {where}"
    )
    if counts["champion_unpriced"]:
        scores += f" (the champion can't price {counts['champion_unpriced']} more)"
    if better:
        verdict = f"beats the champion beyond noise (minimum gain {min_gain:.1%}): "
    elif np.array_equal(cand_p, champ_p):
        # A retrain on the same data with the same seed and a search that keeps its starting
        # point rebuilds the champion exactly; "₹0 … ₹0" alone reads like a fault.
        verdict = (
            "does not beat the champion: it prices every shared row exactly as the champion "
            "does (the same data, seed and chosen settings rebuild the same model): "
        )
    elif not beyond_noise:
        verdict = (
            f"does not beat the champion beyond noise: the interval's low end "
            f"{gain.rel_low:+.1%} is not above the minimum gain {min_gain:.1%}: "
        )
    else:
        verdict = "does not beat the champion: its MAPE is higher: "
    return GateVerdict(better, verdict + scores, cand, champ, **counts, gain=gain, **common)
