"""A second, differently built tree model averaged into the XGBoost booster.

LightGBM's extra-trees (split thresholds drawn at random, then the best of those kept) err
differently from XGBoost's exact-threshold trees, so their average prices better than either:
grouped CV, 5 folds × 4 on the real file, README "Model v2". Both are sums of trees in log
price, so their weighted average is a sum of trees too: `merge` rewrites the LightGBM trees,
scaled by their weight, as XGBoost trees of the booster itself. What is served stays one
XGBoost booster, so prices, TreeSHAP contributions (which add up to the blended log price,
the weighted sum of the two models' own) and the saved artifact work as before, and serving
never imports LightGBM.

Why a converter of our own: LightGBM predicts one row at a time, about ten times slower per
tree than XGBoost's blocked predictor (10,000 rows through 1,500 of its trees: 0.95 s against
under 0.1 s), which would cost the batch path its speed; no library converts between the two.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import xgboost as xgb

if TYPE_CHECKING:
    import lightgbm as lgb

# Chosen by grouped CV, 5 folds × 4 (README "Model v2"): extra-trees need a small learning
# rate. 600 rounds at 0.06 scored within 0.02 MAPE points and ₹0.3k MAE of 900 and 1,500 at
# 0.03, with fewer trees to predict and explain; 400 at 0.1 was clearly worse. Brand, fuel,
# seller and gearbox are split as categories (as numbers: MAE +₹0.5k).
EXTRA_TREES_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "extra_trees": True,
    "learning_rate": 0.06,
    "num_leaves": 24,
    "max_depth": 6,
    "min_data_in_leaf": 10,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "monotone_constraints_method": "advanced",
    "num_threads": 1,  # as the booster: small data, shared machine
    "verbose": -1,
}
EXTRA_TREES_ROUNDS = 600
# The booster's share of the average; 0.4–0.6 scored alike in CV.
BOOSTER_WEIGHT = 0.5


def fit_extra_trees(
    matrix: np.ndarray,
    log_price: np.ndarray,
    monotone: list[int],
    categorical: list[int],
    seed: int,
    rounds: int = EXTRA_TREES_ROUNDS,
    margin: np.ndarray | None = None,
) -> lgb.Booster:
    """LightGBM extra-trees on the booster's own encoded rows, constraints and categories,
    boosting from `margin` where given (`carprice.anchor`); its trees then hold the rest."""
    import lightgbm as lgb  # training only; serving never loads it

    params = {**EXTRA_TREES_PARAMS, "seed": seed, "monotone_constraints": monotone}
    data = lgb.Dataset(
        matrix, log_price, init_score=margin, categorical_feature=categorical, free_raw_data=True
    )
    return lgb.train(params, data, num_boost_round=rounds)


def forest_rounds(booster_rounds: int) -> int:
    """The forest's rounds beside a booster of `booster_rounds`: EXTRA_TREES_ROUNDS, as
    chosen beside 600, but no more than the booster's, so a run capped to a few rounds for
    speed (`--max-rounds`) stays quick."""
    return max(1, min(EXTRA_TREES_ROUNDS, booster_rounds))


def settings(booster_rounds: int) -> dict[str, Any]:
    """The blend beside a booster of `booster_rounds`, as fitted and as recorded with the
    model (one place, so the run's parameters can't drift from what was fitted)."""
    return {"forest_rounds": forest_rounds(booster_rounds), "booster_weight": BOOSTER_WEIGHT}


def merge(
    booster: xgb.Booster,
    forest: lgb.Booster,
    booster_weight: float,
    category_counts: dict[int, int],
    head_start: dict | None = None,
) -> xgb.Booster:
    """One XGBoost booster predicting `booster_weight` × booster + the rest × forest, in log
    price: the booster's leaves and base score scaled, the forest's trees appended.
    `category_counts` gives each categorical feature's number of codes (0 … n-1).

    `head_start` is the tree (`anchor.Margin.tree`) of the blended margin both models were
    trained to boost from: it is appended as it is, and takes the base score's place (XGBoost
    boosts from a DMatrix's margin instead of its base score)."""
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    trees = learner["gradient_booster"]["model"]
    num_feature = learner["learner_model_param"]["num_feature"]
    for tree in trees["trees"]:
        _scale_leaves(tree, booster_weight)
    base = 0.0 if head_start else float(json.loads(learner["learner_model_param"]["base_score"])[0])
    learner["learner_model_param"]["base_score"] = f"[{base * booster_weight:.9E}]"
    roots = [
        (info["tree_structure"], 1.0 - booster_weight) for info in forest.dump_model()["tree_info"]
    ]
    if head_start:
        roots.append((head_start, 1.0))
    for root, weight in roots:
        tree = _from_lightgbm(root, weight, num_feature, category_counts)
        tree["id"] = len(trees["trees"])
        trees["trees"].append(tree)
    count = len(trees["trees"])
    trees["tree_info"] = [0] * count
    trees["iteration_indptr"] = list(range(count + 1))
    trees["gbtree_model_param"]["num_trees"] = str(count)
    merged = xgb.Booster()
    merged.load_model(bytearray(json.dumps(model).encode()))
    return merged


def _scale_leaves(tree: dict, weight: float) -> None:
    """A leaf's value is its split condition; base weights are every node's value."""
    leaves = np.asarray(tree["left_children"]) == -1
    conditions = np.asarray(tree["split_conditions"], dtype=np.float64)
    conditions[leaves] *= weight
    tree["split_conditions"] = conditions.astype(np.float32).tolist()
    values = np.asarray(tree["base_weights"], dtype=np.float64) * weight
    tree["base_weights"] = values.astype(np.float32).tolist()


def _threshold(value: float) -> float:
    """LightGBM sends x ≤ t left; XGBoost sends x < s left, with s a float32. For float32
    inputs both agree when s is the float32 just above the largest float32 ≤ t."""
    below = np.float32(value)
    if float(below) > value:
        below = np.nextafter(below, np.float32(-np.inf))
    return float(np.nextafter(below, np.float32(np.inf)))


def _from_lightgbm(
    root: dict, weight: float, num_feature: str, category_counts: dict[int, int]
) -> dict:
    """A LightGBM tree (from `dump_model`) as an XGBoost JSON tree, leaves scaled by
    `weight`. Node covers are LightGBM's hessian sums, what XGBoost's TreeSHAP expects.

    A LightGBM category split lists the codes sent left, and sends the rest and a missing
    code right; an XGBoost one lists the codes sent right, and sends a missing code the
    default way."""
    categories: dict[str, list[int]] = {k: [] for k in ("nodes", "segments", "sizes", "codes")}
    arrays: dict[str, list] = {
        k: []
        for k in (
            "left_children",
            "right_children",
            "parents",
            "split_indices",
            "split_conditions",
            "default_left",
            "base_weights",
            "loss_changes",
            "sum_hessian",
            "split_type",
        )
    }
    # Breadth-first, each split's two children numbered together (left, then right), the
    # layout XGBoost itself writes; its TreeSHAP gives wrong sums for other numberings.
    order: list[tuple[dict, int]] = [(root, 2147483647)]
    children: dict[int, tuple[int, int]] = {}
    for index, (node, _) in enumerate(order):  # grows while it is read
        if "split_index" in node:
            children[index] = (len(order), len(order) + 1)
            order.extend([(node["left_child"], index), (node["right_child"], index)])
    for index, (node, parent) in enumerate(order):
        leaf = "split_index" not in node
        arrays["parents"].append(parent)
        if leaf:
            value = float(node["leaf_value"]) * weight
            arrays["left_children"].append(-1)
            arrays["right_children"].append(-1)
            arrays["split_type"].append(0)
            arrays["split_indices"].append(0)
            arrays["split_conditions"].append(value)
            arrays["default_left"].append(0)
            arrays["base_weights"].append(value)
            arrays["loss_changes"].append(0.0)
            arrays["sum_hessian"].append(float(node.get("leaf_weight", node.get("leaf_count", 0))))
            continue
        feature = int(node["split_feature"])
        if node["decision_type"] == "==":
            sent_left = {int(code) for code in str(node["threshold"]).split("||")}
            sent_right = [c for c in range(category_counts[feature]) if c not in sent_left]
            categories["nodes"].append(index)
            categories["segments"].append(len(categories["codes"]))
            categories["sizes"].append(len(sent_right))
            categories["codes"].extend(sent_right)
            split_type, condition, nan_left = 1, 0.0, False
        elif node["decision_type"] == "<=" and node["missing_type"] in ("None", "NaN"):
            threshold = float(node["threshold"])
            split_type, condition = 0, _threshold(threshold)
            # Missing type "None": LightGBM reads NaN as 0.0; "NaN": it follows default_left.
            nan_left = (
                (threshold >= 0.0) if node["missing_type"] == "None" else node["default_left"]
            )
        else:
            raise ValueError(
                f"cannot convert a {node['decision_type']} split with missing type "
                f"{node['missing_type']}"
            )
        left, right = children[index]
        arrays["left_children"].append(left)
        arrays["right_children"].append(right)
        arrays["split_type"].append(split_type)
        arrays["split_indices"].append(feature)
        arrays["split_conditions"].append(condition)
        arrays["default_left"].append(int(bool(nan_left)))
        arrays["base_weights"].append(float(node["internal_value"]) * weight)
        arrays["loss_changes"].append(float(node["split_gain"]))
        arrays["sum_hessian"].append(float(node["internal_weight"]))
    return {
        **arrays,
        "categories": categories["codes"],
        "categories_nodes": categories["nodes"],
        "categories_segments": categories["segments"],
        "categories_sizes": categories["sizes"],
        "id": 0,
        "tree_param": {
            "num_deleted": "0",
            "num_feature": num_feature,
            "num_nodes": str(len(order)),
            "size_leaf_vector": "1",
        },
    }
