"""A head start for the booster: a staircase in the encoder's estimate of the car's log price.

Trees don't extrapolate: a leaf prices the mean of its rows, and at the dear end of the range
few cars share a leaf with their like. Fitted on every clean row of the real file, the design
before this priced its own training cars above ₹50 lakh about 13% low (mean log error +0.145
over 19 rows; +0.127 with the head start), and the dearest tenth of listings makes a third of
the absolute error. Boosting from half of `te_price` (the name encoding brought to the car's
age, km, owners and seller) lets the booster learn what is left instead of climbing to the
extremes by itself. All of it was worse (MAPE +0.27 points): a rare variant's estimate is
noisy and the trees must then undo it.

A straight line isn't a tree, so the head start is a staircase: steps `STEP` wide in
`te_price`, each at the slope times its training rows' mean estimate. It is the margin the
models boost from in training, and one more tree of the merged booster in serving (`tree`),
so training and serving price with the same steps, TreeSHAP credits its share to `te_price`,
and the monotone constraint on `te_price` still holds: the steps only rise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The share of the estimate each model boosts from. Paired against none, grouped CV 5 folds ×
# 4 on two sets of folds (README, "Model v2"): the booster at 0.5 cut MAE by ₹0.35k [0.03k,
# 0.70k] and ₹0.44k [0.06k, 0.81k], lower in all 8 repeats, with MAPE, median APE and
# unseen-variant MAPE within ±0.04 points. Giving the forest a share too cut MAE as much but
# raised unseen-variant MAPE by 0.07–0.09 points.
BOOSTER_SLOPE = 0.5
FOREST_SLOPE = 0.0
ESTIMATE = "te_price"  # the encoder's estimate (`target_encoding`), a column of the matrix
# Log price (2% in rupees): about 230 steps on the real file, as measured above; the trees
# learn what a step's flat top leaves. Coarse steps lose some of the gain: with the forest's
# share as well, steps of 0.1 scored MAPE +0.05 and MAE +₹0.4k against a straight line.
STEP = 0.02


def settings() -> dict[str, float]:
    """As recorded with a model's parameters."""
    return {"anchor_booster_slope": BOOSTER_SLOPE, "anchor_forest_slope": FOREST_SLOPE,
            "anchor_step": STEP}  # fmt: skip


@dataclass(frozen=True)
class Anchor:
    """Steps of `te_price` (column `feature` of the encoded matrix) learnt from training rows:
    a row is on step ``searchsorted(thresholds, x, 'right')``, which is where XGBoost's
    ``x < threshold → left`` splits send it. Every step holds at least one training row."""

    feature: int
    thresholds: np.ndarray  # float32, increasing
    centres: np.ndarray  # per step: its training rows' mean estimate
    counts: np.ndarray  # per step: its training rows (TreeSHAP's covers)

    @classmethod
    def fit(cls, matrix: np.ndarray, feature: int, step: float = STEP) -> Anchor:
        estimate = matrix[:, feature].astype(np.float32)
        low, high = float(estimate.min()), float(estimate.max())
        grid = np.float32(low) + np.float32(step) * np.arange(1, int((high - low) / step) + 1)
        grid = grid.astype(np.float32)
        steps = np.searchsorted(grid, estimate, side="right")
        # A threshold with no row between it and the previous one makes an empty step: drop it.
        used = np.unique(steps)
        thresholds = grid[used[1:] - 1] if len(used) > 1 else grid[:0]
        steps = np.searchsorted(thresholds, estimate, side="right")
        counts = np.bincount(steps, minlength=len(thresholds) + 1)
        centres = np.bincount(steps, weights=estimate, minlength=len(counts)) / counts
        return cls(feature, thresholds, centres, counts.astype(float))

    def steps(self, matrix: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.thresholds, matrix[:, self.feature].astype(np.float32), "right")

    def margin(self, matrix: np.ndarray, log_price: np.ndarray, slope: float) -> Margin:
        """The head start of a model boosting from `slope` × the estimate, centred on the
        training rows' log prices so the trees start from zero on average."""
        rise = slope * self.centres
        level = float(np.mean(log_price - rise[self.steps(matrix)]))
        return Margin(self, rise + level)


@dataclass(frozen=True)
class Margin:
    """One model's head start: a value per step of its anchor."""

    anchor: Anchor
    values: np.ndarray

    def of(self, matrix: np.ndarray) -> np.ndarray:
        return self.values[self.anchor.steps(matrix)]

    def blended(self, other: Margin, weight: float) -> Margin:
        """`weight` × this + the rest × `other`: the merged booster's head start."""
        return Margin(self.anchor, weight * self.values + (1.0 - weight) * other.values)

    def tree(self) -> dict:
        """The staircase as a balanced tree in LightGBM's `dump_model` shape, for
        `blend.merge` to write as an XGBoost tree. LightGBM sends x ≤ t left, so each split
        stands at the float32 just below its threshold: x < threshold exactly, as `steps`."""
        anchor = self.anchor

        def node(first: int, last: int) -> dict:  # steps first … last
            count = float(anchor.counts[first : last + 1].sum())
            if first == last:
                return {"leaf_value": float(self.values[first]), "leaf_weight": count}
            middle = (first + last + 1) // 2  # steps ≥ middle go right
            below = np.nextafter(anchor.thresholds[middle - 1], np.float32(-np.inf))
            weights = anchor.counts[first : last + 1]
            return {
                "split_index": middle,
                "split_feature": anchor.feature,
                "threshold": float(below),
                "decision_type": "<=",
                "missing_type": "None",
                "default_left": True,
                "split_gain": 0.0,
                "internal_value": float(np.average(self.values[first : last + 1], weights=weights)),
                "internal_weight": count,
                "left_child": node(first, middle - 1),
                "right_child": node(middle, last),
            }

        return node(0, len(self.values) - 1)
