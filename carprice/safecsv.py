"""Cells made safe to open in a spreadsheet: text that a spreadsheet would run as a formula
gets a leading apostrophe, so it shows as the text the user wrote.

Every CSV we hand back carries the user's own cells (the API's `/predict/csv`, the batch
DAG's output), so both go through here. A plain number such as ``-2`` or ``+3.5`` is left
alone: a spreadsheet reads it as that number, not as a formula. Vectorised in Arrow because a
million-row upload passes every cell through this.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carprice.arrow_text import byte_set, first_bytes

# = + - @ start a formula; tab and carriage return let one hide behind leading whitespace.
_FORMULA_START = r"^[=+\-@\t\r]"
_FORMULA_BYTES = byte_set(b"=+-@\t\r")
_PLAIN_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"


def neutralise_arrow(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text cells (nulls become empty cells) with formula-like ones prefixed by ``'``."""
    text = pc.fill_null(values.cast(pa.string()), "")
    if not _FORMULA_BYTES[first_bytes(text)].any():  # the usual case, one look
        return text
    risky = pc.and_(
        pc.match_substring_regex(text, _FORMULA_START),
        pc.invert(pc.match_substring_regex(text, _PLAIN_NUMBER)),
    )
    if not pc.any(risky).as_py():
        return text
    return pc.if_else(risky, pc.binary_join_element_wise("'", text, ""), text)


def neutralise(values: pd.Series) -> pd.Series:
    """The same for a pandas column of any dtype (numbers are written as their text)."""
    text = values.astype(object).where(values.notna(), "").astype(str)
    safe = neutralise_arrow(pa.array(text.to_numpy(dtype=object), type=pa.string()))
    return pd.Series(safe.to_pylist(), index=values.index, dtype=object)
