"""The byte-level answers agree with Arrow's own per-cell view, whatever the array's layout
(sliced, chunked, large_string, nulls, empty), and the CSV writer built on them still writes
what the csv module writes."""

from __future__ import annotations

import csv
import io

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from api.tabular import _csv_lines
from carprice.arrow_text import contains_any, first_bytes, joined_bytes
from carprice.safecsv import neutralise_arrow

CELLS = st.lists(
    st.one_of(st.none(), st.text(alphabet='ab,"\r\n=+-@\t 1.é€', max_size=6)), max_size=30
)


def _layouts(cells: list[str | None]) -> list[pa.Array | pa.ChunkedArray]:
    """One column of cells, laid out every way a reader may hand it over."""
    padded = pa.array(["pad", *cells, "tail"])
    half = len(cells) // 2
    return [
        pa.array(cells, type=pa.string()),
        pa.array(cells, type=pa.large_string()),
        padded.slice(1, len(cells)),  # a sliced array: offsets start past zero
        pa.chunked_array(
            [pa.array(cells[:half], pa.string()), pa.array(cells[half:], pa.string())]
        ),
    ]


def _expected_first(cells: list[str | None]) -> list[int]:
    return [c.encode()[0] if c else 0 for c in cells]


@settings(max_examples=150, deadline=None)
@given(CELLS)
def test_first_bytes_joined_bytes_and_contains_any_match_the_cells(cells) -> None:  # noqa: ANN001
    for column in _layouts(cells):
        assert first_bytes(column).tolist() == _expected_first(cells)
        assert joined_bytes(column) == "".join(c or "" for c in cells).encode()
        live = "".join(c or "" for c in cells)
        assert contains_any(column, b',"') == ("," in live or '"' in live)


def test_empty_and_all_null_columns() -> None:
    for column in (pa.array([], pa.string()), pa.array([None, None], pa.string()),
                   pa.array(["", ""]), pa.chunked_array([], pa.string())):  # fmt: skip
        assert not first_bytes(column).any()
        assert joined_bytes(column) == b""
        assert not contains_any(column, b",")
    assert first_bytes(pa.array(["", "x"])).tolist() == [0, ord("x")]
    assert isinstance(first_bytes(pa.array(["a"])), np.ndarray)


@settings(max_examples=150, deadline=None)
@given(CELLS, CELLS)
def test_csv_lines_read_back_as_the_neutralised_cells(left, right) -> None:  # noqa: ANN001
    """What the fast path writes, the csv module reads back cell for cell; formula-like cells
    (and only those) come back with their apostrophe."""
    n = min(len(left), len(right))
    if n == 0:
        return
    left, right = left[:n], right[:n]
    columns = [neutralise_arrow(pa.array(left, pa.string())), pa.array(right, pa.string())]
    out = _csv_lines(columns).decode()
    back = list(csv.reader(io.StringIO(out, newline="")))
    safe = neutralise_arrow(pa.array(left, pa.string())).to_pylist()
    assert back == [[a, b or ""] for a, b in zip(safe, right, strict=True)]
    for cell, written in zip(left, safe, strict=True):
        risky = bool(cell) and cell[0] in "=+-@\t\r" and not _plain_number(cell)
        assert written == (f"'{cell}" if risky else cell or "")


def _plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return (
        text.strip() == text and "_" not in text and text.lower().lstrip("+-")[:1] in "0123456789."
    )
