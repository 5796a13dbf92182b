"""Spreadsheet safety of the CSVs we hand back (API uploads and the batch DAG share it)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from carprice.safecsv import neutralise, neutralise_arrow

CASES = [
    ("=1+1", "'=1+1"),
    ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("-x", "'-x"),
    ("-2+3", "'-2+3"),
    ("\tx", "'\tx"),
    ("\rx", "'\rx"),
    ("-2", "-2"),  # numbers stay numbers
    ("+3.5", "+3.5"),
    ("-1e5", "-1e5"),
    ("Swift", "Swift"),
    ("a=b", "a=b"),
    ("", ""),
]


@pytest.mark.parametrize(("cell", "safe"), CASES)
def test_formula_cells_are_prefixed_numbers_and_text_are_not(cell: str, safe: str) -> None:
    assert neutralise(pd.Series([cell])).tolist() == [safe]
    assert neutralise_arrow(pa.array([cell])).to_pylist() == [safe]


def test_missing_cells_become_empty_and_numbers_become_text() -> None:
    assert neutralise(pd.Series(["=x", None, float("nan")])).tolist() == ["'=x", "", ""]
    assert neutralise(pd.Series([2015, -3])).tolist() == ["2015", "-3"]
    assert neutralise_arrow(pa.array(["=x", None], type=pa.large_string())).to_pylist() == [
        "'=x",
        "",
    ]


def test_index_is_kept() -> None:
    cells = pd.Series(["=x", "ok"], index=[7, 3])
    assert neutralise(cells).to_dict() == {7: "'=x", 3: "ok"}
