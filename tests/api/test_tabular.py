"""The two CSV readers behind /predict/csv: Arrow's (fast) must read every regular file
exactly as the csv module would, and hand every file it can't keep in order to the csv module."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pyarrow as pa
import pytest

from api.tabular import _csv_lines, _regular, arrow_chunks, read_chunks

HEADER = "name,year,note"
REGULAR = {
    "plain": b"name,year,note\nSwift,2015,a\nCity,2016,b\n",
    "crlf-and-bom": b"\xef\xbb\xbfname,year,note\r\nSwift,2015,a\r\nCity,2016,b\r\n",
    "quoted-comma-quote-newline": (
        b'name,year,note\n"Swift, VDI",2015,"say ""hi"""\nCity,2016,"two\nlines"\n'
    ),
    "blank-lines-and-empty-cells": b"name,year,note\n\nSwift,,\n\n,2016,b\n",
    "unicode-and-formula": "name,year,note\nCitroën C3,2015,=1+1\n".encode(),
    "no-final-newline": b"name,year,note\nSwift,2015,a",
}
MALFORMED = {
    "short-line": b"name,year,note\nSwift,2015\nCity,2016,b\n",
    "long-line": b"name,year,note\nSwift,2015,a,b\n",
    "whitespace-line": b"name,year,note\nSwift,2015,a\n   \n",
}


def csv_module_rows(data: bytes) -> list[list[str]]:
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    next(csv.reader(text))
    chunks = list(read_chunks(text, 3, 1000))
    assert all(not c.problems for c in chunks)
    return pd.concat([c.frame for c in chunks]).to_numpy().tolist() if chunks else []


def headers(data: bytes) -> list[str]:
    return next(csv.reader(io.StringIO(data.decode("utf-8-sig"))))


@pytest.mark.parametrize("data", REGULAR.values(), ids=REGULAR.keys())
def test_arrow_reads_regular_files_as_the_csv_module_does(data: bytes) -> None:
    raw = io.BytesIO(data)
    assert _regular(raw, headers(data))
    assert raw.tell() == 0
    chunks = list(arrow_chunks(raw, 3, 1000))
    rows = pd.concat([c.frame for c in chunks]).to_numpy().tolist()
    assert rows == csv_module_rows(data)
    assert all(not c.problems for c in chunks)


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_files_with_malformed_lines_go_to_the_csv_module(data: bytes) -> None:
    raw = io.BytesIO(data)
    assert not _regular(raw, headers(data))
    assert raw.tell() == 0


def test_a_header_arrow_reads_differently_is_not_regular() -> None:
    data = b"name,year,note\nSwift,2015,a\n"
    assert not _regular(io.BytesIO(data), ["name", "year", "notes"])


def test_chunks_have_the_configured_size_and_keep_order() -> None:
    body = "".join(f"car{i},{2000 + i},n{i}\n" for i in range(10))
    raw = io.BytesIO((HEADER + "\n" + body).encode())
    chunks = list(arrow_chunks(raw, 3, 3))
    assert [len(c.frame) for c in chunks] == [3, 3, 3, 1]
    names = pd.concat([c.frame[0] for c in chunks]).tolist()
    assert names == [f"car{i}" for i in range(10)]
    assert str(chunks[0].frame[1].dtype) == "str"  # text, as the csv module's frames are


def test_large_file_comes_in_many_blocks_without_losing_rows() -> None:
    body = "".join(f"car{i},{i},{'x' * 200}\n" for i in range(20_000))  # ~4 MiB: several blocks
    raw = io.BytesIO((HEADER + "\n" + body).encode())
    chunks = list(arrow_chunks(raw, 3, 7_000))
    assert [len(c.frame) for c in chunks] == [7_000, 7_000, 6_000]
    assert pd.concat([c.frame[1] for c in chunks]).astype(int).tolist() == list(range(20_000))


def test_output_lines_quote_only_where_needed_and_read_back() -> None:
    """Minimal quoting, as the csv module writes, so a plain row can still be split on commas
    by simple tools; every cell reads back as it went in (a bare CR is quoted too)."""
    text = ["Swift", 'say "hi"', "a,b", "two\nlines", "cr\rhere", "", None, "'=1+1"]
    prices = [450000, None, 1, 2, 3, 4, 5, 6]
    out = _csv_lines([pa.array(text), pa.array(prices, type=pa.int64()), pa.repeat("7", 8)])
    back = list(csv.reader(io.StringIO(out.decode(), newline="")))
    assert back == [
        [cell or "", "" if price is None else str(price), "7"]
        for cell, price in zip(text, prices, strict=True)
    ]
    lines = out.decode().split("\r\n")
    assert lines[0] == "Swift,450000,7" and lines[-1] == ""
    assert '"say ""hi""",,7' in lines and '"a,b",1,7' in lines and "'=1+1,6,7" in lines
