"""Sale capture: what a quoted car really sold for, one at a time or as a CSV, with
corrections that keep the earlier value."""

from __future__ import annotations

import contextlib
from typing import Annotated, Any

from fastapi import APIRouter, File, HTTPException, UploadFile

from api.deps import KeyName, QuoteLogDep, RequireApiKey, quote_log_reachable
from api.schemas import ErrorBody, SaleIn, SaleOut, SalesUpload
from api.tabular import read_whole
from carprice.quotelog.sales import SALE_COLUMNS, missing_columns, read_lines, record_lines
from carprice.quotelog.sales import sale_problem as check_sale
from carprice.quotelog.store import NoSale, QuoteStore, SaleExists, UnknownQuote

_UNAVAILABLE = {
    "model": ErrorBody,
    "description": "The quote log's database can't be reached right now; nothing was "
    "recorded. Try again shortly.",
}
router = APIRouter(
    prefix="/quotes",
    tags=["quotes"],
    dependencies=[RequireApiKey],
    responses={
        401: {"model": ErrorBody, "description": "API key required and missing or wrong."},
        503: _UNAVAILABLE,
    },
)
_UNKNOWN = {"model": ErrorBody, "description": "No quote has this id."}
_INVALID = {
    "model": ErrorBody,
    "description": "sale_price ≤ 0, sold_on in the future, or a malformed body; the reason "
    "says which.",
}


def _database() -> contextlib.AbstractContextManager[None]:
    return quote_log_reachable("nothing was recorded. Try again shortly.")


def _checked(sale: SaleIn) -> None:
    problem = check_sale(sale.sale_price, sale.sold_on)
    if problem:
        raise HTTPException(status_code=422, detail=problem)


def _unknown(quote_id: str) -> HTTPException:
    return HTTPException(status_code=404, detail=f"No quote has the id {quote_id!r}.")


def _known(quote_log: QuoteLogDep, quote_id: str) -> None:
    if quote_id not in quote_log.known_ids([quote_id]):
        raise _unknown(quote_id)


def _answer(store: QuoteStore, quote_id: str) -> SaleOut:
    quote: dict[str, Any] = store.get_quote(quote_id) or {}
    sale: dict[str, Any] = store.get_sale(quote_id) or {}
    history = [
        {k: h[k] for k in ("sale_price", "sold_on", "recorded_at", "replaced_at")}
        for h in store.sale_history(quote_id)
    ]
    return SaleOut(
        **{k: sale[k] for k in ("quote_id", "sale_price", "sold_on", "recorded_at")},
        **{k: quote[k] for k in ("price", "price_low", "price_high", "model_version")},
        history=history,
    )


@router.post(
    "/{quote_id}/sale",
    status_code=201,
    response_model=SaleOut,
    responses={
        404: _UNKNOWN,
        409: {
            "model": ErrorBody,
            "description": "This quote already has a sale; correct it with PUT.",
        },
        422: _INVALID,
    },
)
def record_sale(quote_id: str, sale: SaleIn, quote_log: QuoteLogDep, key_name: KeyName) -> SaleOut:
    """Record what a quoted car sold for (a quote made a moment ago can be sold at once)."""
    _checked(sale)
    with _database():
        _known(quote_log, quote_id)
        try:
            quote_log.store.record_sale(quote_id, sale.sale_price, sale.sold_on, key_name)
        except UnknownQuote as exc:
            raise _unknown(quote_id) from exc
        except SaleExists as exc:
            raise HTTPException(
                status_code=409,
                detail="This quote already has a sale. To correct it, send the right values "
                f"with PUT /quotes/{quote_id}/sale (the earlier value is kept in history).",
            ) from exc
        return _answer(quote_log.store, quote_id)


@router.put(
    "/{quote_id}/sale",
    response_model=SaleOut,
    responses={
        404: {
            "model": ErrorBody,
            "description": "No quote has this id, or it has no sale yet to correct (POST it).",
        },
        422: _INVALID,
    },
)
def correct_sale(quote_id: str, sale: SaleIn, quote_log: QuoteLogDep, key_name: KeyName) -> SaleOut:
    """Correct a recorded sale; the value it replaces is kept in `history`."""
    _checked(sale)
    with _database():
        _known(quote_log, quote_id)
        try:
            quote_log.store.correct_sale(quote_id, sale.sale_price, sale.sold_on, key_name)
        except UnknownQuote as exc:
            raise _unknown(quote_id) from exc
        except NoSale as exc:
            raise HTTPException(
                status_code=404,
                detail=f"Quote {quote_id!r} has no sale to correct; record it with POST "
                f"/quotes/{quote_id}/sale.",
            ) from exc
        return _answer(quote_log.store, quote_id)


SALES_DOC = f"""Upload a table of sales as multipart field `file`: columns
`{", ".join(SALE_COLUMNS)}` (any order, extra columns ignored; CSV in any common dialect or
.xlsx, read as `/predict/csv` reads uploads). `sale_price` in rupees (`450000`, `4,50,000`),
`sold_on` as YYYY-MM-DD.

Every row is answered, in file order, with `recorded` or `refused` and the reason: an
unknown quote id, a price ≤ 0 or not a number, a missing or future date, a quote that already
has a sale (correct it with `PUT /quotes/{{quote_id}}/sale`), or a second row for one quote.
Refused rows don't stop the others. A file that can't be read is a 400, one without the
columns a 422."""


@router.post(
    "/sales",
    response_model=SalesUpload,
    description=SALES_DOC,
    responses={
        400: {"model": ErrorBody, "description": "The file can't be read; the reason says why."},
        413: {
            "model": ErrorBody,
            "description": "File larger than CARPRICE_API_MAX_SHEET_BYTES.",
        },
        422: {"model": ErrorBody, "description": "Columns quote_id, sale_price, sold_on missing."},
    },
)
def record_sales(
    file: Annotated[UploadFile, File(description="CSV or .xlsx: quote_id, sale_price, sold_on.")],
    quote_log: QuoteLogDep,
    key_name: KeyName,
) -> SalesUpload:
    """Record many sales from a CSV; every row answered with its status and reason."""
    table = read_whole(file.file.read(), file.filename, file.content_type)
    missing = missing_columns(table.headers)
    if missing:
        raise HTTPException(
            status_code=422,
            detail=f"The file lacks the column(s) {', '.join(missing)}; its headers are "
            f"{', '.join(map(repr, table.headers))}. Name them {', '.join(SALE_COLUMNS)}.",
        )
    cells = table.rows.fillna("").astype(str).to_numpy().tolist()
    lines = read_lines(table.headers, cells)
    for position, why in table.problems.items():
        if position < len(lines):
            lines[position].reason = why
    with _database():
        quote_log.known_ids([line.quote_id for line in lines if line.reason is None])
        outcomes = record_lines(quote_log.store, lines, key_name)
    recorded = sum(o["status"] == "recorded" for o in outcomes)
    return SalesUpload(recorded=recorded, refused=len(outcomes) - recorded, rows=outcomes)
