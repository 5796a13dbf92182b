"""Quote ids, and quote-log rows built from what the pricing code already computed: quotes
(priced rows) and refusals (rows refused with a reason, see `refusal_rows`).

Ids are made on the request path (they go back to the caller), so they are made in bulk:
one `os.urandom` call and numpy for 10,000 rows costs about a millisecond, where
`str(uuid.uuid4())` per row costs ten. The rows themselves are built later, by the writer,
from the prepared frame (the inputs after the catalogue filled the specs): `quote_batch`
keeps what they need in columns, small enough to pickle to a writer process, and
`QuoteBatch.rows` builds them there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from carprice.schema import FRAME_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

    from carprice.model import Prepared, PricingModel

_DASH_AT = (8, 13, 18, 23)  # where a UUID's text has its dashes
_HEX_AT = [i for i in range(36) if i not in _DASH_AT]
ID_LENGTH = 36


def quote_id_text(n: int) -> bytes:
    """`n` random version-4 UUIDs (RFC 4122 version and variant bits set) as one ASCII
    string of `n` × 36 characters: one `os.urandom` call and numpy, no per-id Python."""
    if n <= 0:
        return b""
    raw = np.frombuffer(os.urandom(16 * n), dtype=np.uint8).reshape(n, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hexed = np.frombuffer(raw.tobytes().hex().encode(), dtype="S1").reshape(n, 32)
    text = np.empty((n, ID_LENGTH), dtype="S1")
    text[:, list(_DASH_AT)] = b"-"
    text[:, _HEX_AT] = hexed
    return text.tobytes()


def split_ids(text: bytes) -> list[str]:
    """`quote_id_text`'s ids as a list."""
    joined = text.decode("ascii")
    return [joined[i : i + ID_LENGTH] for i in range(0, len(joined), ID_LENGTH)]


def new_quote_ids(n: int) -> list[str]:
    """`n` random version-4 UUIDs as text."""
    return split_ids(quote_id_text(n))


def now_utc() -> datetime:
    return datetime.now(UTC)


def plain(value: Any) -> Any:
    """A cell as JSON: NaN/NA → None, numpy scalars → Python."""
    if value is None:
        return None
    if isinstance(value, float | np.floating) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover - pandas is a core dependency
        pass
    return value


def inputs_of(frame_row: Mapping[str, Any]) -> dict[str, Any]:
    """The car as it was priced: the model frame's columns, specs as filled."""
    return {col: plain(frame_row.get(col)) for col in FRAME_COLUMNS if col in frame_row}


def quote_row(
    quote_id: str,
    *,
    created_at: datetime,
    model_version: str,
    inputs: Mapping[str, Any],
    price: float,
    price_low: float,
    price_high: float,
    warnings: Sequence[Mapping[str, Any]],
    api_key_name: str | None,
    source: str,
) -> dict[str, Any]:
    return {
        "quote_id": quote_id,
        "created_at": created_at,
        "model_version": model_version,
        "inputs": dict(inputs),
        "price": float(price),
        "price_low": float(price_low),
        "price_high": float(price_high),
        "warnings": [{k: plain(v) for k, v in w.items()} for w in warnings],
        "api_key_name": api_key_name,
        "source": source,
    }


def single_row(
    car: Mapping[str, Any],
    result: Mapping[str, Any],
    quote_id: str,
    *,
    created_at: datetime,
    model_version: str,
    api_key_name: str | None,
) -> dict[str, Any]:
    """The row for one `PricingModel.quote` answer. Its contributions carry every model input
    as priced (specs as the catalogue filled them), so nothing is computed again; columns
    that aren't model inputs (the name) come from the car as sent."""
    priced = {item["feature"]: item["value"] for item in result["contributions"]["features"]}
    inputs = {col: plain(priced[col] if col in priced else car.get(col)) for col in FRAME_COLUMNS}
    return quote_row(
        quote_id,
        created_at=created_at,
        model_version=model_version,
        inputs=inputs,
        price=result["price"],
        price_low=result["price_low"],
        price_high=result["price_high"],
        warnings=result["warnings"],
        api_key_name=api_key_name,
        source="predict",
    )


def json_records(frame: pd.DataFrame) -> list[str]:
    """Each row as a JSON object's text, from one call of pandas' C writer.

    Split at the `},{"` between records rather than with `lines=True`, whose line-splitting
    pass costs more than the writing. The records are flat (no nested object), so `},{"`
    appears inside a record only where a text value ends in `},{` and its closing quote
    follows; every such place adds a record, so a count that doesn't match the frame's
    falls back to `lines=True` (newlines inside JSON strings are escaped).
    """
    if frame.empty or not len(frame.columns):
        return ["{}"] * len(frame)
    text = frame.to_json(orient="records", date_format="iso")
    records = ['{"' + body + "}" for body in text[3:-2].split('},{"')]
    if len(records) != len(frame):
        return frame.to_json(orient="records", lines=True, date_format="iso").splitlines()
    return records


@dataclass(frozen=True)
class QuoteBatch:
    """The quote rows of one priced frame, columnar: what `quote_batch` keeps of the request
    (the inputs as priced, prices, ids, the few warnings) and nothing of the model, so it
    pickles in milliseconds and `rows` can run in the writer's own process."""

    ids: list[str]
    inputs: pd.DataFrame  # the model frame's columns of the priced rows, specs as filled
    prices: np.ndarray  # (n, 3): price, price_low, price_high
    warned: dict[int, list[dict[str, Any]]]  # position in `ids` → its warnings (most have none)
    created_at: datetime
    model_version: str
    api_key_name: str | None
    source: str

    def rows(self) -> list[dict[str, Any]]:
        """One quote-log row per id. The inputs are serialised to JSON text by pandas' C
        writer in one call; a row without warnings stores the JSON text `[]`."""
        inputs = json_records(self.inputs)
        warned = self.warned
        created, version, key, source = (
            self.created_at, self.model_version, self.api_key_name, self.source
        )  # fmt: skip
        return [
            {
                "quote_id": quote_id,
                "created_at": created,
                "model_version": version,
                "inputs": text,  # JSON text, stored as is
                "price": price,
                "price_low": low,
                "price_high": high,
                "warnings": warned.get(j, "[]"),
                "api_key_name": key,
                "source": source,
            }
            for j, (quote_id, text, (price, low, high)) in enumerate(
                zip(self.ids, inputs, self.prices.tolist(), strict=True)
            )
        ]


@dataclass(frozen=True)
class LogBatch:
    """One hand-over to the quote log: a priced frame's quotes and its refused rows."""

    quotes: QuoteBatch | None
    refusals: list[dict[str, Any]]

    def rows(self) -> list[dict[str, Any]]:
        return (self.quotes.rows() if self.quotes is not None else []) + self.refusals


def quote_batch(
    model: PricingModel,
    prepared: Prepared,
    scores: pd.DataFrame,
    given: pd.DataFrame,
    ids: Sequence[str | None],
    *,
    created_at: datetime,
    model_version: str,
    api_key_name: str | None,
    source: str,
) -> QuoteBatch:
    """The priced rows of a frame priced by `model.prepare` + `model.price`, with the same
    warnings a single quote carries (placeholders replaced, outside the training range).
    `ids[i]` is None for a row that wasn't priced; `given` is the frame as it was priced.

    Only rows that can carry a warning (a value outside a training range, a placeholder
    spec) go through the model's per-row warning code, from one records pass; the rest are
    left to `QuoteBatch.rows`, which needs no model.
    """
    from carprice.model import PRICE_COLUMNS

    positions = np.flatnonzero(np.array([q is not None for q in ids], dtype=bool))
    columns = [c for c in FRAME_COLUMNS if c in prepared.frame.columns]
    frame = prepared.frame.iloc[positions][columns].reset_index(drop=True)
    prices = scores[list(PRICE_COLUMNS)].to_numpy(dtype=float)[positions]
    flagged = prepared.impossible.to_numpy(dtype=bool).any(axis=1)[positions]
    outside = np.zeros(len(positions), dtype=bool)
    for col, bounds in model.pipeline.ranges.items():
        if col in frame:
            values = pd_numeric(frame[col])
            with np.errstate(invalid="ignore"):
                outside |= (values < bounds["min"]) | (values > bounds["max"])
    warned: dict[int, list[dict[str, Any]]] = {}
    need = np.flatnonzero(outside | flagged)
    for j, record in zip(need.tolist(), frame.iloc[need].to_dict("records"), strict=True):
        warnings = model.warnings({k: plain(v) for k, v in record.items()})
        if flagged[j]:
            given_row = given.iloc[positions[j]].to_dict()
            warnings = model.placeholder_warnings(prepared, positions[j], given_row) + warnings
        if warnings:
            warned[j] = [{k: plain(v) for k, v in w.items()} for w in warnings]
    return QuoteBatch(
        ids=[ids[i] for i in positions.tolist()],  # type: ignore[misc]
        inputs=frame,
        prices=prices,
        warned=warned,
        created_at=created_at,
        model_version=model_version,
        api_key_name=api_key_name,
        source=source,
    )


def prepared_rows(
    model: PricingModel,
    prepared: Prepared,
    scores: pd.DataFrame,
    given: pd.DataFrame,
    ids: Sequence[str | None],
    **context: Any,
) -> list[dict[str, Any]]:
    """`quote_batch(...).rows()`: the rows at once, where the model is at hand."""
    return quote_batch(model, prepared, scores, given, ids, **context).rows()


MAX_REASON = 1000  # characters of a refusal's reason kept (an allowed-values list can be long)
REFUSAL_KEY = "refusal_id"  # a row with this key is a refusal; any other row is a quote


def is_refusal(row: Mapping[str, Any]) -> bool:
    """Whether a quote-log row (as built here, or read back from the spool) is a refusal."""
    return REFUSAL_KEY in row


def refusal_rows(
    reasons: Sequence[str],
    *,
    created_at: datetime,
    model_version: str,
    api_key_name: str | None,
    source: str,
) -> list[dict[str, Any]]:
    """One row per refused row, each with a fresh id (a spooled batch replayed twice inserts
    it once) and its reason (the text the caller got, cut at `MAX_REASON` characters).

    What counts as refused is a row the service was asked to price, had a model to price it
    with, and answered unpriced with a reason:

    * `predict`: a `/predict` car refused by the pricing logic (unknown brand or fuel, a car
      that can't be priced: the 422s raised by `PricingModel.quote`). A body that fails the
      request schema (not JSON, a wrong type, a year out of the schema's range) is rejected
      by FastAPI before any pricing and stays out: it says how the client was written, not
      what the cars asked for, and the handler that answers it knows no model version.
    * `batch`: every `/predict/batch` item answered with an `error`, schema failures included
      (each item is validated on its own and refused as one row of the batch).
    * `csv`: every `/predict/csv` row answered with an `error` (a malformed line, a value the
      model refuses, a chunk that failed to price).

    A whole request refused (401, 413, a file that can't be read, no model loaded) is no row
    and stays out, and so does anything sent with `record=false`.
    """
    ids = new_quote_ids(len(reasons))
    return [
        {
            REFUSAL_KEY: refusal_id,
            "created_at": created_at,
            "model_version": model_version,
            "api_key_name": api_key_name,
            "reason": _cut(str(reason or "not priced")),
            "source": source,
        }
        for refusal_id, reason in zip(ids, reasons, strict=True)
    ]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"


def pd_numeric(values: Any) -> np.ndarray:
    """A column as floats (NaN where empty or not a number)."""
    import pandas as pd

    return pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
