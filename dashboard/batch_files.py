"""The files Batch quotes hands a dealer: a template to start from, and the priced lot as
CSV or Excel with the dealer's own columns, in their order, followed by the prices.

The CSV goes back in the upload's dialect (semicolon in, semicolon out; decimal commas put
back), so it opens in the same Excel that wrote it. The workbook stores numbers as numbers
(year, km, seats and prices sort and sum), shows prices in rupees with Indian grouping, and
marks the rows that weren't priced. Text that a spreadsheet would run as a formula stays text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from carprice.safecsv import neutralise
from carprice.sheets import Dialect, Table, write_csv
from dashboard.batch import IDENTITY_COLUMNS, summarise_filled_column

TEMPLATE_ROWS = (
    ("Maruti Swift Dzire VDI", 2014, 145500, "Diesel", "Individual", "Manual", "First Owner"),
    ("Hyundai i20 Asta", 2016, 57622, "Petrol", "Dealer", "Manual", "Second Owner"),
)
# The columns added after the dealer's own, in this order: result column → header.
ADDED = {
    "predicted_price": "Price (Rs)",
    "price_low": "Low (Rs)",
    "price_high": "High (Rs)",
    "error": "Reason not priced",
    "filled": "Specs assumed",
    "model_version": "Model version",
    "quote_id": "Quote id",  # what a salesperson quotes back when recording the sale
}
PRICES = ("predicted_price", "price_low", "price_high")
# ₹ with lakh/crore grouping: ₹4,85,000 and ₹1,20,00,000 (Excel's own grouping is Western).
RUPEES = '[>=10000000]"₹"##\\,##\\,##\\,##0;[>=100000]"₹"##\\,##\\,##0;"₹"##,##0'
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_NOT_PRICED_FILL = "FDECEA"
_HEADER_FILL = "EEF2F7"
# A number as people type it: no leading zeros (a stock code keeps them), at most 15 digits
# (Excel's precision), optionally grouped with commas (1,20,000 or 120,000).
_PLAIN = re.compile(r"^-?(?:0|[1-9]\d{0,14})(?:\.\d{1,10})?$")
_GROUPED = re.compile(r"^-?[1-9]\d{0,2}(?:,\d{2,3})+(?:\.\d{1,10})?$")
_POINT_DECIMAL = re.compile(r"^(\s*-?\d+)\.(\d+)(\s*[^\d,;.]*)$")  # read_table's ',' → '.'


@dataclass(frozen=True)
class PricedSheet:
    """The download: the dealer's columns then ADDED's, and which rows weren't priced."""

    frame: pd.DataFrame  # the dealer's headers may repeat; the added ones never clash
    own: int  # how many of the columns are the dealer's
    not_priced: np.ndarray  # bool per row

    def added(self, result_column: str) -> int:
        """Position of an added column (by its result column name)."""
        return self.own + list(ADDED).index(result_column)


def template_csv() -> bytes:
    """A CSV with the identity columns only (specs are filled by the model), two example rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IDENTITY_COLUMNS)
    writer.writerows(TEMPLATE_ROWS)
    return out.getvalue().encode()


def priced_sheet(table: Table, results: pd.DataFrame) -> PricedSheet:
    """The dealer's cells as uploaded, then price, low, high (whole rupees), the reason a row
    wasn't priced, the specs assumed, the model version and the quote id."""
    added = pd.DataFrame(
        {
            **{c: results[c].round().astype("Int64") for c in PRICES},
            "error": results["error"].fillna("").astype(str),
            "filled": summarise_filled_column(results["filled"].fillna("").astype(str)),
            "model_version": results["model_version"].fillna("").astype(str),
            "quote_id": results["quote_id"].fillna("").astype(str),
        }
    )
    frame = pd.concat(
        [table.rows.reset_index(drop=True), added.reset_index(drop=True)], axis=1, ignore_index=True
    )
    frame.columns = [*table.headers, *_added_headers(table.headers)]
    return PricedSheet(frame, len(table.headers), (added["error"] != "").to_numpy())


def _added_headers(own: Sequence[str]) -> list[str]:
    """ADDED's headers, with ' (CarPrice)' where the dealer's file already has one (a file
    priced before and uploaded again)."""
    taken = {h.strip().lower() for h in own}
    return [h if h.lower() not in taken else f"{h} (CarPrice)" for h in ADDED.values()]


def to_csv(sheet: PricedSheet, dialect: Dialect) -> bytes:
    """The sheet in the upload's dialect via carprice.sheets.write_csv; the dealer's decimal
    commas put back, and formula-like text defused with a leading apostrophe."""
    frame = sheet.frame.copy()
    for i in range(sheet.own):
        column = neutralise(frame.iloc[:, i])
        if dialect.kind == "csv" and dialect.decimal == ",":
            column = column.str.replace(_POINT_DECIMAL, r"\1,\2\3", regex=True)
        frame.isetitem(i, column)
    for name in ("error", "filled", "model_version", "quote_id"):
        frame.isetitem(sheet.added(name), neutralise(frame.iloc[:, sheet.added(name)]))
    return write_csv(frame, dialect)


def numbers(values: pd.Series) -> list[int | float | None] | None:
    """The column as numbers when every filled cell is one (blanks stay empty), else None."""
    text = values.fillna("").astype(str).str.strip()
    filled = text[text != ""]
    if filled.empty or not (filled.str.match(_PLAIN) | filled.str.match(_GROUPED)).all():
        return None
    parsed = pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce")
    whole = bool((parsed.dropna() % 1 == 0).all())
    return [None if pd.isna(v) else (int(v) if whole else float(v)) for v in parsed]


def to_excel(sheet: PricedSheet) -> bytes:
    """The sheet as an .xlsx: header frozen, numbers as numbers, prices in rupees, the rows
    that weren't priced filled light red."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    ws = book.active
    ws.title = "quotes"
    ws.append([ILLEGAL_CHARACTERS_RE.sub("", str(h)) for h in sheet.frame.columns])
    header_fill = PatternFill("solid", fgColor=_HEADER_FILL)
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), header_fill
    columns = [_cells(sheet.frame.iloc[:, i]) for i in range(sheet.frame.shape[1])]
    for row in zip(*columns, strict=True) if columns else ():
        ws.append(row)
    for cell in ws[1]:
        cell.data_type = "s"  # a header is never a formula
    for i, values in enumerate(columns, start=1):
        for r, value in enumerate(values, start=2):
            if isinstance(value, str) and value.startswith("="):
                ws.cell(r, i).data_type = "s"  # text the dealer wrote, not a formula to run
    for name in PRICES:
        for (cell,) in ws.iter_rows(min_row=2, min_col=sheet.added(name) + 1,
                                    max_col=sheet.added(name) + 1):  # fmt: skip
            cell.number_format = RUPEES
    fill = PatternFill("solid", fgColor=_NOT_PRICED_FILL)
    for r in np.flatnonzero(sheet.not_priced):
        for cell in ws[int(r) + 2]:
            cell.fill = fill
    _fit_widths(ws, columns, list(sheet.frame.columns))
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _cells(values: pd.Series) -> list[object]:
    """One column's cell values: numbers where the whole column is numeric, else text safe
    for a workbook (characters XML can't hold are dropped)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if pd.api.types.is_numeric_dtype(values):  # the prices
        return [None if pd.isna(v) else v.item() if hasattr(v, "item") else v for v in values]
    as_numbers = numbers(values)
    if as_numbers is not None:
        return as_numbers
    text = values.fillna("").astype(str).str.replace(ILLEGAL_CHARACTERS_RE, "", regex=True)
    return [v if v != "" else None for v in text.str.slice(0, 32_767)]


def _fit_widths(ws, columns: list[list[object]], headers: list[str]) -> None:  # noqa: ANN001
    """Each column as wide as its header or first 200 cells, within 8–60 characters."""
    from openpyxl.utils import get_column_letter

    for i, (header, values) in enumerate(zip(headers, columns, strict=True), start=1):
        longest = max([len(str(header))] + [len(str(v)) for v in values[:200] if v is not None])
        ws.column_dimensions[get_column_letter(i)].width = min(max(longest + 2, 8), 60)
