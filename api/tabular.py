"""CSV in, CSV out: checks a file up front, then prices it chunk by chunk as it streams.

Memory stays bounded: the upload is spooled to disk by the multipart parser, rows are read
`csv_chunk_rows` at a time, and each priced chunk is written out before the next is read.
Arrow's C++ reader parses the file and Arrow kernels build the output lines; a file with a
malformed line (wrong field count) is read instead by Python's csv module, which can keep that
line's place with a reason.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from api.runtime import Served
from carprice.clean import ShapeError, detect_shape, normalise_headers
from carprice.model import PRICE_COLUMNS
from carprice.safecsv import neutralise, neutralise_arrow

log = logging.getLogger("api.tabular")

OUTPUT_COLUMNS = (*PRICE_COLUMNS, "model_version", "filled", "error")
_ARROW_BLOCK_BYTES = 1 << 20  # Arrow reads the spooled upload this much at a time

CSV_DOC = """Upload a CSV as multipart field `file`, in either shape:

* **CarFeatures columns** (`year, km_driven, fuel, seller_type, transmission, owner_rank,
  mileage_kmpl, engine_cc, max_power_bhp, seats, brand`, optional `name, torque_nm,
  torque_rpm`), or
* **raw CarDekho listing columns** (`name, year, km_driven, fuel, seller_type, transmission,
  owner, mileage, engine, max_power, torque, seats`) with unit strings such as `23.4 kmpl`.

Headers are case-insensitive; extra columns pass through untouched. The response is the same
rows in the same order plus `predicted_price, price_low, price_high, model_version, error`;
a row that can't be priced keeps its place with the reason in `error`.

* **Encoding:** UTF-8 (a BOM is fine). Other encodings get a 400 — save as "CSV UTF-8".
* **Size limit:** `CARPRICE_API_MAX_CSV_BYTES` (default 128 MiB, about a million rows) →
  413 above it.
* **Spreadsheet safety:** any cell that starts with `= + - @`, tab or carriage return is
  prefixed with `'` so spreadsheets show it as text instead of running it as a formula
  (plain numbers such as `-2` stay numbers).
* **Errors:** an empty file, a header with no rows, duplicated or missing columns → 4xx with a
  reason. A line with the wrong number of fields keeps its place with the reason in `error`.
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
    headers: list[str]  # as uploaded
    columns: list[str]  # normalised (lower-case) names used for pricing
    shape: str
    first: Chunk
    reader: Iterator[Chunk]
    text: io.TextIOWrapper


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


def _check_utf8(raw: io.IOBase) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    offset = 0
    try:
        while chunk := raw.read(1 << 20):
            if (nul := chunk.find(b"\x00")) >= 0:  # valid UTF-8, but no text file has one
                raise _bad(
                    f"The file holds a NUL byte at offset {offset + nul}: it looks like UTF-16 "
                    "or a binary file, not UTF-8 text. Save it as 'CSV UTF-8' and upload again."
                )
            decoder.decode(chunk)
            offset += len(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise _bad(
            f"The file is not UTF-8 text (invalid byte at offset {offset + exc.start}). "
            "Save it as 'CSV UTF-8' and upload again."
        ) from exc
    raw.seek(0)


def open_csv(upload: UploadFile, settings: ApiSettings) -> CsvJob:
    """Everything that can be wrong with the file as a whole is found here, before streaming."""
    raw = upload.file
    raw.seek(0, io.SEEK_END)
    size = raw.tell()
    raw.seek(0)
    if size > settings.max_csv_bytes:
        raise BodyTooLarge(settings.max_csv_bytes)
    if size == 0:
        raise _bad("The file is empty.", 400)
    _check_utf8(raw)
    text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
    try:
        headers = next(csv.reader(text))
    except StopIteration:
        raise _bad("The file is empty.", 400) from None
    except csv.Error as exc:
        raise _bad(f"The header line can't be read as CSV: {exc}") from exc
    if not any(h.strip() for h in headers):
        raise _bad("The first line is blank: it must be the header row.", 400)
    try:
        columns = list(normalise_headers(pd.DataFrame(columns=headers)).columns)
        shape = detect_shape(columns)
    except ShapeError as exc:
        raise _bad(f"Unusable columns: {exc}", 422) from exc
    if _regular(raw, headers):
        reader = arrow_chunks(raw, len(headers), settings.csv_chunk_rows)
    else:  # a malformed line: the csv module keeps its place with a reason
        text.detach()
        text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        next(csv.reader(text))
        reader = read_chunks(text, len(headers), settings.csv_chunk_rows)
    first = next(reader, None)
    if first is None:
        raise _bad("The CSV has a header but no data rows.", 422)
    return CsvJob(headers, columns, shape, first, reader, text)


def _csv_cells(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Cells as CSV text, quoted only where needed (a comma, quote or line break), as the csv
    module writes them: plain cells stay bare, so simple tools can still split on commas."""
    text = pc.fill_null(values.cast(pa.string()), "")
    needs = pc.match_substring_regex(text, r'[,"\r\n]')
    if not pc.any(needs).as_py():
        return text
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(text, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, text)


def _csv_lines(columns: list[pa.Array | pa.ChunkedArray]) -> bytes:
    """Rows joined into CSV lines in Arrow, one pass per column rather than per cell."""
    lines = pc.binary_join_element_wise(*[_csv_cells(c) for c in columns], ",")
    return ("\r\n".join(lines.to_pylist()) + "\r\n").encode()  # RFC 4180 line ends


def _price_column(values: pd.Series) -> pa.Array:
    """Rupees as whole numbers; an unpriced row's cell stays empty."""
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    missing = ~np.isfinite(numbers)
    return pa.array(np.round(np.where(missing, 0, numbers)).astype(np.int64), mask=missing)


def _priced_chunk(chunk: Chunk, job: CsvJob, served: Served, keep: list[int]) -> bytes:
    priced = chunk.frame.copy()
    priced.columns = job.columns
    try:
        scores = served.model.price_frame(priced)
    except Exception:  # noqa: BLE001 - one chunk must not lose its rows' places
        log.exception("pricing a CSV chunk failed")
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
    columns = [neutralise_arrow(pa.array(chunk.frame[i])) for i in keep]
    columns += [_price_column(scores[col]) for col in PRICE_COLUMNS]
    columns.append(pa.repeat(served.version, len(priced)))
    columns.append(pa.array(scores["filled"].to_numpy(dtype=object), type=pa.string()))
    columns.append(neutralise_arrow(pa.array(errors.to_numpy(), type=pa.string())))
    failed = int((errors != "").sum())
    metrics.ROWS.labels("csv", "priced").inc(len(priced) - failed)
    metrics.ROWS.labels("csv", "failed").inc(failed)
    return _csv_lines(columns)


def stream_priced(job: CsvJob, served: Served) -> Iterator[bytes]:
    """Header, then one priced chunk at a time. A pass-through column that clashes with an
    output column (a re-uploaded priced file) is replaced, not duplicated."""
    keep = [i for i, c in enumerate(job.columns) if c not in OUTPUT_COLUMNS]
    head = io.StringIO()
    writer = csv.writer(head, lineterminator="\r\n")
    writer.writerow([*neutralise(pd.Series([job.headers[i] for i in keep])), *OUTPUT_COLUMNS])
    try:
        yield head.getvalue().encode()
        yield _priced_chunk(job.first, job, served, keep)
        for chunk in job.reader:
            yield _priced_chunk(chunk, job, served, keep)
    finally:
        job.text.detach()
