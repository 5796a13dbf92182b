"""The upload reader: every spreadsheet dialect salespeople produce reads to the same table."""

from __future__ import annotations

import codecs
import io
import os

import pandas as pd
import pytest
from openpyxl import Workbook

from carprice.sheets import Dialect, TableError, read_table, sniff, write_csv

HEADER = ["Car Name", "Year", "Km Driven", "Fuel Type", "Seller Type", "Transmission", "Owner"]
ROWS = [
    ["Maruti Swift Dzire VDI", "2014", "145500", "Diesel", "Individual", "Manual", "First Owner"],
    ["Škoda Rapid 1.5 TDI", "2016", "57622", "Diesel", "Dealer", "Manual", "Second Owner"],
]


def _text(delimiter: str = ",", title: str | None = None, mileage: bool = False) -> str:
    header, rows = list(HEADER), [list(r) for r in ROWS]
    if mileage:
        header.append("Mileage")
        rows[0].append("23,4 kmpl" if delimiter != "," else "23.4 kmpl")
        rows[1].append("21,1" if delimiter != "," else "21.1")
    lines = ([title, ""] if title else []) + [delimiter.join(r) for r in [header, *rows]]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    ("encoded", "delimiter", "encoding"),
    [
        (_text(",").encode("utf-8"), ",", "utf-8"),
        (codecs.BOM_UTF8 + _text(";").encode("utf-8"), ";", "utf-8-sig"),
        (_text("\t").encode("utf-16"), "\t", "utf-16"),  # Excel's "Unicode text"
        (_text(";").encode("cp1252"), ";", "cp1252"),
        (_text("|").encode("utf-8"), "|", "utf-8"),
    ],
)
def test_every_dialect_reads_to_the_same_table(
    encoded: bytes, delimiter: str, encoding: str
) -> None:
    table = read_table(encoded)
    assert table.headers == HEADER
    assert table.rows.to_numpy().tolist() == ROWS  # accents survive every encoding
    assert (table.dialect.delimiter, table.dialect.encoding) == (delimiter, encoding)
    assert table.dialect.plain == (delimiter == "," and encoding.startswith("utf-8"))


def test_windows_1252_is_read_with_a_note_to_check_accents() -> None:
    table = read_table(_text(";").encode("cp1252"))
    assert any("Windows-1252" in note for note in table.dialect.notes)
    assert "Windows-1252" in table.dialect.describe()


def test_decimal_commas_become_points_only_in_a_non_comma_file() -> None:
    table = read_table(_text(";", mileage=True).encode())
    assert table.dialect.decimal == ","
    assert table.rows[7].tolist() == ["23.4 kmpl", "21.1"]
    assert "decimal commas" in table.dialect.describe()
    assert read_table(_text(",", mileage=True).encode()).dialect.decimal == "."


def test_indian_digit_grouping_is_not_taken_for_a_decimal_comma() -> None:
    text = "name;year;km_driven\nMaruti Swift;2014;1,20,000\nHonda City;2015;12,5\n"
    assert read_table(text.encode()).rows[2].tolist() == ["1,20,000", "12.5"]


def test_a_title_above_the_header_is_skipped() -> None:
    table = read_table(_text(",", title="December lot, Pune branch").encode())
    assert table.headers == HEADER and len(table.rows) == 2
    assert table.dialect.header_row == 1 and not table.dialect.plain
    assert any("title" in note for note in table.dialect.notes)


def test_ragged_lines_keep_their_place_with_a_reason() -> None:
    text = _text(",") + "Honda City,2015\n" + ",".join(ROWS[0]) + ",extra\n"
    table = read_table(text.encode())
    assert len(table.rows) == 4
    assert set(table.problems) == {2, 3}
    assert "2 fields, but the header has 7" in table.problems[2]


def test_sniffing_prefers_the_delimiter_that_splits_consistently() -> None:
    assert sniff("a;b;c\n1,5;2;3\n4;5;6\n") == (";", ",")
    assert sniff("a,b,c\n1,2,3\n") == (",", ".")
    assert sniff("a|b\n1|2\n") == ("|", ".")
    assert sniff("just one column\nvalue\n")[0] == ","


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_xlsx_reads_the_sheet_with_the_car_header_below_its_title() -> None:
    cars = [["Stock list — December"], [], HEADER, [*ROWS[0][:1], 2014, 145500.0, *ROWS[0][3:]]]
    content = _workbook({"Notes": [["read me"], ["prices are indicative"]], "Cars": cars})
    table = read_table(content, "lot.xlsx")
    assert table.dialect.kind == "xlsx" and table.dialect.sheet == "Cars"
    assert table.headers == HEADER
    assert table.rows.iloc[0].tolist()[:3] == ["Maruti Swift Dzire VDI", "2014", "145500"]
    assert any("'Cars' of 2" in note for note in table.dialect.notes)


def test_xlsx_is_recognised_by_its_bytes_without_a_name() -> None:
    content = _workbook({"Sheet1": [HEADER, ROWS[0]]})
    assert read_table(content).dialect.kind == "xlsx"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \r\n\r\n", "empty"),
        (",".join(HEADER).encode(), "header but no cars"),
        (os.urandom(4000), "binary"),
        (b"\xd0\xcf\x11\xe0" + os.urandom(200), ".xls"),
        (b"PK\x03\x04not really a zip", "not a readable Excel workbook"),
    ],
)
def test_unreadable_files_say_what_is_wrong(content: bytes, message: str) -> None:
    with pytest.raises(TableError, match=message):
        read_table(content)


def test_very_long_cells_are_kept_whole() -> None:
    long = "x" * 10_000
    text = ",".join(HEADER) + "\n" + ",".join([long, *ROWS[0][1:]]) + "\n"
    assert read_table(text.encode()).rows.iloc[0, 0] == long


def test_answer_is_written_back_in_the_uploads_dialect() -> None:
    dialect = read_table(codecs.BOM_UTF8 + _text(";", mileage=True).encode()).dialect
    frame = pd.DataFrame({"Car Name": ["Maruti Swift"], "predicted_price": [450000], "x": [1.5]})
    out = write_csv(frame, dialect)
    assert out.startswith(codecs.BOM_UTF8)
    assert out.decode("utf-8-sig").splitlines() == [
        "Car Name;predicted_price;x",
        "Maruti Swift;450000;1,5",
    ]
    assert read_table(out).rows.iloc[0].tolist() == ["Maruti Swift", "450000", "1.5"]


def test_utf16_upload_gets_a_utf16_answer() -> None:
    dialect = Dialect(encoding="utf-16", delimiter="\t")
    out = write_csv(pd.DataFrame({"a": ["Škoda"]}), dialect)
    assert out.decode("utf-16").splitlines() == ["a", "Škoda"]


def test_an_unclosed_quote_says_where_to_look() -> None:
    text = ",".join(HEADER) + '\n"' + "x" * 140_000 + "\n"
    with pytest.raises(TableError, match="quote"):
        read_table(text.encode())


@pytest.mark.parametrize(
    "content",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200),
        b"%PDF-1.7\n" + os.urandom(300),
        bytes([0, 65] * 3 + [0, 0] * 100),  # zeros on both sides: not UTF-16 text
    ],
)
def test_images_pdfs_and_zero_runs_are_not_spreadsheets(content: bytes) -> None:
    with pytest.raises(TableError, match="not a spreadsheet|binary|no cars|empty|header"):
        read_table(content)


def test_a_damaged_workbook_is_a_table_error() -> None:
    content = bytearray(_workbook({"Cars": [HEADER, ROWS[0]]}))
    middle = len(content) // 2
    content[middle : middle + 200] = bytes(200)
    with pytest.raises(TableError, match="Excel workbook"):
        read_table(bytes(content), "lot.xlsx")


def test_points_that_group_thousands_are_dropped_in_a_decimal_comma_file() -> None:
    text = "name;year;km_driven;engine;mileage\nHonda City;2015;145.500;1.497 CC;17,8 kmpl\n"
    table = read_table(text.encode())
    assert table.rows.iloc[0].tolist() == ["Honda City", "2015", "145500", "1497 CC", "17.8 kmpl"]
