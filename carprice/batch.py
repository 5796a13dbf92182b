"""Price a large CSV from the lake with the champion, in chunks that can run in parallel.

Steps of the `batch_quotes` DAG: ``plan`` (check the file, pin the champion version, cut the
rows into chunk files), ``quote_chunk`` (one chunk, any worker), ``combine`` (one CSV in
input order). Every input row comes out with ``predicted_price``, ``price_low``,
``price_high``, ``model_version``, ``filled`` (specs taken from the catalogue) and ``error``
(the reason a row could not be priced); no row is ever dropped, and text cells are made safe
to open in a spreadsheet.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from carprice import lake, names
from carprice.safecsv import neutralise

MAX_CHUNKS = 1000  # below Airflow's default max_map_length (1024)
OUTPUT_COLUMNS = (
    "predicted_price",
    "price_low",
    "price_high",
    "model_version",
    "filled",
    "error",
)


class BatchError(ValueError):
    """The batch as a whole cannot be priced (bad file, no champion); says what to do."""


def default_output_uri(lake_root: str, input_uri: str) -> str:
    """``{lake_root}/batch/out/<input file name>``."""
    return lake.join(lake_root, names.BATCH_OUT_PREFIX, input_uri.rstrip("/").rsplit("/", 1)[-1])


def _champion_version() -> str:
    from carprice import registry
    from carprice.settings import get_settings

    settings = get_settings()
    registry.connect(settings.mlflow_tracking_uri, settings.experiment)
    version = registry.alias_version(settings.model_name, settings.model_alias)
    if version is None:
        raise BatchError(
            f"no '{settings.model_alias}' model yet: run car_price_pipeline first, then retry"
        )
    return version


def plan(input_uri: str, work_uri: str, chunk_rows: int) -> list[dict[str, Any]]:
    """Read and check the input, pin the champion, write one input file per chunk."""
    from carprice.clean import ShapeError, detect_shape, normalise_headers

    if chunk_rows < 1:
        raise BatchError("chunk_rows must be at least 1")
    try:
        frame = lake.read_csv(input_uri)
    except FileNotFoundError as exc:
        raise BatchError(f"{exc}: upload the CSV there first") from exc
    try:
        detect_shape(list(normalise_headers(frame).columns))
    except ShapeError as exc:
        raise BatchError(f"{input_uri}: {exc}") from exc
    if frame.empty:
        raise BatchError(f"{input_uri} has a header but no rows")
    version = _champion_version()
    size = max(chunk_rows, math.ceil(len(frame) / MAX_CHUNKS))
    chunks = []
    for index, start in enumerate(range(0, len(frame), size)):
        part = frame.iloc[start : start + size]
        uri = lake.join(work_uri, "in", f"{index:05d}.parquet")
        lake.write_bytes(uri, lake.parquet_bytes(part))
        chunks.append(
            {
                "index": index,
                "start": start,
                "rows": len(part),
                "version": version,
                "input": uri,
                "output": lake.join(work_uri, "out", f"{index:05d}.parquet"),
            }
        )
    return chunks


def price_rows(model: Any, version: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Input rows (text cells neutralised) plus the price columns, same order and length."""
    prices = model.predict(rows.reset_index(drop=True))
    out = pd.DataFrame({c: neutralise(rows[c]).to_numpy() for c in rows.columns})
    for col in ("predicted_price", "price_low", "price_high"):
        out[col] = pd.to_numeric(prices[col], errors="coerce").to_numpy()
    out["model_version"] = version
    out["filled"] = prices["filled"].to_numpy()
    out["error"] = neutralise(prices["error"].fillna("")).to_numpy()
    return out


def quote_chunk(chunk: dict[str, Any]) -> str:
    """Price one chunk with the pinned version; returns its output URI (rewritten on retry)."""
    from carprice import registry
    from carprice.settings import get_settings

    settings = get_settings()
    registry.connect(settings.mlflow_tracking_uri, settings.experiment)
    model = registry.load_version(settings.model_name, chunk["version"])
    rows = lake.read_parquet(chunk["input"])
    out = price_rows(model, chunk["version"], rows)
    if len(out) != chunk["rows"]:
        raise RuntimeError(f"chunk {chunk['index']}: {len(out)} rows out for {chunk['rows']} in")
    lake.write_bytes(chunk["output"], lake.parquet_bytes(out))
    return chunk["output"]


def combine(chunk_outputs: list[str], output_uri: str) -> dict[str, Any]:
    """One CSV in input order (chunk files are numbered); returns row counts."""
    parts = [lake.read_parquet(uri) for uri in sorted(chunk_outputs)]
    result = pd.concat(parts, ignore_index=True)
    lake.write_csv(output_uri, result)
    errors = int((result["error"] != "").sum())
    return {
        "output_uri": output_uri,
        "rows": len(result),
        "priced": len(result) - errors,
        "errors": errors,
    }
