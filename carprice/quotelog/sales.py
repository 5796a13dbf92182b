"""Sale prices matched to quotes: the checks every sale passes, and a sales CSV read row by
row so each bad row is refused with its reason while the rest are recorded."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from carprice.quotelog.store import QuoteStore, SaleExists

SALE_COLUMNS = ("quote_id", "sale_price", "sold_on")
# A sale dated today is fine wherever the seller is: "the future" starts after today in the
# earliest time zone (UTC+14), so a sale made this morning in India is never refused.
_AHEAD = timedelta(hours=14)


def latest_today(now: datetime | None = None) -> date:
    """Today's date somewhere on Earth right now: the latest a real sale can be dated."""
    return ((now or datetime.now(UTC)).astimezone(UTC) + _AHEAD).date()


def sale_problem(sale_price: float, sold_on: date, today: date | None = None) -> str | None:
    """Why this sale can't be recorded, or None: a price must be a positive number of rupees
    and the date can't be in the future."""
    if not math.isfinite(sale_price) or sale_price <= 0:
        return f"sale_price must be a positive amount of rupees, not {sale_price:g}"
    limit = today or latest_today()
    if sold_on > limit:
        return f"sold_on {sold_on.isoformat()} is in the future (today is {limit.isoformat()})"
    return None


@dataclass
class SaleLine:
    """One row of a sales CSV: its number (1 = the first row under the header), what it says,
    and why it can't be recorded (None: it can, so far)."""

    row: int
    quote_id: str
    sale_price: float | None = None
    sold_on: date | None = None
    reason: str | None = None

    def outcome(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "quote_id": self.quote_id,
            "status": "refused" if self.reason else "recorded",
            "reason": self.reason,
        }


def _price(text: str) -> float:
    """'450000', '4,50,000', '₹ 450000.00' → 450000.0 (ValueError otherwise)."""
    cleaned = text.replace(",", "").replace("₹", "").replace("Rs.", "").replace("Rs", "").strip()
    return float(cleaned)


def read_lines(headers: list[str], rows: list[list[str]]) -> list[SaleLine]:
    """Cells as text → one `SaleLine` per row, with a reason for a row that can't be read."""
    names = [h.strip().lower().replace(" ", "_") for h in headers]
    where = {name: names.index(name) for name in SALE_COLUMNS if name in names}
    lines = []
    for number, cells in enumerate(rows, start=1):

        def cell(name: str, cells: list[str] = cells) -> str:
            i = where[name]
            return cells[i].strip() if i < len(cells) and cells[i] is not None else ""

        line = SaleLine(number, cell("quote_id"))
        price, sold = cell("sale_price"), cell("sold_on")
        if not line.quote_id:
            line.reason = "quote_id is empty"
        elif not price:
            line.reason = "sale_price is empty"
        elif not sold:
            line.reason = "sold_on is empty"
        else:
            try:
                line.sale_price = _price(price)
            except ValueError:
                line.reason = f"sale_price {price!r} is not a number"
            try:
                line.sold_on = date.fromisoformat(sold)
            except ValueError:
                line.reason = line.reason or f"sold_on {sold!r} is not a date as YYYY-MM-DD"
        if line.reason is None:
            line.reason = sale_problem(line.sale_price, line.sold_on)
        lines.append(line)
    return lines


def missing_columns(headers: list[str]) -> list[str]:
    names = {h.strip().lower().replace(" ", "_") for h in headers}
    return [c for c in SALE_COLUMNS if c not in names]


def record_lines(
    store: QuoteStore, lines: list[SaleLine], api_key_name: str | None = None
) -> list[dict[str, Any]]:
    """Record every line that passes: known quote, not sold before, not twice in this file.
    Returns each row's outcome in file order."""
    candidates = [line for line in lines if line.reason is None]
    ids = [line.quote_id for line in candidates]
    known = store.known_ids(ids)
    sold = store.sold_ids(ids)
    seen: dict[str, int] = {}
    for line in candidates:
        if line.quote_id not in known:
            line.reason = f"unknown quote_id {line.quote_id!r}"
        elif line.quote_id in sold:
            line.reason = (
                "this quote already has a sale; correct it with PUT /quotes/{quote_id}/sale"
            )
        elif line.quote_id in seen:
            line.reason = f"a second sale for this quote (row {seen[line.quote_id]} has one)"
        else:
            seen[line.quote_id] = line.row
    good = [line for line in candidates if line.reason is None]
    try:
        store.record_sales([(x.quote_id, x.sale_price, x.sold_on) for x in good], api_key_name)
    except SaleExists:  # one was sold meanwhile: record one by one, each with its own answer
        for line in good:
            try:
                store.record_sale(line.quote_id, line.sale_price, line.sold_on, api_key_name)
            except SaleExists:
                line.reason = "this quote already has a sale (recorded meanwhile)"
    return [line.outcome() for line in lines]
