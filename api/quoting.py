"""Hands priced and refused rows to the quote log: quote ids are made on the request path
(they go back in the answer); the rest is built later, off the request path: a columnar
`LogBatch` on the writer's feeder thread, its rows in the writer (`carprice.quotelog`), so
logging costs a request microseconds per row.

Refused rows (see `carprice.quotelog.records.refusal_rows` for which count) go the same way,
with their reason: a `/predict` car the pricing logic refused (`log_refusal`), and the items
and rows of `/predict/batch` and `/predict/csv` answered with an error (`log_batch`,
`log_chunk`, in the same hand-over as the batch's quotes). The routes call none of these for
`record=false`."""

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
    LogBatch,
    now_utc,
    quote_batch,
    quote_id_text,
    refusal_rows,
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


def log_refusal(quote_log: QuoteLog, served: Served, reason: str, key_name: str | None) -> None:
    """Log one `/predict` car refused by the pricing logic, with the reason it was given."""
    created, version = now_utc(), served.version
    quote_log.submit(
        1,
        lambda: refusal_rows(
            [reason],
            created_at=created,
            model_version=version,
            api_key_name=key_name,
            source="predict",
        ),
    )


def log_batch(
    quote_log: QuoteLog, served: Served, batch: PricedBatch, key_name: str | None
) -> None:
    """Give every priced item of a `/predict/batch` answer its quote id, and log them, with
    every item answered with an `error` as a refusal."""
    items, prepared = batch.items, batch.prepared
    ids: list[str | None] = [None] * len(batch.positions)
    priced = 0
    if prepared is not None:
        ok = prepared.ok
        priced = int(ok.sum())
        fresh = iter(split_ids(quote_id_text(priced)))
        for j, i in enumerate(batch.positions):
            if ok[j]:
                ids[j] = items[i].quote_id = next(fresh)
    refused = len(items) - priced  # invalid items and the ones `prepare` refused
    created, model, version = now_utc(), served.model, served.version

    def build() -> LogBatch:
        quotes = None
        if prepared is not None and priced:
            quotes = quote_batch(
                model,
                prepared,
                batch.scores,
                batch.given,
                ids,
                created_at=created,
                model_version=version,
                api_key_name=key_name,
                source="batch",
            )
        reasons = [item.error for item in items if item.error is not None]
        return LogBatch(quotes, refusal_rows(
            reasons, created_at=created, model_version=version, api_key_name=key_name,
            source="batch",
        ))  # fmt: skip

    quote_log.submit(priced + refused, build)


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
    and its rows handed to the log: the priced ones as quotes, the others as refusals with
    their reason (`scores["error"]`). No log (None): the column is still filled."""
    n = len(priced)
    text = quote_id_text(n)
    offsets = np.arange(0, ID_LENGTH * (n + 1), ID_LENGTH, dtype=np.int32)
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(text)]
    column = pa.Array.from_buffers(pa.string(), n, buffers)
    column = pc.if_else(pa.array(priced, type=pa.bool_()), column, pa.scalar(None, pa.string()))
    count = int(priced.sum())
    quotes = prepared is not None and count > 0
    refused = n - count
    if quote_log is not None and (quotes or refused):
        version = served.version

        def build() -> LogBatch:
            batch, refusals = None, []
            if quotes:
                ids = [q if ok else None for q, ok in zip(split_ids(text), priced, strict=True)]
                batch = quote_batch(
                    served.model,
                    prepared,
                    scores,
                    given,
                    ids,
                    created_at=created,
                    model_version=version,
                    api_key_name=key_name,
                    source="csv",
                )
            if refused:
                errors = scores["error"].to_numpy(dtype=object)[~priced]
                refusals = refusal_rows(
                    [e if isinstance(e, str) and e else "not priced" for e in errors],
                    created_at=created, model_version=version, api_key_name=key_name,
                    source="csv",
                )  # fmt: skip
            return LogBatch(batch, refusals)

        created = now_utc()
        quote_log.submit(count + refused, build, block=True)  # on the upload's worker thread
    return column
