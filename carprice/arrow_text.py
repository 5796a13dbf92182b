"""Byte-level reads of Arrow string columns, for writing CSV at upload speed.

Every priced upload echoes each of its cells back. Asking Arrow's regex kernels "does any cell
start with `=`?" or "does any cell hold a comma?" costs a pass per question per column; the
same answers come from one look at the column's offsets and data buffers in NumPy, and almost
always say "no", so the regex pass (kept for the rare "yes") is skipped.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def _parts(text: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets, data) of a string or large_string array, its slice offset applied."""
    _, offsets_buf, data_buf = text.buffers()
    width = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(offsets_buf, dtype=width)[text.offset : text.offset + len(text) + 1]
    data = (
        np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    )
    return offsets, data


def _chunks(text: pa.Array | pa.ChunkedArray) -> list[pa.Array]:
    return list(text.chunks) if isinstance(text, pa.ChunkedArray) else [text]


def first_bytes(text: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Each cell's first byte (0 for an empty or null cell), as uint8."""
    parts = []
    for chunk in _chunks(text):
        first = np.zeros(len(chunk), dtype=np.uint8)
        if len(chunk):
            offsets, data = _parts(chunk)
            starts = offsets[:-1]
            filled = offsets[1:] > starts
            if chunk.null_count:
                filled &= np.asarray(chunk.is_valid())
            first[filled] = data[starts[filled]]
        parts.append(first)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)


def byte_set(needles: bytes) -> np.ndarray:
    """A 256-entry lookup table: indexing it with bytes beats `np.isin` several times over."""
    table = np.zeros(256, dtype=bool)
    table[np.frombuffer(needles, dtype=np.uint8)] = True
    return table


def contains_any(text: pa.Array | pa.ChunkedArray, needles: bytes) -> bool:
    """Whether any cell holds any of the single bytes in `needles` (null cells' bytes, which
    Arrow may leave behind, count too: a "yes" only means the exact check must run)."""
    wanted = byte_set(needles)
    for chunk in _chunks(text):
        if not len(chunk):
            continue
        offsets, data = _parts(chunk)
        if wanted[data[offsets[0] : offsets[-1]]].any():
            return True
    return False


def joined_bytes(text: pa.Array | pa.ChunkedArray) -> bytes:
    """Every cell's bytes one after another (null cells add nothing)."""
    out = []
    for chunk in _chunks(text):
        if not len(chunk):
            continue
        if chunk.null_count:
            chunk = chunk.fill_null("")
        offsets, data = _parts(chunk)
        out.append(data[offsets[0] : offsets[-1]].tobytes())
    return b"".join(out)
