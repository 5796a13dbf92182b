"""Hands priced rows to the quote log: ids are made on the request path (they go back in the
answer), the rows themselves are built later on the writer thread (`carprice.quotelog`),
so logging costs a request microseconds per row."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.runtime import Served
from api.scoring import PricedBatch
from carprice.model import Prepared
from carprice.quotelog.records import (
    ID_LENGTH,
    now_utc,
    prepared_rows,
    quote_id_text,
    single_row,
    split_ids,
)
from carprice.quotelog.writer import QuoteLog


def log_single(
    quote_log: QuoteLog,
    served: Served,
    car: dict[str, Any],
    result: dict[str, Any],
    key_name: str | None,
) -> str:
    """Log one `/predict` answer; returns its quote id."""
    quote_id = str(uuid.uuid4())
    created, version = now_utc(), served.version
    quote_log.submit(
        1,
        lambda: [
            single_row(
                car,
                result,
                quote_id,
                created_at=created,
                model_version=version,
                api_key_name=key_name,
            )
        ],
    )
    return quote_id


def log_batch(
    quote_log: QuoteLog, served: Served, batch: PricedBatch, key_name: str | None
) -> None:
    """Give every priced item of a `/predict/batch` answer its quote id, and log them."""
    if batch.prepared is None:
        return
    ok = batch.prepared.ok
    ids: list[str | None] = [None] * len(batch.positions)
    fresh = iter(split_ids(quote_id_text(int(ok.sum()))))
    for j, i in enumerate(batch.positions):
        if ok[j]:
            ids[j] = batch.items[i].quote_id = next(fresh)
    _submit(quote_log, served, batch.prepared, batch.scores, batch.given, ids, key_name, "batch")


def log_chunk(
    quote_log: QuoteLog | None,
    served: Served,
    prepared: Prepared | None,
    scores: Any,
    given: Any,
    priced: np.ndarray,
    key_name: str | None,
) -> pa.Array:
    """Quote ids for a priced CSV chunk (null where `priced` is False) as an Arrow column,
    and its rows handed to the log. No log (None): the column is still filled."""
    n = len(priced)
    text = quote_id_text(n)
    offsets = np.arange(0, ID_LENGTH * (n + 1), ID_LENGTH, dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    column = pa.Array.from_buffers(pa.string(), n, buffers)
    column = pc.if_else(pa.array(priced, type=pa.bool_()), column, pa.scalar(None, pa.string()))
    if quote_log is not None and prepared is not None and priced.any():

        def build() -> list[dict[str, Any]]:
            ids = [q if ok else None for q, ok in zip(split_ids(text), priced, strict=True)]
            return prepared_rows(
                served.model,
                prepared,
                scores,
                given,
                ids,
                created_at=created,
                model_version=served.version,
                api_key_name=key_name,
                source="csv",
            )

        created = now_utc()
        quote_log.submit(int(priced.sum()), build, block=True)  # on the upload's worker thread
    return column


def _submit(
    quote_log: QuoteLog,
    served: Served,
    prepared: Prepared,
    scores: Any,
    given: Any,
    ids: list[str | None],
    key_name: str | None,
    source: str,
) -> None:
    count = sum(q is not None for q in ids)
    created, model, version = now_utc(), served.model, served.version
    quote_log.submit(
        count,
        lambda: prepared_rows(
            model,
            prepared,
            scores,
            given,
            ids,
            created_at=created,
            model_version=version,
            api_key_name=key_name,
            source=source,
        ),
    )
