"""The frozen evaluation set's rule (when a run reuses it, when a new one is made) and its
grouped hold-out."""

from __future__ import annotations

import pandas as pd

from carprice import evalset
from carprice.clean import clean_training
from carprice.synthetic import generate

COLUMNS = ["name", "year", "km_driven", "selling_price"]


def test_rule_reuses_the_current_set_unless_asked_or_the_columns_changed() -> None:
    current = {"set_id": "eval-1", "columns": COLUMNS}
    assert evalset.decide(current, COLUMNS).action == "reuse"
    assert evalset.decide(None, COLUMNS).action == "create"
    asked = evalset.decide(current, COLUMNS, new=True)
    assert asked.action == "create" and "asked" in asked.why
    changed = evalset.decide(current, [*COLUMNS, "torque_nm"])
    assert changed.action == "create" and "added ['torque_nm']" in changed.why
    assert evalset.decide(current, COLUMNS[:-1]).why.endswith("removed ['selling_price'])")
    real = evalset.decide({**current, "synthetic": False}, COLUMNS, synthetic=True)
    assert real.action == "create" and "synthetic" in real.why
    same = evalset.decide({**current, "synthetic": True}, COLUMNS, synthetic=True)
    assert same.action == "reuse"
    pinned = evalset.decide(current, [*COLUMNS, "x"], new=True, pinned="eval-0")
    assert pinned.action == "pinned"  # a pin wins over everything


def test_holdout_keeps_a_listing_and_its_reposts_together() -> None:
    frame = clean_training(generate(rows=600, seed=3)).frame
    repost = frame.head(5).copy()  # the same cars again, at a new asking price
    frame = pd.concat(
        [frame, repost.assign(selling_price=repost["selling_price"] + 1000)], ignore_index=True
    )
    held = evalset.holdout(frame, share=0.15, seed=1)
    assert 0.15 * len(frame) <= len(held) < 0.25 * len(frame)
    rest, excluded = evalset.exclude(frame, held)
    assert excluded == len(held) and len(rest) + len(held) == len(frame)
    assert not evalset.listing_keys(rest).isin(set(evalset.listing_keys(held))).any()
    assert held.equals(evalset.holdout(frame, share=0.15, seed=1))  # seeded: reproducible
    held_keys = set(evalset.listing_keys(held))
    for _, row in repost.iterrows():
        copies = frame[(frame["name"] == row["name"]) & (frame["km_driven"] == row["km_driven"])]
        assert len(copies) >= 2
        in_set = evalset.listing_keys(copies).isin(held_keys)
        assert in_set.all() or not in_set.any()  # both copies in the set, or neither
