"""Batch quotes: split an uploaded CSV into chunks, price each through /predict/csv, and put
the answers back together in the original order.

A chunk that fails (API restarted, timeout) is not dropped: its rows come back unpriced with
the reason in `error`, and the page offers to retry exactly those chunks. Chunks are split on
CSV records (not lines), so quoted fields with newlines and lines with the wrong number of
fields are passed through untouched for the API to judge.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

PRICE_COLUMNS = ("predicted_price", "price_low", "price_high")
RESULT_COLUMNS = (*PRICE_COLUMNS, "model_version", "filled", "error")
# The least a CSV needs: what a salesperson knows. Specs are filled from the model's catalogue.
IDENTITY_COLUMNS = ("name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner")
TEMPLATE_ROWS = (
    ("Maruti Swift Dzire VDI", 2014, 145500, "Diesel", "Individual", "Manual", "First Owner"),
    ("Hyundai i20 Asta", 2016, 57622, "Petrol", "Dealer", "Manual", "Second Owner"),
)
# Short words for the spec columns in `filled` ("engine_cc from variant, …").
SPEC_WORDS = {
    "mileage_kmpl": "mileage",
    "engine_cc": "engine",
    "max_power_bhp": "power",
    "torque_nm": "torque",
    "torque_rpm": "torque rpm",
    "seats": "seats",
}


class UploadError(ValueError):
    """The file can't be read as CSV; the message says what to do."""


@dataclass(frozen=True)
class Chunk:
    index: int
    first_row: int  # 1-based data row number of the chunk's first row
    rows: int
    content: bytes  # header + this chunk's records, as CSV


@dataclass
class BatchOutcome:
    """Priced chunks in order, plus which chunks failed and why."""

    parts: dict[int, pd.DataFrame] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)


def digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


def decode(content: bytes) -> str:
    """UTF-8 text (BOM allowed), or an UploadError saying how to fix the file."""
    if not content.strip():
        raise UploadError("The file is empty. Upload a CSV with a header row and one car per row.")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(
            f"The file is not UTF-8 text (byte {exc.start}). In Excel use *Save as → CSV UTF-8*."
        ) from exc


def split(content: bytes, rows_per_chunk: int) -> list[Chunk]:
    """Header + records in chunks of `rows_per_chunk`; raises UploadError without data rows."""
    records = list(csv.reader(io.StringIO(decode(content), newline="")))
    records = [r for r in records if any(cell.strip() for cell in r)] if records else records
    if not records:
        raise UploadError("The file has no header row.")
    header, body = records[0], records[1:]
    if not body:
        raise UploadError("The file has a header but no cars. Add one car per row.")
    chunks = []
    for n, start in enumerate(range(0, len(body), rows_per_chunk)):
        part = body[start : start + rows_per_chunk]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(part)
        chunks.append(Chunk(n, start + 1, len(part), out.getvalue().encode()))
    return chunks


def preview(content: bytes, rows: int = 10) -> pd.DataFrame:
    """The first rows as text, for a look before pricing (bad lines are skipped here only)."""
    return pd.read_csv(
        io.StringIO(decode(content)), nrows=rows, dtype=str, keep_default_na=False,
        on_bad_lines="skip", engine="python",
    )  # fmt: skip


def parse_priced(content: bytes) -> pd.DataFrame:
    """The API's CSV answer: input columns as text, price columns as numbers."""
    frame = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    for col in PRICE_COLUMNS:
        if col in frame:
            frame[col] = pd.to_numeric(frame[col], errors="coerce")
    return frame


def unpriced(chunk: Chunk, reason: str) -> pd.DataFrame:
    """A failed chunk's rows, unpriced, each carrying the reason (no row goes missing)."""
    frame = parse_priced(chunk.content)
    for col in PRICE_COLUMNS:
        frame[col] = float("nan")
    frame["model_version"] = frame["filled"] = ""
    frame["error"] = f"not priced: {reason}"
    return frame


def run(
    chunks: list[Chunk],
    price: Callable[[Chunk], bytes],
    outcome: BatchOutcome | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchOutcome:
    """Price every chunk not yet priced in `outcome`; a failing chunk is recorded, not fatal."""
    outcome = outcome or BatchOutcome()
    todo = [c for c in chunks if c.index not in outcome.parts]
    for done, chunk in enumerate(todo, start=1):
        try:
            answer = parse_priced(price(chunk))
            if len(answer) != chunk.rows:  # a cut-off answer must not lose rows silently
                raise ValueError(f"the API answered {len(answer)} rows for {chunk.rows} sent")
            outcome.parts[chunk.index] = answer
            outcome.failures.pop(chunk.index, None)
        except Exception as exc:  # noqa: BLE001 - any failure is reported per chunk
            outcome.failures[chunk.index] = str(exc) or type(exc).__name__
        if progress:
            progress(done, len(todo))
    return outcome


def combine(chunks: list[Chunk], outcome: BatchOutcome) -> pd.DataFrame:
    """Every input row in order: priced, or unpriced with the reason its chunk failed."""
    frames = [
        outcome.parts[c.index]
        if c.index in outcome.parts
        else unpriced(c, f"rows {c.first_row}–{c.first_row + c.rows - 1} failed "
                         f"({outcome.failures.get(c.index, 'not sent')}); retry them")
        for c in chunks
    ]  # fmt: skip
    frame = pd.concat(frames, ignore_index=True)
    frame.insert(0, "row", range(1, len(frame) + 1))
    for col in ("filled", "error"):  # `filled` is missing from an API that predates it
        frame[col] = frame[col].fillna("") if col in frame else ""
    return frame


def summarise_filled(text: str) -> str:
    """The API's 'engine_cc from variant, seats from model' as 'variant: engine · model: seats',
    and 'all specs from variant' when every spec came from one level."""
    by_level: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in str(text).split(","))):
        col, _, level = part.partition(" from ")
        by_level.setdefault(level.replace("_", " ") or "?", []).append(SPEC_WORDS.get(col, col))
    if len(by_level) == 1 and len(next(iter(by_level.values()))) == len(SPEC_WORDS):
        return f"all specs from {next(iter(by_level))}"
    return " · ".join(f"{level}: {', '.join(cols)}" for level, cols in by_level.items())


def summarise_filled_column(filled: pd.Series) -> pd.Series:
    """`summarise_filled` per row, worked out once per distinct text."""
    return filled.map({text: summarise_filled(text) for text in filled.unique()})


def template_csv() -> bytes:
    """A CSV with the identity columns only (specs are filled by the model), two example rows."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(IDENTITY_COLUMNS)
    writer.writerows(TEMPLATE_ROWS)
    return out.getvalue().encode()


def to_excel(frame: pd.DataFrame) -> bytes:
    """The priced table as an .xlsx workbook (openpyxl), errors kept in their column."""
    out = io.BytesIO()
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        frame.to_excel(writer, index=False, sheet_name="quotes")
        sheet = writer.sheets["quotes"]
        sheet.freeze_panes = "B2"
        for cells in sheet.columns:
            width = max(len(str(c.value or "")) for c in cells[:200])
            sheet.column_dimensions[cells[0].column_letter].width = min(max(width + 2, 8), 60)
    return out.getvalue()


def to_csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8-sig")


def brands(frame: pd.DataFrame) -> pd.Series:
    """The brand per row: the `brand` column, else the first word(s) of `name`."""
    from carprice.schema import TWO_WORD_BRANDS

    columns = {c.lower(): c for c in frame.columns}
    if "brand" in columns:
        return frame[columns["brand"]].astype(str).str.strip()
    names = frame[columns["name"]].astype(str).str.strip() if "name" in columns else None
    if names is None:
        return pd.Series("unknown", index=frame.index)
    two = names.str.split().str[:2].str.join(" ")
    known = {b.lower() for b in TWO_WORD_BRANDS}
    return two.where(two.str.lower().isin(known), names.str.split().str[0])
