"""Raw rows in either accepted shape → the typed internal frame, with a reason per bad row.

Training uses `clean_training` (duplicates dropped, bad rows rejected and reported); serving
uses `to_frame` (every row kept in place, bad ones carry an error message instead).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from carprice import units
from carprice.schema import (
    CATEGORY_CHOICES,
    FEATURE_REQUIRED,
    FRAME_COLUMNS,
    NUMERIC_COLUMNS,
    NUMERIC_RANGES,
    OWNER_LABELS,
    RAW_COLUMNS,
    SPEC_COLUMNS,
    TARGET,
    TWO_WORD_BRANDS,
)

_RAW_MARKERS = {"owner", "mileage", "engine", "max_power"}
_CHECKED = (*NUMERIC_COLUMNS, TARGET)
_CHECKED_BEFORE_FILL = tuple(c for c in _CHECKED if c not in SPEC_COLUMNS)
_ROW_REQUIRED = ("year", "km_driven", "fuel", "seller_type", "transmission", "owner_rank")
_RAW_REQUIRED = ("name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner")
# CarDekho's labels, and what a dealer's sheet writes instead: a count ("2") or "2nd owner".
_OWNER_WORDS = ("test drive", "first", "second", "third", "fourth")
_OWNER_LOOKUP = {
    **{label.lower(): rank for label, rank in OWNER_LABELS.items()},
    **{str(rank): rank for rank in range(5)},
    **{f"{rank}+": min(rank, 4) for rank in range(1, 6)},
    **{word: rank for rank, word in enumerate(_OWNER_WORDS)},
    **{f"{word} owner": rank for rank, word in enumerate(_OWNER_WORDS)},
    **{f"{n}{s} owner": n for n, s in ((1, "st"), (2, "nd"), (3, "rd"), (4, "th"))},
    **{f"{n}{s}": n for n, s in ((1, "st"), (2, "nd"), (3, "rd"), (4, "th"))},
}
_TWO_WORD = {b.lower() for b in TWO_WORD_BRANDS}
_CHOICE_LOOKUP = {col: {c.lower(): c for c in choices} for col, choices in CATEGORY_CHOICES.items()}


class ShapeError(ValueError):
    """The table as a whole can't be read: wrong or duplicated columns."""


@dataclass
class CleanReport:
    """Training data after cleaning, and everything that was taken out, with reasons."""

    frame: pd.DataFrame
    rejected: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def normalise_headers(df: pd.DataFrame) -> pd.DataFrame:
    """Case- and space-insensitive headers; duplicated headers are an error, not a guess."""
    headers = [str(c).strip().lower().replace(" ", "_") for c in df.columns]
    dupes = sorted({h for h in headers if headers.count(h) > 1})
    if dupes:
        raise ShapeError(f"duplicated column(s): {', '.join(dupes)}")
    return df.set_axis(headers, axis=1)  # copy-on-write: the caller's frame never changes


def detect_shape(columns: list[str]) -> str:
    """'raw' for CarDekho listing rows, 'features' for CarFeatures rows."""
    cols = set(columns)
    if _RAW_MARKERS & cols and "owner_rank" not in cols:
        missing = [c for c in _RAW_REQUIRED if c not in cols]
        if missing:
            raise ShapeError(f"raw listing columns missing: {', '.join(missing)}")
        return "raw"
    alternatives = {"brand": "name", "owner_rank": "owner"}
    missing = [c for c in FEATURE_REQUIRED if c not in cols and alternatives.get(c) not in cols]
    if missing:
        raise ShapeError(
            f"missing column(s): {', '.join(missing)}. Send either the CarFeatures columns "
            f"({', '.join(FEATURE_REQUIRED)}) or the raw listing columns ({', '.join(RAW_COLUMNS)})"
        )
    return "features"


_BLANKS = frozenset(("", "nan", "NaN", "None"))
Column = np.ndarray  # one column of the internal frame while it is being built


def _blank(value: object) -> str | None:
    """One cell as stripped text, with blanks as None (the rule for every text cell)."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text in _BLANKS else text


# Up to this many rows a plain loop beats pandas' factorize, whose set-up (~30 µs) a single
# quote would pay for every column; `catalogue` pairs names by the same rule.
FEW_ROWS = 16


def map_distinct(series: pd.Series | np.ndarray, fn: Callable[[Any], object]) -> np.ndarray:
    """`fn` of each row's value as an object array, calling `fn` once per distinct value
    (missing stays None). An upload repeats a few hundred names and labels over thousands of
    rows, so this turns per-row Python into per-value Python plus one gather."""
    if len(series) <= FEW_ROWS:
        seen: dict[object, object] = {}
        out = np.full(len(series), None, dtype=object)
        for i, value in enumerate(series):
            if not pd.isna(value):
                if value not in seen:
                    seen[value] = fn(value)
                out[i] = seen[value]
        return out
    codes, uniques = pd.factorize(series)
    mapped = np.full(len(uniques) + 1, None, dtype=object)  # the last slot answers code -1
    for i, value in enumerate(uniques):
        mapped[i] = fn(value)
    return mapped[codes]


def _text(series: pd.Series) -> Column:
    """Strings with blanks as None, whatever dtype the column arrived in."""
    return map_distinct(series, _blank)


def _map_unique(text: Column, parse: Callable[[str], object]) -> tuple[Column, Column]:
    """Apply `parse` once per distinct value; returns (values, error messages or None)."""

    def attempt(cell: str) -> tuple[object, str | None]:
        try:
            return parse(cell), None
        except ValueError as exc:
            return None, str(exc)

    pairs = map_distinct(text, attempt)
    values = np.array([None if p is None else p[0] for p in pairs], dtype=object)
    errors = np.array([None if p is None else p[1] for p in pairs], dtype=object)
    return values, errors


class _Errors:
    """Collects per-row reasons; a row is bad when it has at least one."""

    def __init__(self, rows: int, messages: np.ndarray | None = None) -> None:
        """`messages` carries on from reasons found earlier (one per row, '' when none)."""
        self.messages = np.full(rows, "", dtype=object) if messages is None else messages

    def add(self, mask: np.ndarray, message: str | Callable[[np.ndarray], Any]) -> None:
        """`message` may be a function of the bad rows' mask, so reasons cost nothing when
        every row is fine (the usual case for a large upload)."""
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        if callable(message):
            message = np.asarray(message(mask), dtype=object)
        current = self.messages[mask]
        self.messages[mask] = np.where(current == "", message, current + "; " + message)


def _arrow_floats(series: pd.Series) -> Column | None:
    """Arrow-backed text (a CSV upload) parsed in C++ when every non-blank cell is a plain
    number, the usual case; None when any cell isn't, and the general route decides."""
    dtype = series.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return None
    cells = pa.array(series)
    try:
        blank_as_null = pc.if_else(pc.equal(cells, ""), pa.scalar(None, cells.type), cells)
        numbers = pc.cast(blank_as_null, pa.float64())
    except pa.ArrowException:
        return None
    return numbers.to_numpy(zero_copy_only=False).astype(float)  # a writable copy


def _plain_number(cell: str) -> float:
    """A cell as written by people: thousands separators allowed; NaN when not a number."""
    try:
        return float(cell.replace(",", ""))
    except ValueError:
        return np.nan


def _numeric(series: pd.Series, column: str, errors: _Errors) -> Column:
    # Fast paths: most cells are plain numbers (or already numeric); only the rest go through
    # the text route (blanks, thousands separators, words), which sets their reasons.
    if pd.api.types.is_bool_dtype(series):
        return np.full(len(series), np.nan)
    if pd.api.types.is_numeric_dtype(series):  # numbers already (JSON, typed uploads)
        values = series.to_numpy(dtype=float, na_value=np.nan, copy=True)
    else:
        values = _arrow_floats(series)
    if values is None:
        numbers = pd.to_numeric(series, errors="coerce")
        values = numbers.to_numpy(dtype=float, na_value=np.nan, copy=True)
    rest = np.flatnonzero(np.isnan(values) & pd.notna(series.to_numpy()))
    if len(rest):
        text = _text(series.iloc[rest])
        parsed = np.array([np.nan if t is None else _plain_number(t) for t in text], dtype=float)
        words = pd.notna(text) & np.isnan(parsed)
        bad = np.zeros(len(values), dtype=bool)
        bad[rest[words]] = True
        errors.add(bad, lambda _: [f"{column} {t!r} is not a number" for t in text[words]])
        values[rest] = parsed
    infinite = np.isinf(values)
    if infinite.any():
        errors.add(infinite, f"{column} must be a finite number")
        values = np.where(infinite, np.nan, values)
    return values


def _category(series: pd.Series, column: str) -> Column:
    """Allowed values in their canonical spelling; anything else kept as written, so the model
    can refuse it naming the values it knows (training rejects it in `clean_training`)."""
    lookup = _CHOICE_LOOKUP[column]
    return map_distinct(_text(series), lambda v: lookup.get(v.lower(), v))


def _check_choices(frame: pd.DataFrame, errors: _Errors) -> None:
    """Training rows must use the schema's categories; serving leaves this to the model."""
    for col, choices in CATEGORY_CHOICES.items():
        values = frame[col].to_numpy(dtype=object)
        bad = pd.notna(values) & ~np.isin(values, choices)
        errors.add(
            bad,
            lambda bad, v=values, col=col, c=choices: [
                f"{col} {t!r} is not one of: {', '.join(c)}" for t in v[bad]
            ],
        )


def split_name(name: str | None) -> tuple[str | None, str | None]:
    """'Maruti Swift Dzire VDI' → ('Maruti', 'swift'): brand as written (matched
    case-insensitively later, but echoed back in messages as the user wrote it), model family
    as a lower-case key. Two-word brands are kept whole."""
    if not isinstance(name, str) or not name.strip():
        return None, None
    tokens = name.split()
    n = 2 if len(tokens) > 2 and " ".join(tokens[:2]).lower() in _TWO_WORD else 1
    brand = " ".join(tokens[:n])
    model = tokens[n].lower() if len(tokens) > n else None
    return brand, model


def name_keys(name: str | None, brand: str | None = None) -> tuple[str | None, str | None]:
    """(model family key, variant key) for a listing name, given the brand if stated.

    A name that doesn't start with the stated brand still names the model: its first word.
    The variant is the full name, case- and spacing-insensitive: the most specific identity.
    """
    if not isinstance(name, str) or not name.strip():
        return None, None
    name_brand, model = split_name(name)
    if brand and name_brand and name_brand.lower() != brand.lower():
        model = name.lower().split()[0]
    return model, " ".join(name.lower().split())


def _name_columns(names: Column, brands: Column | None) -> dict[str, Column]:
    """brand, model, variant columns; each distinct (name, brand) pair is parsed once. A
    stated brand wins; without one, the name's first word(s) give it."""
    given = brands if brands is not None else np.full(len(names), None, dtype=object)
    name_codes, name_values = pd.factorize(names)  # -1: missing
    given_codes, given_values = pd.factorize(given)
    width = len(given_values) + 1
    pair_codes, pairs = pd.factorize((name_codes + 1) * width + (given_codes + 1))
    columns = np.empty((3, len(pairs)), dtype=object)
    for j, pair in enumerate(pairs):
        n, g = divmod(int(pair), width)
        name = name_values[n - 1] if n and isinstance(name_values[n - 1], str) else None
        brand = given_values[g - 1] if g and isinstance(given_values[g - 1], str) else None
        columns[:, j] = (brand or split_name(name)[0], *name_keys(name, brand))
    return {key: columns[i][pair_codes] for i, key in enumerate(("brand", "model", "variant"))}


def _floats(values: Column) -> Column:
    """Parsed numbers (None where missing) as a float column."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _missing_text(rows: int) -> Column:
    return np.full(rows, None, dtype=object)


def _from_raw(df: pd.DataFrame, errors: _Errors) -> dict[str, Column]:
    rows = len(df)
    out: dict[str, Column] = {"name": _text(df["name"])}
    out |= _name_columns(out["name"], None)
    out["owner_rank"] = _owner_rank(df["owner"], errors)
    parsers = {
        "mileage": ("mileage_kmpl", units.parse_mileage),
        "engine": ("engine_cc", units.parse_engine),
        "max_power": ("max_power_bhp", units.parse_power),
        "torque": ("torque", units.parse_torque),
    }
    for raw_col, (col, parse) in parsers.items():
        # A sheet may name a spec the clean way ("engine_cc") beside raw listing columns.
        alias = raw_col if raw_col in df else _SPEC_ALIASES.get(raw_col)
        text = _text(df[alias]) if alias in df else _missing_text(rows)
        values, messages = _map_unique(text, parse)
        errors.add(pd.notna(messages), lambda bad, m=messages: m[bad])
        out[col] = values if col == "torque" else _floats(values)
    pairs = out.pop("torque")
    out["torque_nm"] = np.array([p[0] if p is not None else np.nan for p in pairs], dtype=float)
    out["torque_rpm"] = np.array(
        [p[1] if p is not None and p[1] is not None else np.nan for p in pairs], dtype=float
    )
    if "torque_rpm" in df and "torque" not in df:
        out["torque_rpm"] = _numeric(df["torque_rpm"], "torque_rpm", errors)
    for col in ("year", "km_driven", "seats"):
        out[col] = _numeric(df[col], col, errors) if col in df else np.full(rows, np.nan)
    return out


# Raw listing spec column → its clean-number name; either is read in either shape.
_SPEC_ALIASES = {
    "mileage": "mileage_kmpl",
    "engine": "engine_cc",
    "max_power": "max_power_bhp",
    "torque": "torque_nm",
}
_RAW_SPEC_PARSERS = {
    "mileage_kmpl": ("mileage", units.parse_mileage),
    "engine_cc": ("engine", units.parse_engine),
    "max_power_bhp": ("max_power", units.parse_power),
}


def _owner_rank(labels: pd.Series, errors: _Errors) -> Column:
    """CarDekho's owner labels ('First Owner', …) as ranks."""
    owner = _text(labels)
    ranks = _floats(map_distinct(owner, lambda v: _OWNER_LOOKUP.get(v.lower())))
    errors.add(
        pd.notna(owner) & np.isnan(ranks),
        lambda bad: [f"owner {o!r} is not one of: {', '.join(OWNER_LABELS)}" for o in owner[bad]],
    )
    return ranks


def compose_name(brand: str | None, model: str | None, variant: str | None) -> str | None:
    """A car picked as brand + model + variant → its listing name: ('Maruti', 'Swift',
    'Dzire VDI') → 'Maruti Swift Dzire VDI'. A part that already repeats what comes before it
    (a variant given as the full name, or starting with the model) is not doubled."""
    name = brand or ""
    for part in (model, variant):
        if not part:
            continue
        low, current = part.lower(), name.lower()
        if current and (low == current or low.startswith(current + " ")):
            name = part
        elif part is variant and model and low.startswith(model.lower() + " "):
            name = f"{brand or ''} {part}"
        else:
            name = f"{name} {part}"
    return " ".join(name.split()) or None


def _from_features(df: pd.DataFrame, errors: _Errors) -> dict[str, Column]:
    rows = len(df)
    names = _text(df["name"]) if "name" in df else _missing_text(rows)
    brands = _text(df["brand"]) if "brand" in df else None
    if brands is not None and ("model" in df or "variant" in df):  # picked, not named
        parts = [_text(df[c]) if c in df else _missing_text(rows) for c in ("model", "variant")]
        unnamed = np.flatnonzero(pd.isna(names) & pd.notna(brands))
        names[unnamed] = [compose_name(brands[i], parts[0][i], parts[1][i]) for i in unnamed]
    out: dict[str, Column] = {"name": names}
    out |= _name_columns(names, brands)
    for col in NUMERIC_COLUMNS:
        raw_col, parse = _RAW_SPEC_PARSERS.get(col, (None, None))
        if col in df:
            out[col] = _numeric(df[col], col, errors)
        elif raw_col in df and parse is not None:  # "1248 CC" beside clean columns
            values, messages = _map_unique(_text(df[raw_col]), parse)
            errors.add(pd.notna(messages), lambda bad, m=messages: m[bad])
            out[col] = _floats(values)
        else:
            out[col] = np.full(rows, np.nan)
    if "owner" in df:  # a label instead of a rank
        unranked = np.isnan(out["owner_rank"])
        if unranked.any():
            labels = _owner_rank(df["owner"], errors)
            out["owner_rank"] = np.where(unranked, labels, out["owner_rank"])
    return out


def _check_required(columns: dict[str, Column], required: tuple[str, ...], errors: _Errors) -> None:
    for col in required:
        errors.add(pd.isna(columns[col]) & (errors.messages == ""), f"{col} is missing")


def _check_ranges(columns: Mapping[str, Any], errors: _Errors, which: tuple[str, ...]) -> None:
    for col in which:
        if col not in columns:
            continue
        r = NUMERIC_RANGES[col]
        values = np.asarray(columns[col], dtype=float)
        with np.errstate(invalid="ignore"):
            bad = (values < r.low) | (values > r.high)  # NaN compares False: missing is fine
        errors.add(
            bad,
            lambda bad, col=col, values=values, r=r: [
                f"{col} {v:.10g} is outside {r.low:g}–{r.high:g} {r.unit}" for v in values[bad]
            ],
        )
    for col in {"year", "km_driven", "seats", "owner_rank"} & set(which):
        values = np.asarray(columns[col], dtype=float)
        errors.add(np.isfinite(values) & (np.mod(values, 1) != 0), f"{col} must be a whole number")


def check_specs(frame: pd.DataFrame) -> np.ndarray:
    """Per row: '' or why a spec is out of range; for specs checked after filling (a quote's
    missing or placeholder specs are filled first, so only values the user gave can fail)."""
    errors = _Errors(len(frame))
    _check_ranges(frame, errors, SPEC_COLUMNS)
    return errors.messages


def to_frame(df: pd.DataFrame, check_specs: bool = True) -> tuple[pd.DataFrame, pd.Series]:
    """Either input shape → (internal frame, per-row error text; '' means the row is usable).

    Values may arrive as strings (CSV, JSON); categories are matched case-insensitively.
    Columns are built as numpy arrays and framed once: one row (a single quote) costs about a
    millisecond, and a large upload stays vectorised. With `check_specs=False` the specs'
    ranges are left to `check_specs`, for callers that fill missing specs first. Raises
    ShapeError when the columns themselves are unusable.
    """
    df = normalise_headers(df)
    shape = detect_shape(list(df.columns))
    errors = _Errors(len(df))
    columns = _from_raw(df, errors) if shape == "raw" else _from_features(df, errors)
    for col in CATEGORY_CHOICES:
        columns[col] = _category(df[col], col)
    if TARGET in df:
        columns[TARGET] = _numeric(df[TARGET], TARGET, errors)
    # A row needs the car's identity and use; a missing spec is priced as missing, whichever
    # shape it came in, so the same car gets the same answer (and training's rows are priceable).
    identity = "name" if shape == "raw" else "brand"
    _check_required(columns, (identity, *_ROW_REQUIRED), errors)
    _check_ranges(columns, errors, _CHECKED if check_specs else _CHECKED_BEFORE_FILL)
    order = [*FRAME_COLUMNS, TARGET] if TARGET in columns else list(FRAME_COLUMNS)
    frame = pd.DataFrame({col: columns[col] for col in order}, index=df.index, copy=False)
    return frame, pd.Series(errors.messages, index=df.index, dtype=object)


def clean_training(raw: pd.DataFrame) -> CleanReport:
    """De-duplicate first (exact duplicates inflate honest-looking scores), then reject bad rows."""
    total = len(raw)
    deduped = raw.drop_duplicates()
    frame, messages = to_frame(deduped)
    if TARGET not in frame:
        raise ShapeError(f"training data needs a {TARGET} column")
    errors = _Errors(len(frame), messages.to_numpy(dtype=object, copy=True))
    _check_choices(frame, errors)
    errors.add(frame[TARGET].isna().to_numpy() & (errors.messages == ""), f"{TARGET} is missing")
    errors = pd.Series(errors.messages, index=frame.index)
    bad = errors != ""
    rejected = deduped[bad].copy()
    rejected.insert(0, "reason", errors[bad])
    rejected.insert(0, "source_row", rejected.index + 2)  # 1-based, after the header line
    good = frame[~bad].reset_index(drop=True)
    # Rows that differ only in text casing or spacing become duplicates after parsing.
    before = len(good)
    good = good.drop_duplicates().reset_index(drop=True)
    counts = {
        "rows_in": total,
        "exact_duplicates_dropped": total - len(deduped),
        "rejected": int(bad.sum()),
        "parsed_duplicates_dropped": before - len(good),
        "rows_out": len(good),
    }
    return CleanReport(good, rejected.reset_index(drop=True), counts)


def main(argv: list[str] | None = None) -> int:
    """`python -m carprice.clean --data URI [--rejected out.csv]`: counts as JSON."""
    from carprice.lake import read_csv

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="raw CSV: path, s3:// or http(s)://")
    parser.add_argument("--rejected", help="write rejected rows with reasons to this CSV")
    args = parser.parse_args(argv)
    report = clean_training(read_csv(args.data))
    if args.rejected:
        report.rejected.to_csv(args.rejected, index=False)
    reasons = (
        report.rejected["reason"]
        .str.split("; ")
        .explode()
        .str.replace(r" '.*' | [\d.]+ ", " … ", regex=True)
    )
    print(json.dumps({**report.counts, "top_reasons": reasons.value_counts().head(10).to_dict()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
