"""One reader for the tables people upload: CSV in any common spreadsheet dialect, or .xlsx.

Excel writes CSV differently by locale and by menu item: semicolons and decimal commas in much
of Europe, UTF-16 with tabs for "Unicode text", Windows-1252 for plain "CSV", a BOM or not.
`read_table` sniffs all of that from the bytes, finds the header row (a title row above it is
skipped), and returns every cell as text with the dialect it found, so the answer can be
written back the same way (`write_csv`). The API's `/predict/csv` and the dashboard both read
uploads through here. A file that can't be read raises `TableError` saying what is wrong with
it and how to fix it.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field

import pandas as pd

from carprice.headers import suggest

XLSX_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroenabled.12",
    }
)
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_LINES = 50
_HEADER_SEARCH_ROWS = 20  # a title block above the header is at most this tall
_MIN_HEADER_MATCHES = 3  # cells a row needs that name schema columns to count as the header
_DECIMAL_COMMA = re.compile(r"^(\s*-?\d+),(\d+)(\s*[^\d,;]*)$")  # "23,4 kmpl", not "1,20,000"
_THOUSANDS_POINT = re.compile(r"^\s*-?\d{1,3}(?:\.\d{3})+(?=(?:,\d+)?\s*[^\d,.;]*$)")
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0"  # Excel 97–2003 .xls
# Images, PDFs and archives that aren't workbooks: refused by their first bytes.
_BINARY_MAGIC = (b"\x89PNG", b"%PDF", b"GIF8", b"\xff\xd8\xff", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class TableError(ValueError):
    """The upload as a whole can't be read; the message says what is wrong and how to fix it."""


@dataclass(frozen=True)
class Dialect:
    """How an upload was written, so its answer can be written back the same way."""

    kind: str = "csv"  # "csv" or "xlsx"
    encoding: str = "utf-8"  # the codec that decoded the text ("utf-8-sig": with a BOM)
    delimiter: str = ","
    decimal: str = "."
    sheet: str | None = None  # xlsx: the sheet read
    header_row: int = 0  # non-blank rows above the header (a title), skipped
    notes: tuple[str, ...] = ()  # what the user should know, in plain words

    @property
    def plain(self) -> bool:
        """UTF-8, comma-separated, decimal points, header first: CSV as every tool reads it."""
        return (
            self.kind == "csv"
            and self.encoding in ("utf-8", "utf-8-sig")
            and self.delimiter == ","
            and self.decimal == "."
            and self.header_row == 0
        )

    def describe(self) -> str:
        """'semicolon-separated CSV, UTF-8 with BOM, decimal commas' or 'Excel workbook …'."""
        if self.kind == "xlsx":
            where = f", sheet {self.sheet!r}" if self.sheet else ""
            title = ", header below a title" if self.header_row else ""
            return f"Excel workbook{where}{title}"
        parts = [f"{_DELIMITER_NAMES[self.delimiter]}-separated CSV", _ENCODING_NAMES.get(
            self.encoding, self.encoding)]  # fmt: skip
        if self.decimal == ",":
            parts.append("decimal commas")
        if self.header_row:
            parts.append("header below a title")
        return ", ".join(parts)


_ENCODING_NAMES = {
    "utf-8": "UTF-8",
    "utf-8-sig": "UTF-8 with BOM",
    "utf-16": "UTF-16",
    "cp1252": "Windows-1252",
    "latin-1": "Latin-1",
}


@dataclass
class Table:
    """An upload's cells as text: the header as written, and the data rows in order."""

    headers: list[str]
    rows: pd.DataFrame  # columns 0..n-1, every cell a str ('' when empty)
    dialect: Dialect
    problems: dict[int, str] = field(default_factory=dict)  # row position → why it's malformed

    @property
    def frame(self) -> pd.DataFrame:
        """The rows under their headers (for previews; headers may repeat)."""
        out = self.rows.copy()
        out.columns = self.headers
        return out


def is_xlsx(content: bytes, filename: str | None = None, content_type: str | None = None) -> bool:
    """By content type, file name or the bytes themselves (an .xlsx is a zip archive)."""
    if content_type and content_type.split(";")[0].strip().lower() in XLSX_TYPES:
        return True
    if filename and filename.lower().endswith((".xlsx", ".xlsm")):
        return True
    return content[:4] == _ZIP


def read_table(
    content: bytes, filename: str | None = None, content_type: str | None = None
) -> Table:
    """Bytes of a CSV (any dialect above) or an .xlsx workbook → a Table; TableError if not."""
    if not content.strip():
        raise TableError(
            "The file is empty. Upload a CSV or Excel file with a header row and one car per row."
        )
    if content.startswith(_BINARY_MAGIC):
        raise TableError(
            "This is an image, PDF or archive, not a spreadsheet. Upload a CSV or an Excel "
            "(.xlsx) file."
        )
    if content[:4] == _OLE:
        raise TableError(
            "This is an old Excel 97–2003 (.xls) workbook. In Excel use *Save as → Excel "
            "Workbook (.xlsx)* or *CSV UTF-8*, then upload that."
        )
    if is_xlsx(content, filename, content_type):
        return _read_xlsx(content)
    text, encoding, notes = decode(content)
    delimiter, decimal = sniff(text)
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False))
    except csv.Error as exc:  # e.g. a quote never closed swallows the rest of the file
        raise TableError(
            f"The file can't be read as CSV ({exc}): most likely a quote (\") opens a cell and "
            "is never closed. Fix that cell, or save the file again from a spreadsheet."
        ) from exc
    records = [r for r in records if any(cell.strip() for cell in r)]
    header_at = _header_position(records)
    dialect = Dialect("csv", encoding, delimiter, decimal, None, header_at, tuple(notes))
    table = _table(records, header_at, dialect)
    if decimal == ",":
        table.rows = table.rows.apply(_point_decimals)
    return table


def decode(content: bytes) -> tuple[str, str, list[str]]:
    """Text, the codec that read it, and notes: BOMs, UTF-16 (Excel's "Unicode text"),
    UTF-8, else Windows-1252 (Excel's plain "CSV" on Windows) with a note to check accents."""
    notes: list[str] = []
    if content.startswith(codecs.BOM_UTF8):
        text, encoding = content.decode("utf-8-sig", errors="strict"), "utf-8-sig"
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _looks_utf16(content):
        encoding = "utf-16" if content[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE) else (
            "utf-16-le" if content[1:2] == b"\x00" else "utf-16-be")  # fmt: skip
        try:
            text = content.decode(encoding)
        except UnicodeDecodeError as exc:
            raise TableError(
                "The file looks like UTF-16 text but can't be decoded as it "
                f"(byte {exc.start}). Save it as *CSV UTF-8* and upload again."
            ) from exc
        encoding = "utf-16"
    else:
        try:
            text, encoding = content.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            encoding = "cp1252"
            text = content.decode("cp1252", errors="replace")
            notes.append(
                "The file isn't UTF-8, so it was read as Windows-1252 (Latin-1). Check names "
                "with accents; to avoid this, save it as *CSV UTF-8*."
            )
    if _binary(text):
        raise TableError(
            "This doesn't look like a spreadsheet: it holds binary data, not text. Upload a "
            "CSV or an Excel (.xlsx) file."
        )
    return text, encoding, notes


def sniff(text: str) -> tuple[str, str]:
    """The field delimiter (the one that splits the first lines into the most, equally many,
    fields) and the decimal mark (',' when numbers such as '23,4' appear in a file that
    doesn't separate fields by comma)."""
    lines = [ln for ln in text.splitlines()[: _SNIFF_LINES * 2] if ln.strip()][:_SNIFF_LINES]
    sample = "\n".join(lines)
    best, best_score = ",", (0.0, 0)
    for delimiter in DELIMITERS:
        try:
            counts = [len(r) for r in csv.reader(io.StringIO(sample), delimiter=delimiter)]
        except csv.Error:  # an unclosed quote: read_table says so, whichever delimiter
            continue
        if not counts:
            continue
        width = max(set(counts), key=counts.count)
        if width < 2:
            continue
        score = (counts.count(width) / len(counts), width)
        if score > best_score:
            best, best_score = delimiter, score
    decimal = "."
    if best != ",":
        try:
            cells = [c for r in csv.reader(io.StringIO(sample), delimiter=best) for c in r]
        except csv.Error:
            cells = []
        if any(_DECIMAL_COMMA.match(c) for c in cells):
            decimal = ","
    return best, decimal


def write_csv(frame: pd.DataFrame, dialect: Dialect) -> bytes:
    """The frame as CSV in the upload's own dialect: semicolon in, semicolon out; decimal
    commas kept; UTF-8 with a BOM (so Excel reads it) unless the upload was UTF-16 or 1252."""
    delimiter = dialect.delimiter if dialect.kind == "csv" else ","
    decimal = dialect.decimal if dialect.kind == "csv" else "."
    encoding = {"utf-16": "utf-16", "cp1252": "cp1252"}.get(dialect.encoding, "utf-8-sig")
    text = frame.to_csv(index=False, sep=delimiter, decimal=decimal, lineterminator="\r\n")
    return text.encode(encoding, errors="replace")


def _looks_utf16(content: bytes) -> bool:
    """UTF-16 without a BOM: ASCII text with every other byte zero (and the others not)."""
    head = content[:200]
    if len(head) < 4:
        return False
    even, odd = head[0::2].count(0) / len(head[0::2]), head[1::2].count(0) / len(head[1::2])
    return (odd > 0.8 and even < 0.05) or (even > 0.8 and odd < 0.05)


def _binary(text: str) -> bool:
    head = text[:4096]
    return bool(head) and len(_CONTROL.findall(head)) > max(2, len(head) // 100)


def _header_position(records: list[list[str]]) -> int:
    """The first row (of the first few) naming enough schema columns; else the first row."""
    for i, row in enumerate(records[:_HEADER_SEARCH_ROWS]):
        if sum(t is not None for t in suggest(row)) >= _MIN_HEADER_MATCHES:
            return i
    return 0


def _table(records: list[list[str]], header_at: int, dialect: Dialect) -> Table:
    if not records:
        raise TableError("The file has no header row. The first line must name the columns.")
    headers = [h.strip() for h in records[header_at]]
    while headers and not headers[-1]:  # trailing empty header cells (Excel's stray commas)
        headers.pop()
    if not headers:
        raise TableError("The header row is blank. The first line must name the columns.")
    body = records[header_at + 1 :]
    if not body:
        raise TableError("The file has a header but no cars. Add one car per row under the header.")
    width = len(headers)
    problems: dict[int, str] = {}
    rows: list[list[str]] = []
    for i, row in enumerate(body):
        extra = [c for c in row[width:] if c.strip()]
        if len(row) < width or extra:
            problems[i] = f"{len(row)} fields, but the header has {width}"
        rows.append((row + [""] * width)[:width])
    notes = list(dialect.notes)
    if header_at:
        notes.append(f"{header_at} row(s) above the header were skipped as a title.")
    dialect = Dialect(**{**dialect.__dict__, "notes": tuple(notes)})
    frame = pd.DataFrame(rows, columns=range(width), dtype=str)
    return Table(headers, frame, dialect, problems)


def _point_decimals(column: pd.Series) -> pd.Series:
    """'23,4 kmpl' → '23.4 kmpl' and '145.500' → '145500' in a decimal-comma file, where the
    point groups thousands (cells with one comma, or points before groups of three digits)."""
    column = column.str.replace(_THOUSANDS_POINT, lambda m: m.group(0).replace(".", ""), regex=True)
    return column.str.replace(_DECIMAL_COMMA, r"\1.\2\3", regex=True)


def _read_xlsx(content: bytes) -> Table:
    """The sheet holding the listing header (else the first sheet), cells as text."""

    from openpyxl import load_workbook

    unreadable = TableError(
        "The file is not a readable Excel workbook (.xlsx). Open it in Excel and save it "
        "again as *Excel Workbook (.xlsx)* or *CSV UTF-8*."
    )
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises zip, XML, key errors alike
        raise unreadable from exc
    try:
        sheets = [
            (ws.title, [[_cell_text(v) for v in row] for row in ws.iter_rows(values_only=True)])
            for ws in book.worksheets
        ]
    except Exception as exc:  # noqa: BLE001 - a damaged sheet fails the same many ways
        raise unreadable from exc
    finally:
        book.close()
    sheets = [(title, [r for r in rows if any(c.strip() for c in r)]) for title, rows in sheets]
    chosen = next(
        ((t, rows) for t, rows in sheets if rows and _has_header(rows)),
        next(((t, rows) for t, rows in sheets if rows), None),
    )
    if chosen is None:
        raise TableError("The workbook has no filled cells. Put a header row and one car per row.")
    title, rows = chosen
    notes = []
    if len(sheets) > 1:
        notes.append(f"Read sheet {title!r} of {len(sheets)} (the one with the car columns).")
    header_at = _header_position(rows)
    return _table(rows, header_at, Dialect("xlsx", "xlsx", ",", ".", title, header_at,
                                           tuple(notes)))  # fmt: skip


def _has_header(rows: list[list[str]]) -> bool:
    return any(
        sum(t is not None for t in suggest(r)) >= _MIN_HEADER_MATCHES
        for r in rows[:_HEADER_SEARCH_ROWS]
    )


def _cell_text(value: object) -> str:
    """An Excel cell as the text a CSV would hold: 2014 not '2014.0', dates as ISO."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
