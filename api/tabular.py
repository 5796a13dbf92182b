"""A table in, CSV out: checks an upload up front, then prices it chunk by chunk as it streams.

A plain CSV (UTF-8, comma-separated, header on the first line: what most tools write) is
streamed: the multipart parser spools it to disk, rows are read `csv_chunk_rows` at a time,
and each priced chunk is written out before the next is read, so memory stays bounded.
Arrow's C++ reader parses the file and Arrow kernels build the output lines; a file with a
malformed line (wrong field count) is read instead by Python's csv module, which can keep that
line's place with a reason. Whether a file is plain is decided from its first lines only.

Every other upload (semicolon/tab/pipe, UTF-16, Windows-1252, decimal commas, a title above
the header, .xlsx) is read whole by `carprice.sheets.read_table`, the reader the dashboard
uses too, and priced from its rows in the same chunks. Either way the columns are matched to
the schema by `carprice.headers.resolve`, with the client's `mapping` on top.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
from fastapi import HTTPException, UploadFile
from starlette.types import ASGIApp, Receive, Scope, Send

from api import metrics
from api.config import ApiSettings, get_api_settings
from api.quoting import log_chunk
from api.runtime import Served
from carprice.arrow_text import contains_any, joined_bytes
from carprice.clean import ShapeError, detect_shape
from carprice.headers import PASS_PREFIX, describe, resolve
from carprice.model import PRICE_COLUMNS
from carprice.quotelog.writer import QuoteLog
from carprice.safecsv import neutralise, neutralise_arrow
from carprice.schema import TARGET
from carprice.sheets import Dialect, Table, TableError, is_xlsx, read_table

log = logging.getLogger("api.tabular")

OUTPUT_COLUMNS = ("quote_id", *PRICE_COLUMNS, "model_version", "filled", "error")
_ARROW_BLOCK_BYTES = 1 << 20  # Arrow reads the spooled upload this much at a time
# Whether a file is plain is sniffed from at most this much of its start, cut at a line end:
# `carprice.sheets` sniffs the dialect from the first 100 lines and the header from 20.
_HEAD_BYTES = 64 * 1024
_HEAD_LINES = 100

CSV_DOC = """Upload a table as multipart field `file`, in either shape:

* **CarFeatures columns** (`year, km_driven, fuel, seller_type, transmission, owner_rank,
  mileage_kmpl, engine_cc, max_power_bhp, seats, brand`, optional `name, torque_nm,
  torque_rpm`), or
* **raw CarDekho listing columns** (`name, year, km_driven, fuel, seller_type, transmission,
  owner, mileage, engine, max_power, torque, seats`) with unit strings such as `23.4 kmpl`.

**Files read:** CSV separated by comma, semicolon, tab or pipe (sniffed from the first lines);
UTF-8 with or without a BOM, UTF-16 (Excel's "Unicode text"), or else Windows-1252 (with a
note); decimal commas (`23,4 kmpl`) in a file not separated by commas; a title row above the
header is skipped. Excel workbooks (.xlsx, recognised by content type, file name or content):
the sheet that holds the car columns, else the first. Old .xls workbooks are refused.

**Headers** are matched as people write them: case, spacing and punctuation don't matter, and
common names map to the schema (`Km Driven`, `KMs` → `km_driven`; `Fuel Type` → `fuel`;
`No. of Owners` → `owner`; `Selling Price` → `selling_price`). Optional multipart field
`mapping`: a JSON object `{"uploaded header": "schema column" or null}` that overrides the
guess for those headers (null: ignore the column and pass it through), e.g.
`{"Mileage": "km_driven", "KMs": null}`. Columns that feed nothing pass through untouched. An
input price (`selling_price`) is never used for pricing; it is kept in the output as written.

**Response:** CSV, always UTF-8 and comma-separated whatever the upload's dialect: the same
rows in the same order, every input column under its header as uploaded, plus
`quote_id, predicted_price, price_low, price_high, model_version, filled, error`. A row that
can't be priced (or a line with the wrong number of fields) keeps its place with the reason
in `error` and an empty `quote_id`; every priced row is logged under its `quote_id` (send it
to `POST /quotes/{quote_id}/sale`, or in a sales CSV to `POST /quotes/sales`, when the car
sells).
An input column named like an output column is replaced, not duplicated. Response headers:

* `X-CarPrice-Dialect`: what was read, e.g. `semicolon-separated CSV, UTF-8 with BOM, decimal
  commas` or `Excel workbook, sheet 'Cars'`;
* `X-CarPrice-Mapping`: JSON object, each uploaded header → the schema column it fed, or null
  (passed through);
* `X-CarPrice-Notes`: JSON list of things to check (e.g. the file was read as Windows-1252).

Header values are ASCII (JSON escapes as `\\uXXXX`).

* **Size limit:** `CARPRICE_API_MAX_CSV_BYTES` (default 128 MiB, about a million rows) →
  413 above it. A plain UTF-8 comma CSV is streamed in bounded memory; any other format is
  read whole first, so it is capped lower, at `CARPRICE_API_MAX_SHEET_BYTES` (default
  32 MiB) → 413 saying to save it as CSV UTF-8.
* **Spreadsheet safety:** any cell that starts with `= + - @`, tab or carriage return is
  prefixed with `'` so spreadsheets show it as text instead of running it as a formula
  (plain numbers such as `-2` stay numbers).
* **Errors** (JSON `{"detail": reason}`): 400 when the file itself can't be read (empty,
  a header with no rows, binary data, an old .xls, an unreadable .xlsx) — the reason says how
  to fix it; 422 when the columns can't be used (required columns missing, two columns mapped
  to one field, a `mapping` that isn't a JSON object or names an unknown column or a header
  the file doesn't have); 413 above the size limit.
"""


class BodyTooLarge(HTTPException):
    def __init__(
        self, limit: int, what: str = "CSV upload", variable: str = "MAX_CSV_BYTES"
    ) -> None:
        super().__init__(
            status_code=413,
            detail=f"{what} larger than the limit of {limit:,} bytes "
            f"(CARPRICE_API_{variable}); split it into smaller requests.",
        )


# Request bodies are read whole by the framework before validation; these caps stop a huge
# body at the door (Content-Length) or as it streams (chunked), before it fills memory/disk.
_BODY_LIMITS: dict[str, tuple[str, str]] = {
    "/predict/csv": ("CSV upload", "max_csv_bytes"),
    "/predict/batch": ("JSON body", "max_json_bytes"),
    "/predict": ("JSON body", "max_json_bytes"),
    "/quotes/sales": ("Sales upload", "max_sheet_bytes"),
}
_MULTIPART_SLACK = 64 * 1024  # multipart framing on top of the file itself


class UploadLimit:
    """Rejects oversized request bodies on the pricing endpoints with a 413 and a reason."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        rule = _BODY_LIMITS.get(scope.get("path", "")) if scope["type"] == "http" else None
        if rule is None:
            await self.app(scope, receive, send)
            return
        what, field = rule
        limit = getattr(get_api_settings(), field)
        error = BodyTooLarge(limit, what, field.upper())
        allowed = limit + (_MULTIPART_SLACK if field == "max_csv_bytes" else 0)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > allowed:
            await _send_413(send, error.detail)
            return
        seen = 0

        async def counting_receive():  # noqa: ANN202 - ASGI message
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > allowed:
                raise error
            return message

        await self.app(scope, counting_receive, send)


async def _send_413(send: Send, detail: str) -> None:
    import json

    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _bad(reason: str, status: int = 400) -> HTTPException:
    return HTTPException(status_code=status, detail=reason)


@dataclass
class Chunk:
    """Up to `csv_chunk_rows` data rows as text, plus a reason for each line whose field count
    doesn't match the header (those keep their place and are not priced)."""

    frame: pd.DataFrame
    problems: dict[int, str]


@dataclass
class CsvJob:
    """An upload checked as a whole and ready to stream: its columns, what was read, its rows."""

    headers: list[str]  # as uploaded
    columns: list[str]  # per position: the schema column it feeds, else a pass-through name
    shape: str
    first: Chunk
    reader: Iterator[Chunk]
    text: io.TextIOWrapper | None  # the csv module's view of a streamed file, detached at the end
    dialect: Dialect = field(default_factory=Dialect)
    mapping: dict[str, str | None] = field(default_factory=dict)  # header → field fed, or None

    def response_headers(self) -> dict[str, str]:
        """What was read, for the client: ASCII-only values (JSON escapes the rest)."""
        return {
            "X-CarPrice-Dialect": _ascii(self.dialect.describe()),
            "X-CarPrice-Mapping": json.dumps(self.mapping),
            "X-CarPrice-Notes": json.dumps(list(self.dialect.notes)),
        }


def _ascii(text: str) -> str:
    """Text any HTTP stack carries in a header: non-ASCII and control characters escaped."""
    return json.dumps(text)[1:-1]


def read_chunks(text: io.TextIOBase, width: int, size: int) -> Iterator[Chunk]:
    """Data lines → chunks. A malformed line becomes a row with a reason, never the end of the
    stream: short lines are padded, long ones truncated, unreadable ones left blank."""
    reader = csv.reader(text, strict=False)
    rows: list[list[str]] = []
    problems: dict[int, str] = {}
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            row, problems[len(rows)] = [], f"line {line}: unreadable CSV ({exc})"
        if not row and len(rows) not in problems:
            continue  # blank line: not a row
        if len(row) != width and len(rows) not in problems:
            problems[len(rows)] = (
                f"line {reader.line_num}: {len(row)} fields, but the header has {width}"
            )
        rows.append((row + [""] * width)[:width])
        if len(rows) == size:
            yield Chunk(pd.DataFrame(rows, columns=range(width), dtype=str), problems)
            rows, problems = [], {}
    if rows:
        yield Chunk(pd.DataFrame(rows, columns=range(width), dtype=str), problems)


def _arrow_reader(raw: BinaryIO, width: int, on_invalid: Callable | None) -> pa.RecordBatchReader:
    """Every cell as text, header included (as the first row), from the start of the file."""
    raw.seek(0)
    return pcsv.open_csv(
        raw,
        read_options=pcsv.ReadOptions(
            autogenerate_column_names=True, block_size=_ARROW_BLOCK_BYTES, use_threads=False
        ),
        parse_options=pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=pcsv.ConvertOptions(
            column_types={f"f{i}": pa.string() for i in range(width)},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


def _regular(raw: BinaryIO, headers: list[str]) -> bool:
    """True when Arrow reads the header as the csv module did and every line has its field
    count: then the fast reader keeps every row in place. One pass, a block in memory."""
    try:
        batches = iter(_arrow_reader(raw, len(headers), lambda _row: "error"))
        first = next(batches)
        if first.num_columns != len(headers) or first.num_rows == 0:
            return False
        if [first.column(i)[0].as_py() for i in range(len(headers))] != headers:
            return False
        for _ in batches:
            pass
    except (pa.ArrowException, StopIteration):  # unreadable by Arrow: the csv module decides
        return False
    finally:
        raw.seek(0)
    return True


def arrow_chunks(raw: BinaryIO, width: int, size: int) -> Iterator[Chunk]:
    """Data rows of a regular file (see `_regular`) → chunks of `size` rows, as text."""
    pending: list[pa.RecordBatch] = []
    count = 0
    header = True
    for batch in _arrow_reader(raw, width, None):
        if header and batch.num_rows:
            batch, header = batch.slice(1), False
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending)
            yield _arrow_chunk(table.slice(0, size))
            rest = table.slice(size)
            pending, count = rest.to_batches(), rest.num_rows
    if count:
        yield _arrow_chunk(pa.Table.from_batches(pending))


def _arrow_chunk(table: pa.Table) -> Chunk:
    frame = table.to_pandas()
    frame.columns = range(table.num_columns)
    return Chunk(frame, {})


def table_chunks(table: Table, size: int) -> Iterator[Chunk]:
    """A table read whole → chunks of `size` rows; a malformed row keeps its place and reason."""
    for start in range(0, len(table.rows), size):
        frame = table.rows.iloc[start : start + size].reset_index(drop=True)
        problems = {
            pos - start: why for pos, why in table.problems.items() if start <= pos < start + size
        }
        yield Chunk(frame, problems)


def parse_mapping(text: str | None) -> dict[str, str | None] | None:
    """The `mapping` form field: a JSON object {uploaded header: schema column or null}."""
    if text is None or not text.strip():
        return None
    example = 'such as {"Km Driven": "km_driven", "Notes": null}'
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = f"The mapping field is not valid JSON ({exc}). Send an object {example}."
        raise _bad(reason, 422) from exc
    if not isinstance(value, dict):
        raise _bad(
            f"The mapping field must be a JSON object, not {type(value).__name__}. Send an "
            f"object {example}.",
            422,
        )
    wrong = [k for k, v in value.items() if v is not None and not isinstance(v, str)]
    if wrong:
        raise _bad(
            f"The mapping for {', '.join(map(repr, wrong))} must be a column name (a string) or "
            "null (ignore the column).",
            422,
        )
    return value


def map_columns(
    headers: list[str], mapping: dict[str, str | None] | None
) -> tuple[list[str], dict[str, str | None], str]:
    """Headers → (the names to price by, header → field as told to the client, the shape).

    An input price never reaches pricing (a '₹4,50,000' must not fail its row): it is priced
    as a pass-through column and kept in the output as written.
    """
    try:
        resolved = resolve(headers, mapping)
    except ShapeError as exc:
        raise _bad(f"Unusable columns: {exc}", 422) from exc
    told = describe(headers, resolved)
    try:
        shape = detect_shape(resolved)
    except ShapeError as exc:
        raise _bad(f"Unusable columns: {exc}. {_read_as(told)}", 422) from exc
    pricing = [
        f"{PASS_PREFIX}{i}:{header}" if column == TARGET else column
        for i, (header, column) in enumerate(zip(headers, resolved, strict=True))
    ]
    return pricing, told, shape


def _read_as(told: dict[str, str | None]) -> str:
    """How the headers were understood, and how to correct that, for a missing-column 422."""
    used = [f"{h!r} → {c}" for h, c in told.items() if c]
    unused = [repr(h) for h, c in told.items() if not c]
    listed = f"The headers were read as: {', '.join(used) or 'none of the fields'}"
    if unused:
        more = f" and {len(unused) - 20} more" if len(unused) > 20 else ""
        listed += f"; not used: {', '.join(unused[:20])}{more}"
    return (
        f"{listed}. If a column is there under another header, name its field in the form "
        'field `mapping`, e.g. {"Clock reading": "km_driven"}.'
    )


def _head(raw: BinaryIO) -> bytes:
    """The first lines of the upload (enough to sniff from), cut at a line end so no row or
    character is split; the file is left at its start."""
    raw.seek(0)
    head = raw.read(_HEAD_BYTES)
    raw.seek(0)
    if len(head) < _HEAD_BYTES and head.count(b"\n") < _HEAD_LINES:
        return head  # the whole file
    end = -1
    for _ in range(_HEAD_LINES):
        found = head.find(b"\n", end + 1)
        if found < 0:
            break
        end = found
    return head[: end + 1] if end >= 0 else head


def plain_head(head: bytes, filename: str | None, content_type: str | None) -> Table | None:
    """The first lines as read by `carprice.sheets`, when they make a plain CSV (UTF-8, comma,
    decimal points) whose first line is the header exactly as the csv module reads it: such a
    file can be streamed. None sends the file to the full reader, which also words any error."""
    if is_xlsx(head, filename, content_type):
        return None
    try:
        table = read_table(head)
    except TableError:
        return None
    if not table.dialect.plain:
        return None
    first = next(csv.reader(io.StringIO(head.decode("utf-8-sig", "replace"), newline="")), [])
    return table if first == table.headers else None


def _utf8(raw: BinaryIO) -> bool:
    """Whether the whole file is UTF-8 (a file plain at its start may not be further on: it is
    then read whole). A NUL byte in a text file is damage, refused with a 400."""
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    try:
        while chunk := raw.read(1 << 20):
            if (nul := chunk.find(b"\x00")) >= 0:
                raise _bad(
                    f"The file holds a NUL byte at offset {offset + nul}: part of it is binary "
                    "data, not text. Open it in a spreadsheet, save it as 'CSV UTF-8' and "
                    "upload again."
                )
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        raw.seek(0)
    return True


def _open_streamed(
    raw: BinaryIO, head: Table, mapping: dict[str, str | None] | None, settings: ApiSettings
) -> CsvJob | None:
    """A plain CSV, streamed by Arrow (or by the csv module when a line is malformed); None
    when the file turns out not to be UTF-8 after its first lines."""
    if not _utf8(raw):
        return None
    headers = head.headers
    columns, told, shape = map_columns(headers, mapping)
    text = None
    if _regular(raw, headers):
        reader = arrow_chunks(raw, len(headers), settings.csv_chunk_rows)
    else:  # a malformed line: the csv module keeps its place with a reason
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        next(csv.reader(text))
        reader = read_chunks(text, len(headers), settings.csv_chunk_rows)
    first = next(reader, None)
    if first is None:
        raise _bad("The file has a header but no cars. Add one car per row under the header.")
    return CsvJob(headers, columns, shape, first, reader, text, head.dialect, told)


def read_whole(content: bytes, filename: str | None, content_type: str | None) -> Table:
    """`carprice.sheets.read_table`, a file it can't read a 400 saying what is wrong with it
    and how to fix it (never a 500)."""
    try:
        return read_table(content, filename, content_type)
    except TableError as exc:  # the reader words every way a file can't be read
        raise _bad(str(exc)) from exc


def _open_whole(
    raw: BinaryIO, upload: UploadFile, mapping: dict[str, str | None] | None, settings: ApiSettings
) -> CsvJob:
    """Any other table: read whole by the shared reader, then priced in the same chunks."""
    raw.seek(0, io.SEEK_END)
    if raw.tell() > settings.max_sheet_bytes:  # read whole: memory grows with the file
        raise HTTPException(
            status_code=413,
            detail=f"This file is {raw.tell():,} bytes; a workbook or a CSV that isn't UTF-8 "
            f"comma-separated is read whole and may be at most {settings.max_sheet_bytes:,} "
            "bytes (CARPRICE_API_MAX_SHEET_BYTES). Save it as *CSV UTF-8 (comma delimited)*, "
            "which is streamed up to CARPRICE_API_MAX_CSV_BYTES, or split it.",
        )
    raw.seek(0)
    table = read_whole(raw.read(), upload.filename, upload.content_type)
    columns, told, shape = map_columns(table.headers, mapping)
    reader = table_chunks(table, settings.csv_chunk_rows)
    first = next(reader)  # read_table refuses a table without rows
    return CsvJob(table.headers, columns, shape, first, reader, None, table.dialect, told)


def open_csv(upload: UploadFile, settings: ApiSettings, mapping: str | None = None) -> CsvJob:
    """Everything that can be wrong with the file as a whole is found here, before streaming.

    A plain CSV is recognised from its first lines and streamed; anything else is read whole.
    """
    raw = upload.file
    raw.seek(0, io.SEEK_END)
    size = raw.tell()
    raw.seek(0)
    if size > settings.max_csv_bytes:
        raise BodyTooLarge(settings.max_csv_bytes)
    chosen = parse_mapping(mapping)
    head = plain_head(_head(raw), upload.filename, upload.content_type)
    job = _open_streamed(raw, head, chosen, settings) if head is not None else None
    return job or _open_whole(raw, upload, chosen, settings)


def _csv_cells(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Cells as CSV text, quoted only where needed (a comma, quote or line break), as the csv
    module writes them: plain cells stay bare, so simple tools can still split on commas."""
    text = pc.fill_null(values.cast(pa.string()), "")
    if pa.types.is_integer(values.type) or not contains_any(text, b',"\r\n'):
        return text  # the usual case: one look at the bytes, no regex pass
    needs = pc.match_substring_regex(text, r'[,"\r\n]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _csv_lines(columns: list[pa.Array | pa.ChunkedArray]) -> bytes:
    """Rows joined into CSV lines in Arrow, one pass per column rather than per cell, and
    handed over as the joined column's bytes (no Python string per line)."""
    lines = pc.binary_join_element_wise(*[_csv_cells(c) for c in columns], ",")
    return joined_bytes(pc.binary_join_element_wise(lines, "\r\n", ""))  # RFC 4180 ends


def _price_column(values: pd.Series) -> pa.Array:
    """Rupees as whole numbers; an unpriced row's cell stays empty."""
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    missing = ~np.isfinite(numbers)
    return pa.array(np.round(np.where(missing, 0, numbers)).astype(np.int64), mask=missing)


def _priced_chunk(
    chunk: Chunk,
    job: CsvJob,
    served: Served,
    keep: list[int],
    quote_log: QuoteLog | None = None,
    key_name: str | None = None,
) -> bytes:
    priced = chunk.frame.copy()
    priced.columns = job.columns
    priced = priced.reset_index(drop=True)
    prepared = None
    try:
        prepared = served.model.prepare(priced)  # `price_frame`, in its two steps: the log
        scores = served.model.price(prepared)  # keeps the inputs as the catalogue filled them
    except Exception:  # noqa: BLE001 - one chunk must not lose its rows' places
        log.exception("pricing a CSV chunk failed")
        prepared = None
        scores = pd.DataFrame(
            {c: [None] * len(priced) for c in PRICE_COLUMNS}
            | {"filled": [""] * len(priced)}
            | {"error": ["internal error while pricing this row (see server log)"] * len(priced)}
        )
    if chunk.problems:
        bad = list(chunk.problems)
        scores.loc[bad, list(PRICE_COLUMNS)] = None
        scores.loc[bad, "filled"] = ""
        scores.loc[bad, "error"] = list(chunk.problems.values())
    errors = scores["error"].fillna("").astype(object)
    ok = (errors == "").to_numpy(dtype=bool)
    if prepared is None:
        ok[:] = False
    columns = [neutralise_arrow(pa.array(chunk.frame[i])) for i in keep]
    columns.append(log_chunk(quote_log, served, prepared, scores, priced, ok, key_name))
    columns += [_price_column(scores[col]) for col in PRICE_COLUMNS]
    columns.append(pa.repeat(served.version, len(priced)))
    columns.append(pa.array(scores["filled"].to_numpy(dtype=object), type=pa.string()))
    columns.append(neutralise_arrow(pa.array(errors.to_numpy(), type=pa.string())))
    failed = int((errors != "").sum())
    metrics.ROWS.labels("csv", "priced").inc(len(priced) - failed)
    metrics.ROWS.labels("csv", "failed").inc(failed)
    return _csv_lines(columns)


def stream_priced(
    job: CsvJob, served: Served, quote_log: QuoteLog | None = None, key_name: str | None = None
) -> Iterator[bytes]:
    """Header, then one priced chunk at a time, as UTF-8 comma CSV whatever the upload was;
    each priced row gets a quote id and is handed to `quote_log`. An input column that
    clashes with an output column (a re-uploaded priced file) is replaced, not duplicated."""
    keep = [i for i, h in enumerate(job.headers) if _output_name(h) not in OUTPUT_COLUMNS]
    head = io.StringIO()
    writer = csv.writer(head, lineterminator="\r\n")
    writer.writerow([*neutralise(pd.Series([job.headers[i] for i in keep])), *OUTPUT_COLUMNS])
    try:
        yield head.getvalue().encode()
        yield _priced_chunk(job.first, job, served, keep, quote_log, key_name)
        for chunk in job.reader:
            yield _priced_chunk(chunk, job, served, keep, quote_log, key_name)
    finally:
        if job.text is not None:
            job.text.detach()  # the upload closes with the request, not with this view


def _output_name(header: str) -> str:
    """A header compared with the output columns as before: case and spaces ignored."""
    return header.strip().lower().replace(" ", "_")
