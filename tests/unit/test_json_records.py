"""`json_records` (the quote log's inputs column) reads back as each row, whatever the text
holds: braces, quotes, backslashes, the `},{"` it splits at, unicode, missing values."""

from __future__ import annotations

import json
import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from carprice.quotelog.records import json_records

TEXT = st.one_of(st.none(), st.text(alphabet='ab},{"\\:[] é₹\n', max_size=8))
NUMBER = st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(TEXT, NUMBER, st.integers(-5, 10**9)), max_size=20))
def test_each_record_reads_back_as_its_row(rows) -> None:  # noqa: ANN001
    frame = pd.DataFrame(rows, columns=["name", "mileage_kmpl", "km_driven"])
    out = json_records(frame)
    assert len(out) == len(frame)
    for text, (name, mileage, km) in zip(out, rows, strict=True):
        back = json.loads(text)
        assert list(back) == ["name", "mileage_kmpl", "km_driven"]
        assert back["name"] == name and back["km_driven"] == km
        if mileage is None:
            assert back["mileage_kmpl"] is None
        else:
            assert math.isclose(back["mileage_kmpl"], mileage, rel_tol=1e-6, abs_tol=1e-9)


def test_edge_frames() -> None:
    assert json_records(pd.DataFrame({"a": []})) == []
    assert json_records(pd.DataFrame(index=range(2))) == ["{}", "{}"]
    assert json_records(pd.DataFrame({"a": ['},{"a":1']})) == ['{"a":"},{\\"a\\":1"}']
    # A text ending in `},{` followed by its closing quote looks like a record boundary.
    ended = pd.DataFrame({"name": ["},{", "x"], "km": [0, 1]})
    assert json_records(ended) == ['{"name":"},{","km":0}', '{"name":"x","km":1}']
