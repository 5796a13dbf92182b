"""The frozen evaluation set: one named, versioned hold-out in the lake on which every
candidate and the champion are scored.

Layout under the lake root::

    eval/current.json                 {"set_id": …}: the set new runs use
    eval/<set id>/rows.parquet        the clean rows of the set (typed, as `clean` makes them)
    eval/<set id>/manifest.json       id, created_at, source, rows, columns, SHA-256 of rows

The rule (`decide`): a run reuses the current set unless

* ``pinned`` names a set (``CARPRICE_EVAL_SET``): that one, whatever is current;
* a new set is asked for (``CARPRICE_NEW_EVAL_SET=true``, the DAG's ``new_eval_set`` Param);
* there is no set yet;
* the clean data's columns differ from the set's (the set could not be priced like the
  training rows any more);
* the set was drawn from a synthetic sample and the run's data is real, or the other way
  round (a different population: the set would measure nothing about this data).

New rows in the same file (sales added to the listings) do not make a new set: the set
stays, and the new rows go to training and the run's own test split.

A new set is a grouped hold-out of the run's clean rows: listings with the same name, year and
km (one car posted twice, `listings.listing_keys`) go to the set together, never one in the set
and its repost in training. Every run then drops from its clean rows each listing whose key is
in the set before it splits train/test, so no row of the set (nor its repost) is ever trained
on. Other cars of the same variant and year stay in training: they are the comparables any
quote is priced from. (Sets made before 2026-12-03 were grouped by name and year alone; their
rows are still excluded, by the finer key.)
A set is never rewritten: its id carries the rows' checksum and readers verify it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from carprice import lake, names
from carprice.listings import listing_keys

ROWS = "rows.parquet"
MANIFEST = "manifest.json"
CURRENT = "current.json"


class EvalSetError(RuntimeError):
    """The evaluation set is missing or does not match its manifest."""


@dataclass(frozen=True)
class Decision:
    action: str  # "reuse" | "create" | "pinned"
    why: str


@dataclass(frozen=True)
class EvalSet:
    set_id: str
    uri: str  # the set's folder
    rows: pd.DataFrame
    manifest: dict[str, Any]


def root_uri(lake_root: str) -> str:
    return lake.join(lake_root, names.EVAL_PREFIX)


def set_uri(lake_root: str, set_id: str) -> str:
    return lake.join(lake_root, names.EVAL_PREFIX, set_id)


def decide(
    current: dict[str, Any] | None,
    columns: list[str],
    new: bool = False,
    pinned: str | None = None,
    run: str = "",
    synthetic: bool | None = None,
) -> Decision:
    """Which set a run uses (see the module docstring); pure, for tests and the docs.

    A run that asked for a new set and already made it (a retried task) reuses that one.
    """
    if pinned:
        return Decision("pinned", f"pinned to {pinned} (CARPRICE_EVAL_SET)")
    if new and current is not None and run and current.get("created_by") == run:
        return Decision("reuse", f"reusing {current['set_id']}, made by this run")
    if new:
        return Decision("create", "a new evaluation set was asked for")
    if current is None:
        return Decision("create", "there was no evaluation set yet")
    if list(current.get("columns") or []) != list(columns):
        before, now = set(current.get("columns") or []), set(columns)
        added, removed = sorted(now - before), sorted(before - now)
        change = ", ".join(
            part
            for part in (
                f"added {added}" if added else "",
                f"removed {removed}" if removed else "",
            )
            if part
        )
        return Decision("create", f"the data's columns changed ({change or 'order'})")
    if synthetic is not None and bool(current.get("synthetic")) != synthetic:
        kind = "a synthetic sample" if synthetic else "real listings"
        return Decision("create", f"the data is now {kind}, unlike the set's")
    return Decision("reuse", f"reusing {current['set_id']}")


def is_synthetic(source: str) -> bool:
    """The generated sample is named SYNTHETIC… (as the training data summary tells it)."""
    return "synthetic" in source.lower()


def holdout(frame: pd.DataFrame, share: float, seed: int) -> pd.DataFrame:
    """A grouped random hold-out of about ``share`` of the rows (whole groups of reposts)."""
    keys = listing_keys(frame)
    unique = np.sort(keys.unique())
    rng = np.random.default_rng(seed)
    rng.shuffle(unique)
    counts = keys.value_counts()
    target = share * len(frame)
    taken, total = [], 0
    for key in unique:
        if total >= target:
            break
        taken.append(key)
        total += int(counts[key])
    return frame[keys.isin(set(taken))].reset_index(drop=True)


def exclude(frame: pd.DataFrame, eval_rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """``frame`` without any listing (or repost of one) that is in the evaluation set."""
    held = set(listing_keys(eval_rows)) if len(eval_rows) else set()
    keep = ~listing_keys(frame).isin(held) if held else pd.Series(True, index=frame.index)
    return frame[keep.to_numpy()].reset_index(drop=True), int((~keep).sum())


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def current_manifest(lake_root: str) -> dict[str, Any] | None:
    """The manifest of the set new runs use, or None when there is none yet."""
    try:
        pointer = json.loads(lake.read_bytes(lake.join(root_uri(lake_root), CURRENT)))
    except FileNotFoundError:
        return None
    return _manifest(lake_root, pointer["set_id"])


def _manifest(lake_root: str, set_id: str) -> dict[str, Any]:
    try:
        return json.loads(lake.read_bytes(lake.join(set_uri(lake_root, set_id), MANIFEST)))
    except FileNotFoundError as exc:
        raise EvalSetError(f"evaluation set {set_id} has no manifest under {lake_root}") from exc


def load(lake_root: str, set_id: str) -> EvalSet:
    """A set's rows, checked against its manifest's checksum."""
    manifest = _manifest(lake_root, set_id)
    uri = set_uri(lake_root, set_id)
    try:
        data = lake.read_bytes(lake.join(uri, ROWS))
    except FileNotFoundError as exc:
        raise EvalSetError(f"evaluation set {set_id} has no {ROWS}") from exc
    if _sha(data) != manifest["sha256"]:
        raise EvalSetError(f"evaluation set {set_id}: {ROWS} does not match its manifest")
    return EvalSet(set_id, uri, lake.read_parquet(lake.join(uri, ROWS)), manifest)


def create(
    lake_root: str,
    frame: pd.DataFrame,
    source: str,
    share: float,
    seed: int,
    why: str = "",
    run: str = "",
) -> EvalSet:
    """Write a new set from ``frame`` (clean rows) and make it current. The draw's seed is
    the configured one for the first set, then one more than the current set's, so a new set
    asked for on the same data is a different draw (and every draw can be repeated)."""
    current = current_manifest(lake_root)
    if current is not None:
        seed = int(current.get("seed", seed)) + 1
    rows = holdout(frame, share, seed)
    data = lake.parquet_bytes(rows)
    digest = _sha(data)
    set_id = f"eval-{time.strftime('%Y%m%d', time.gmtime())}-{digest[:10]}"
    uri = set_uri(lake_root, set_id)
    manifest = {
        "set_id": set_id,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": source,
        "synthetic": is_synthetic(source),
        "rows": len(rows),
        "groups": int(listing_keys(rows).nunique()) if len(rows) else 0,
        "of_rows": len(frame),
        "share": share,
        "seed": seed,
        "method": "grouped hold-out by name + year + km of the clean rows",
        "columns": list(frame.columns),
        "sha256": digest,
        "why": why,
        "created_by": run,
    }
    lake.write_bytes(lake.join(uri, ROWS), data)
    lake.write_bytes(lake.join(uri, MANIFEST), json.dumps(manifest, indent=2).encode())
    pointer = {"set_id": set_id, "since": manifest["created_at"]}
    lake.write_bytes(lake.join(root_uri(lake_root), CURRENT), json.dumps(pointer).encode())
    return EvalSet(set_id, uri, rows, manifest)


def resolve(
    lake_root: str,
    frame: pd.DataFrame,
    source: str,
    *,
    share: float,
    seed: int,
    new: bool = False,
    pinned: str | None = None,
    run: str = "",
) -> tuple[EvalSet, Decision]:
    """The set this run scores on, creating one when the rule says so."""
    current = None if pinned else current_manifest(lake_root)
    decision = decide(current, list(frame.columns), new, pinned, run, is_synthetic(source))
    if decision.action == "create":
        return create(lake_root, frame, source, share, seed, decision.why, run), decision
    set_id = pinned or (current or {})["set_id"]
    return load(lake_root, set_id), decision
