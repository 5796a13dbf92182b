"""Batch quotes: a dealer's table (as `carprice.sheets.read_table` read it) priced through
/predict/csv in chunks, and put back together row for row.

The user's cells never make a round trip through the API: each chunk goes out as plain UTF-8
comma CSV under the user's own headers, with the chosen column mapping beside it, and only
the answer's price columns are kept. So the lot always has exactly the rows that were
uploaded, in order, whatever the API sends back.

Failures say whose they are. The API refusing a chunk (HTTP 4xx) is about the file or the
mapping: sending it again would be refused again, so pricing stops with the API's reason.
A service failure (connection, timeout, 5xx) or a garbled answer is the chunk's alone: its
rows stay, marked not priced, and the page offers to retry exactly those chunks.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from carprice.clean import ShapeError, detect_shape
from carprice.headers import TARGETS, resolve, suggest
from carprice.sheets import Table

PRICE_COLUMNS = ("predicted_price", "price_low", "price_high")
RESULT_COLUMNS = (*PRICE_COLUMNS, "model_version", "filled", "error", "quote_id")
# The least a file needs: what a salesperson knows. Specs are filled from the model's catalogue.
IDENTITY_COLUMNS = ("name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner")
IGNORE = "(ignore)"  # the mapping editor's choice for a column that feeds no field
FIELD_CHOICES = (IGNORE, *TARGETS)
# Each field as a salesperson would name it, for the mapping editor.
FIELD_WORDS = {
    "name": "Car name (brand model variant)",
    "brand": "Brand / make",
    "model": "Model",
    "variant": "Variant / trim",
    "year": "Year",
    "km_driven": "Kilometres driven",
    "fuel": "Fuel",
    "seller_type": "Seller type",
    "transmission": "Transmission",
    "owner": "Owner (First Owner, 2, …)",
    "mileage": "Mileage with unit (23.4 kmpl)",
    "engine": "Engine with unit (1248 CC)",
    "max_power": "Power with unit (74 bhp)",
    "torque": "Torque as written",
    "seats": "Seats",
    "owner_rank": "Owner number (0–4)",
    "mileage_kmpl": "Mileage, kmpl",
    "engine_cc": "Engine, cc",
    "max_power_bhp": "Power, bhp",
    "torque_nm": "Torque, Nm",
    "torque_rpm": "Torque rpm",
    "selling_price": "Your asking price (kept, not used)",
    IGNORE: "— not used (kept in the download)",
}
# Short words for the spec columns in `filled` ("engine_cc from variant, …").
SPEC_WORDS = {
    "mileage_kmpl": "mileage",
    "engine_cc": "engine",
    "max_power_bhp": "power",
    "torque_nm": "torque",
    "torque_rpm": "torque rpm",
    "seats": "seats",
}
_RETRYABLE_4XX = (408, 429)  # the API is busy or slow, not refusing the file


class Refused(Exception):
    """The API refused a chunk for what it holds (HTTP 4xx); the message is the API's reason.
    The same file and mapping would be refused again, so there is nothing to retry."""


class BadAnswer(ValueError):
    """The API's answer to a chunk can't be read; the chunk counts as failed (retryable)."""


@dataclass(frozen=True)
class Chunk:
    """Table rows [start, start + rows); `sent` are the positions posted (a malformed line is
    held back: its cells may be shifted, so its price would be wrong)."""

    index: int
    start: int  # 0-based position of the chunk's first row in the table
    rows: int
    sent: tuple[int, ...]
    content: bytes  # header + the sent rows, as UTF-8 comma CSV

    @property
    def first_row(self) -> int:
        """1-based row number of the chunk's first row, as the page names it."""
        return self.start + 1

    @property
    def last_row(self) -> int:
        return self.start + self.rows


@dataclass
class BatchOutcome:
    """Priced chunks (their answers' result columns), failed chunks with the reason, and the
    API's reason when it refused the file or mapping (pricing stopped there)."""

    parts: dict[int, pd.DataFrame] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)
    refused: str | None = None


@dataclass(frozen=True)
class MappingCheck:
    """The mapping to send, the fields it gives each column, or what stops pricing."""

    mapping: dict[str, str | None]
    fields: list[str] | None  # per column position: a field, or a pass-through name
    problem: str | None = None


@dataclass(frozen=True)
class LotSummary:
    """A lot's value: the sum of its prices, the range under independent errors, and the
    outer bounds (every car at its low, or every car at its high)."""

    rows: int
    priced: int
    total: float
    low: float
    high: float
    floor: float
    ceiling: float


@dataclass
class Lot:
    """A priced (or partly priced) upload, kept in the session until the user clears it: the
    table as read, the mapping it was priced with, its chunks and what came back."""

    key: str  # digest of the upload's bytes and the mapping
    file_name: str
    table: Table
    mapping: dict[str, str | None]
    fields: list[str]
    chunks: list[Chunk]
    outcome: BatchOutcome
    level: float = 0.8  # the model's interval level when priced

    @property
    def results(self) -> pd.DataFrame:
        return combine(self.table, self.chunks, self.outcome)

    @property
    def stem(self) -> str:
        """The file name without its extension, for the downloads' names."""
        return self.file_name.rsplit(".", 1)[0] or "cars"


def digest(*parts: bytes | str) -> str:
    """A short key for an upload (and its mapping): which lot the page is showing."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()[:16]


# --------------------------------------------------------------------------- the mapping


def mapping_rows(table: Table) -> pd.DataFrame:
    """One row per distinct header: the header, a value from the file, the suggested field
    (a duplicated header can only be mapped as one, the API can't tell its columns apart)."""
    seen: dict[str, int] = {}
    for position, header in enumerate(table.headers):
        seen.setdefault(header, position)
    guesses = suggest(table.headers)
    examples = [_example(table.rows[p]) for p in seen.values()]
    return pd.DataFrame(
        {
            "column": list(seen),
            "example": examples,
            "field": [guesses[p] or IGNORE for p in seen.values()],
        }
    )


def _example(column: pd.Series) -> str:
    filled = column[column.str.strip() != ""]
    text = str(filled.iloc[0]) if len(filled) else ""
    return text if len(text) <= 60 else text[:57] + "…"


def chosen_mapping(headers: Sequence[str], choices: Mapping[str, str]) -> dict[str, str | None]:
    """{header: field or None} as the API takes it, from the editor's choices. A duplicated
    header left at its suggestion is left out, so the suggestion feeds its first column only."""
    guesses: dict[str, str | None] = {}
    for header, guess in zip(headers, suggest(headers), strict=True):
        guesses.setdefault(header, guess)
    mapping: dict[str, str | None] = {}
    for header, choice in choices.items():
        target = None if choice in (IGNORE, None, "") else str(choice)
        if list(headers).count(header) > 1 and target == guesses.get(header):
            continue
        mapping[header] = target
    return mapping


def check_mapping(headers: Sequence[str], mapping: Mapping[str, str | None]) -> MappingCheck:
    """The fields each column feeds, or a problem in words saying what to change."""
    mapping = dict(mapping)
    try:
        fields = resolve(headers, mapping)
    except ShapeError as exc:
        twice = sorted({h for h in headers if list(headers).count(h) > 1 and mapping.get(h)})
        hint = (
            f" The header {', '.join(map(repr, twice))} appears more than once; rename one of "
            "those columns in the file, or set it to not used."
            if twice
            else ""
        )
        return MappingCheck(mapping, None, f"{_sentence(str(exc))}{hint}")
    try:
        detect_shape(fields)
    except ShapeError as exc:
        return MappingCheck(
            mapping,
            None,
            f"{_sentence(str(exc))} Under *Columns*, pick the column that holds each missing "
            "field, or add it to the file (the template shows the least a file needs).",
        )
    return MappingCheck(mapping, fields)


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def mapping_json(mapping: Mapping[str, str | None]) -> str:
    """The mapping as the API's `mapping` form field (and a stable cache key)."""
    return json.dumps(dict(mapping), sort_keys=True, ensure_ascii=False)


# --------------------------------------------------------------------------- pricing


def build_chunks(table: Table, rows_per_chunk: int) -> list[Chunk]:
    """The table in chunks of `rows_per_chunk` rows, each as UTF-8 comma CSV under the user's
    headers. Every cell is quoted, so a semicolon or tab inside a cell can't make the API
    read the chunk as another dialect."""
    cells = table.rows.to_numpy(dtype=object)
    chunks = []
    for n, start in enumerate(range(0, len(cells), rows_per_chunk)):
        stop = min(start + rows_per_chunk, len(cells))
        sent = tuple(i for i in range(start, stop) if i not in table.problems)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(table.headers)
        writer.writerows(cells[list(sent)].tolist() if sent else [])
        chunks.append(Chunk(n, start, stop - start, sent, out.getvalue().encode()))
    return chunks


def parse_priced(content: bytes) -> pd.DataFrame:
    """The result columns of the API's CSV answer (prices as numbers). Anything unreadable is
    a BadAnswer with the reason; this never raises anything else."""
    try:
        text = content.decode("utf-8-sig")
    except (UnicodeDecodeError, AttributeError) as exc:
        raise BadAnswer("the API's answer is not UTF-8 CSV") from exc
    try:
        records = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise BadAnswer(f"the API's answer is not readable CSV ({exc})") from exc
    records = [r for r in records if r]
    if not records:
        raise BadAnswer("the API's answer is empty")
    header, body = records[0], records[1:]
    where = {name: i for i, name in enumerate(header)}  # the last column of a name: the API's
    missing = [c for c in ("predicted_price", "error") if c not in where]
    if missing:
        raise BadAnswer(f"the API's answer has no {' or '.join(missing)} column")
    short = [n for n, r in enumerate(body, start=1) if len(r) != len(header)]
    if short:
        raise BadAnswer(f"the API's answer has {len(short)} broken line(s) (first: {short[0]})")
    frame = pd.DataFrame(
        {c: [r[where[c]] for r in body] if c in where else [""] * len(body) for c in RESULT_COLUMNS}
    )
    for col in PRICE_COLUMNS:
        frame[col] = pd.to_numeric(frame[col], errors="coerce").astype(float)
    return frame


def run(
    chunks: list[Chunk],
    price: Callable[[Chunk], bytes],
    outcome: BatchOutcome | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> BatchOutcome:
    """Price every chunk not yet priced in `outcome`. A failing chunk is recorded, not fatal;
    a refusal (Refused) stops the run, since the next chunks would be refused the same way."""
    outcome = outcome or BatchOutcome()
    todo = [c for c in chunks if c.index not in outcome.parts]
    for done, chunk in enumerate(todo, start=1):
        try:
            answer = parse_priced(price(chunk)) if chunk.sent else _empty_answer()
            if len(answer) != len(chunk.sent):  # a cut-off answer must not lose rows silently
                raise BadAnswer(f"the API answered {len(answer)} rows for {len(chunk.sent)} sent")
            outcome.parts[chunk.index] = answer
            outcome.failures.pop(chunk.index, None)
        except Refused as exc:
            outcome.refused = outcome.failures[chunk.index] = str(exc) or "refused"
            break
        except Exception as exc:  # noqa: BLE001 - any other failure is this chunk's, retryable
            outcome.failures[chunk.index] = str(exc) or type(exc).__name__
        if progress:
            progress(done, len(todo))
    return outcome


def is_refusal(status: int | None) -> bool:
    """An HTTP status that means 'not this file / mapping' rather than 'not now'."""
    return status is not None and 400 <= status < 500 and status not in _RETRYABLE_4XX


def _empty_answer() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in RESULT_COLUMNS})
    for col in PRICE_COLUMNS:
        frame[col] = frame[col].astype(float)
    return frame


def combine(table: Table, chunks: list[Chunk], outcome: BatchOutcome) -> pd.DataFrame:
    """The result columns for every table row in order: priced, or the reason it isn't."""
    n = len(table.rows)
    prices = {c: np.full(n, np.nan) for c in PRICE_COLUMNS}
    text = {
        c: np.full(n, "", dtype=object) for c in ("model_version", "filled", "error", "quote_id")
    }
    for chunk in chunks:
        where = np.asarray(chunk.sent, dtype=int)
        answer = outcome.parts.get(chunk.index)
        if answer is not None:
            for col in PRICE_COLUMNS:
                prices[col][where] = answer[col].to_numpy(dtype=float)
            for col in text:
                text[col][where] = answer[col].fillna("").astype(str).to_numpy(dtype=object)
        else:
            text["error"][where] = _not_priced(chunk, outcome)
    for position, problem in table.problems.items():
        text["error"][position] = (
            f"not priced: this line has {problem}; fix the line in the file and price it again"
        )
    return pd.DataFrame({**prices, **text})


def _not_priced(chunk: Chunk, outcome: BatchOutcome) -> str:
    rows = f"rows {chunk.first_row}–{chunk.last_row}"
    reason = outcome.failures.get(chunk.index)
    if outcome.refused and reason in (None, outcome.refused):
        return f"not priced: the pricing API refused the file ({outcome.refused})"
    return f"not priced: {rows} failed ({reason or 'not sent'}); retry them"


# --------------------------------------------------------------------------- the lot


def summarise(results: pd.DataFrame) -> LotSummary:
    """Rows priced and the lot's value. Each car's range is its own 80% (or the model's level)
    interval; if the cars' errors are independent, the lot's range at the same level is the
    total ± the root of the summed squared half-widths (each side apart, as the intervals
    are not symmetric). Errors shared by similar cars make it wider: at most floor–ceiling."""
    priced = results["predicted_price"].notna()
    price = results.loc[priced, "predicted_price"].to_numpy(dtype=float)
    low = results.loc[priced, "price_low"].fillna(results.loc[priced, "predicted_price"])
    high = results.loc[priced, "price_high"].fillna(results.loc[priced, "predicted_price"])
    below = price - low.to_numpy(dtype=float)
    above = high.to_numpy(dtype=float) - price
    total = float(price.sum())
    return LotSummary(
        rows=len(results),
        priced=int(priced.sum()),
        total=total,
        low=total - math.sqrt(float((below**2).sum())),
        high=total + math.sqrt(float((above**2).sum())),
        floor=float(low.sum()),
        ceiling=float(high.sum()),
    )


def brands(rows: pd.DataFrame, fields: Sequence[str]) -> pd.Series:
    """The brand per row: the column mapped to brand, else the first word(s) of the name."""
    from carprice.schema import TWO_WORD_BRANDS

    if "brand" in fields:
        return rows.iloc[:, list(fields).index("brand")].astype(str).str.strip()
    if "name" not in fields:
        return pd.Series("unknown", index=rows.index)
    names = rows.iloc[:, list(fields).index("name")].astype(str).str.strip()
    two = names.str.split().str[:2].str.join(" ")
    known = {b.lower() for b in TWO_WORD_BRANDS}
    return two.where(two.str.lower().isin(known), names.str.split().str[0]).fillna("unknown")


def brand_counts(brand: pd.Series, results: pd.DataFrame) -> pd.DataFrame:
    """Per brand: cars in the lot, cars priced and their value; most cars first."""
    frame = pd.DataFrame(
        {
            "brand": brand.replace("", "unknown").to_numpy(),
            "priced": results["predicted_price"].notna().to_numpy(),
            "value": results["predicted_price"].fillna(0).to_numpy(),
        }
    )
    counts = frame.groupby("brand").agg(
        cars=("priced", "size"), priced=("priced", "sum"), value=("value", "sum")
    )
    return counts.sort_values(["cars", "value"], ascending=False).reset_index()


def unique_names(names: Sequence[str], taken: Sequence[str] = ()) -> list[str]:
    """The headers made unique for display (blank ones named by position): 'km', 'km (2)'."""
    used = set(taken)
    out = []
    for i, name in enumerate(names, start=1):
        base = name.strip() or f"column {i}"
        candidate, n = base, 1
        while candidate in used:
            n += 1
            candidate = f"{base} ({n})"
        used.add(candidate)
        out.append(candidate)
    return out


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
