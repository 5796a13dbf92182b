"""Listings replayed as a week of logged quotes with their sales: the drill that shows what
`carprice.monitor` decides on known inputs (the monitor benchmark and its integration test).

Priced exactly as `/predict/csv` prices (the served model's `prepare` + `price`), logged
through the same row builder, so the monitor reads what production would have written.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pandas as pd

from carprice import names, registry
from carprice.quotelog.records import prepared_rows
from carprice.quotelog.store import QuoteStore

SPREAD_HOURS = 6 * 24  # quotes land over the six days before `now`: inside a 7-day window


def replay(store: QuoteStore, cars: pd.DataFrame, now: datetime) -> int:
    """Price raw listings (`selling_price` included) with the registry's champion, log them as
    quotes spread over the past six days, and record the listed price as the sale of every
    other priced one; returns the sales recorded."""
    model, version = registry.load(names.MODEL_NAME, names.CHAMPION)
    given = cars.drop(columns=["selling_price"]).reset_index(drop=True)
    prepared = model.prepare(given)
    scores = model.price(prepared)
    ids = [str(uuid.uuid4()) if ok else None for ok in prepared.ok]
    rows = prepared_rows(model, prepared, scores, given, ids, created_at=now,
                         model_version=version, api_key_name=None, source="csv")  # fmt: skip
    for i, row in enumerate(rows):
        row["created_at"] = now - timedelta(hours=1 + i % SPREAD_HOURS)
    store.insert_quotes(rows)
    listed = pd.to_numeric(cars["selling_price"], errors="coerce").to_numpy()
    priced = [(i, q) for i, q in enumerate(ids) if q is not None]
    sales = [(q, float(listed[i]), date.today()) for i, q in priced[::2]]
    store.record_sales(sales)
    return len(sales)
