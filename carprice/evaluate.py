"""Metrics in rupees, the calibrated prediction interval, and the promotion gate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
    their spec's price); fitted on out-of-fold residuals so they are honest.
    """

    level: float
    log_low: float
    log_high: float
    n_residuals: int

    @classmethod
    def fit(cls, log_residuals: np.ndarray, level: float) -> IntervalCalibration:
        """Residual = log(actual) − log(predicted); finite-sample conformal quantiles."""
        r = np.sort(np.asarray(log_residuals, dtype=float))
        n = len(r)
        alpha = (1.0 - level) / 2.0
        q_low = max(np.floor(alpha * (n + 1)) / n, 0.0)
        q_high = min(np.ceil((1.0 - alpha) * (n + 1)) / n, 1.0)
        return cls(
            level=level,
            log_low=float(np.quantile(r, q_low)),
            log_high=float(np.quantile(r, q_high)),
            n_residuals=n,
        )

    def bounds(self, price: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        price = np.asarray(price, dtype=float)
        return price * np.exp(self.log_low), price * np.exp(self.log_high)


def coverage(y_true: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    y = np.asarray(y_true, dtype=float)
    return float(np.mean((y >= low) & (y <= high)))


@dataclass(frozen=True)
class GateVerdict:
    """Why a candidate did or didn't become champion; recorded as model-version tags."""

    promote: bool
    candidate_mae: float
    champion_mae: float | None
    reason: str

    def tags(self) -> dict[str, str]:
        return {
            "gate.verdict": "promoted" if self.promote else "rejected",
            "gate.candidate_test_mae": f"{self.candidate_mae:.2f}",
            "gate.champion_test_mae": ""
            if self.champion_mae is None
            else f"{self.champion_mae:.2f}",
            "gate.reason": self.reason,
        }


def gate(candidate_mae: float, champion_mae: float | None) -> GateVerdict:
    """Promote only a strictly better test MAE on the same test set; the first model wins."""
    if champion_mae is None:
        return GateVerdict(True, candidate_mae, None, "no champion yet")
    if candidate_mae < champion_mae:
        return GateVerdict(
            True,
            candidate_mae,
            champion_mae,
            f"test MAE {candidate_mae:,.0f} beats champion's {champion_mae:,.0f}",
        )
    return GateVerdict(
        False,
        candidate_mae,
        champion_mae,
        f"test MAE {candidate_mae:,.0f} does not beat champion's {champion_mae:,.0f}",
    )
