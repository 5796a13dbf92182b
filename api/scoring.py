"""HTTP answers from the served model: every price comes from `PricingModel` (`quote` for one
car, `prepare` + `price` for many); this module only shapes them for the routes."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from pydantic import ValidationError

from api.schemas import BatchItem, RangeWarning
from carprice.features import UnknownCategory
from carprice.model import PRICE_COLUMNS, Prepared, PricingModel, UnpriceableCar
from carprice.schema import CarFeatures

# The API's names for the domain's refusals (422s; the first lists the allowed values).
UnknownValue = UnknownCategory
Unpriceable = UnpriceableCar
EXAMPLE_CAR: dict[str, Any] = CarFeatures.model_config["json_schema_extra"]["examples"][0]


def warm_up(model: PricingModel) -> None:
    """Price the schema's example once, so the first real request pays no first-call costs."""
    with contextlib.suppress(UnknownCategory, UnpriceableCar):
        model.quote(EXAMPLE_CAR)


def _reason(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'item'}: {e['msg']}" for e in exc.errors()
    )


@dataclass
class PricedBatch:
    """A batch's answers, plus what the quote log needs: the valid items as priced (`given`),
    `prepare`'s result and the prices, and each valid item's position in the request."""

    items: list[BatchItem]
    given: pd.DataFrame | None = None
    prepared: Prepared | None = None
    scores: pd.DataFrame | None = None
    positions: list[int] = field(default_factory=list)


def batch_items(model: PricingModel, cars: list[dict[str, Any]]) -> list[BatchItem]:
    """`price_batch`'s answers only."""
    return price_batch(model, cars).items


def price_batch(model: PricingModel, cars: list[dict[str, Any]]) -> PricedBatch:
    """Each item validated on its own (a bad one fails only itself); the valid ones priced
    together as one frame, with out-of-training-range warnings. Input order is kept."""
    items = [BatchItem(index=i) for i in range(len(cars))]
    valid: list[dict[str, Any]] = []
    positions: list[int] = []
    for i, raw in enumerate(cars):
        try:
            valid.append(CarFeatures.model_validate(raw).model_dump())
        except ValidationError as exc:
            items[i].error = _reason(exc)
            continue
        positions.append(i)
    if not valid:
        return PricedBatch(items)
    given = pd.DataFrame(valid, columns=list(CarFeatures.model_fields))
    prepared = model.prepare(given)
    priced = model.price(prepared)
    rows = prepared.frame.to_dict("records")
    for j, i in enumerate(positions):
        if not prepared.ok[j]:
            items[i].error = str(prepared.errors[j])
            continue
        item = items[i]
        item.price, item.price_low, item.price_high = (
            float(priced.at[j, col]) for col in PRICE_COLUMNS
        )
        item.filled = dict(prepared.filled_from.iloc[j])
        warnings = model.placeholder_warnings(prepared, j, valid[j]) + model.warnings(rows[j])
        item.warnings = [RangeWarning(**w) for w in warnings]
    return PricedBatch(items, given, prepared, priced, positions)
