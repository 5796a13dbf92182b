"""Files people really upload to Batch quotes, built from data_samples/: junk, empty, a header
alone, huge cells, and the ways Excel saves a sheet by locale and menu item. Shared by the
AppTest tests (tests/dashboard/test_batch.py) and the browser test (tests/e2e).

`CORPUS`: file name → (bytes, what must show): "table" (priced rows) or "message" (a clear
st.error, no Price button).
"""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pandas as pd

SAMPLES = Path(__file__).resolve().parents[2] / "data_samples"


def _sample(name: str) -> pd.DataFrame:
    return pd.read_csv(SAMPLES / name, dtype=str, keep_default_na=False)


def semicolon_bom_decimal_comma(repeat: int = 1) -> bytes:
    """Excel in a European locale: 'CSV UTF-8' with ';' and decimal commas (20.0 → 20,0)."""
    frame = pd.concat([_sample("raw_listings.csv")] * repeat, ignore_index=True)
    for col in ("mileage", "max_power"):
        frame[col] = frame[col].str.replace(r"^(\d+)\.(\d+)", r"\1,\2", regex=True)
    return codecs.BOM_UTF8 + frame.to_csv(index=False, sep=";").encode()


def utf16_tab() -> bytes:
    """Excel's 'Unicode text': UTF-16 with a BOM, tab-separated."""
    return _sample("identity_only_cars.csv").to_csv(index=False, sep="\t").encode("utf-16")


def windows_1252() -> bytes:
    """Excel's plain 'CSV' on Windows: cp1252, an accented name among them."""
    frame = _sample("identity_only_cars.csv")
    frame.loc[0, "name"] = "Škoda Rapid 1.5 TDI Elegance"
    return frame.to_csv(index=False).encode("cp1252")


def pipe() -> bytes:
    return _sample("quote_cars.csv").to_csv(index=False, sep="|").encode()


def huge_cells() -> bytes:
    """Two cars, one with 10,000-character cells (a pasted description)."""
    frame = _sample("identity_only_cars.csv").head(2)
    frame["notes"] = ["x" * 10_000, "short"]
    frame.loc[0, "name"] = frame.loc[0, "name"] + " " + "y" * 10_000
    return frame.to_csv(index=False).encode()


def workbook_two_sheets_title_row() -> bytes:
    """An .xlsx whose first sheet is notes and whose second has a title above the header."""
    from openpyxl import Workbook

    frame = _sample("identity_only_cars.csv")
    book = Workbook()
    notes = book.active
    notes.title = "Read me"
    notes.append(["Stock list for the March auction"])
    notes.append(["Prices to be confirmed"])
    cars = book.create_sheet("Cars")
    cars.append(["Lot 42 — March auction"])
    cars.append(list(frame.columns))
    for row in frame.itertuples(index=False):
        cells = list(row)
        cars.append([int(c) if c.isdigit() else c for c in cells])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


CORPUS: dict[str, tuple[bytes, str]] = {
    "junk.csv": (bytes(range(256)) * 40, "message"),
    "empty.csv": (b"", "message"),
    "header_only.csv": (b"name,year,km_driven,fuel,seller_type,transmission,owner\n", "message"),
    "huge_cells.csv": (huge_cells(), "table"),
    "semicolon_bom_decimal_comma.csv": (semicolon_bom_decimal_comma(), "table"),
    "utf16_tab.txt": (utf16_tab(), "table"),
    "windows_1252.csv": (windows_1252(), "table"),
    "pipe.csv": (pipe(), "table"),
    "two_sheets_title_row.xlsx": (workbook_two_sheets_title_row(), "table"),
}
