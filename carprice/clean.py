"""Raw rows in either accepted shape → the typed internal frame, with a reason per bad row.

Training uses `clean_training` (duplicates dropped, bad rows rejected and reported); serving
uses `to_frame` (every row kept in place, bad ones carry an error message instead).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
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
    TARGET,
    TWO_WORD_BRANDS,
    CarFeatures,
)

_RAW_MARKERS = {"owner", "mileage", "engine", "max_power"}
_RAW_REQUIRED = ("name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner")
_OWNER_LOOKUP = {label.lower(): rank for label, rank in OWNER_LABELS.items()}
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
    out = df.copy()
    out.columns = headers
    return out


def detect_shape(columns: list[str]) -> str:
    """'raw' for CarDekho listing rows, 'features' for CarFeatures rows."""
    cols = set(columns)
    if _RAW_MARKERS & cols and "owner_rank" not in cols:
        missing = [c for c in _RAW_REQUIRED if c not in cols]
        if missing:
            raise ShapeError(f"raw listing columns missing: {', '.join(missing)}")
        return "raw"
    missing = [
        c for c in FEATURE_REQUIRED if c not in cols and not (c == "brand" and "name" in cols)
    ]
    if missing:
        raise ShapeError(
            f"missing column(s): {', '.join(missing)}. Send either the CarFeatures columns "
            f"({', '.join(FEATURE_REQUIRED)}) or the raw listing columns ({', '.join(RAW_COLUMNS)})"
        )
    return "features"


_BLANKS = ("", "nan", "NaN", "None")


def _text(series: pd.Series) -> pd.Series:
    """Strings with blanks as None, whatever dtype the column arrived in (vectorised: the API
    runs this on every CSV upload)."""
    text = series.astype("string").str.strip()
    text = text.mask(text.isin(_BLANKS))
    return text.astype("object").where(text.notna(), None)


def _blank(value: object) -> str | None:
    """Scalar twin of `_text` for one validated car."""
    if value is None:
        return None
    text = str(value).strip()
    return None if text in _BLANKS else text


def map_distinct(series: pd.Series, fn: Callable[[Any], object]) -> np.ndarray:
    """`fn` of each row's value as an object array, calling `fn` once per distinct value
    (missing stays None). An upload repeats a few hundred names and labels over thousands of
    rows, so this turns per-row Python into per-value Python plus one gather."""
    codes, uniques = pd.factorize(series)
    mapped = np.full(len(uniques) + 1, None, dtype=object)  # the last slot answers code -1
    for i, value in enumerate(uniques):
        mapped[i] = fn(value)
    return mapped[codes]


def _map_unique(series: pd.Series, parse: Callable[[str], object]) -> tuple[pd.Series, pd.Series]:
    """Apply `parse` once per distinct value; returns (values, error messages)."""

    def attempt(cell: str) -> tuple[object, str | None]:
        try:
            return parse(cell), None
        except ValueError as exc:
            return None, str(exc)

    pairs = map_distinct(series, attempt)
    values = [None if p is None else p[0] for p in pairs]
    errors = [None if p is None else p[1] for p in pairs]
    return (
        pd.Series(values, index=series.index, dtype=object),
        pd.Series(errors, index=series.index, dtype=object),
    )


class _Errors:
    """Collects per-row reasons; a row is bad when it has at least one."""

    def __init__(self, index: pd.Index) -> None:
        self.messages = pd.Series([""] * len(index), index=index, dtype="object")

    def add(
        self, mask: pd.Series, message: pd.Series | str | Callable[[pd.Series], pd.Series]
    ) -> None:
        """`message` may be a function of the bad rows' mask, so reasons cost nothing when
        every row is fine (the usual case for a large upload)."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            return
        if callable(message):
            message = message(mask)
        msg = message[mask] if isinstance(message, pd.Series) else message
        current = self.messages[mask]
        self.messages[mask] = np.where(current == "", msg, current + "; " + msg)


def _floats(values: pd.Series) -> pd.Series:
    """Plain float64 with NaN for missing, whatever (nullable) dtype `to_numeric` returned."""
    return pd.Series(values.to_numpy(dtype=float, na_value=np.nan), index=values.index)


def _arrow_floats(series: pd.Series) -> pd.Series | None:
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
    return pd.Series(numbers.to_numpy(zero_copy_only=False), index=series.index)


def _numeric(series: pd.Series, column: str, errors: _Errors) -> pd.Series:
    # Fast paths: most cells are plain numbers (or already numeric); only the rest go through
    # the text route (blanks, thousands separators, words), which sets their reasons.
    if pd.api.types.is_bool_dtype(series):
        values = pd.Series(np.nan, index=series.index)
    elif (parsed := _arrow_floats(series)) is not None:
        values = parsed
    else:
        values = _floats(pd.to_numeric(series, errors="coerce"))
    missing = np.isnan(values.to_numpy(dtype=float))
    rest = pd.Series(missing, index=series.index) & series.notna()
    if rest.any():
        text = _text(series[rest])
        parsed = _floats(pd.to_numeric(text.str.replace(",", "", regex=False), errors="coerce"))
        errors.add(
            (text.notna() & parsed.isna()).reindex(series.index, fill_value=False),
            lambda bad: (
                column + " " + text.reindex(series.index)[bad].map(repr) + " is not a number"
            ),
        )
        values[rest] = parsed
    numbers = values.to_numpy(dtype=float)
    infinite = np.isinf(numbers)
    if infinite.any():
        errors.add(pd.Series(infinite, index=series.index), f"{column} must be a finite number")
        numbers = np.where(infinite, np.nan, numbers)
    return pd.Series(numbers, index=series.index)


def _category(series: pd.Series, column: str, errors: _Errors) -> pd.Series:
    choices = CATEGORY_CHOICES[column]
    lookup = {c.lower(): c for c in choices}
    text = _text(series)
    canon = pd.Series(map_distinct(text, lambda v: lookup.get(v.lower())), index=text.index)
    errors.add(
        text.notna() & canon.isna(),
        lambda bad: f"{column} " + text[bad].map(repr) + f" is not one of: {', '.join(choices)}",
    )
    return canon


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


def _name_columns(names: pd.Series, brands: pd.Series | None) -> pd.DataFrame:
    """brand, model, variant columns; each distinct (name, brand) pair is parsed once."""
    stated = brands is not None
    given = brands if stated else pd.Series(None, index=names.index, dtype=object)
    name_codes, name_values = pd.factorize(names)  # -1: missing
    given_codes, given_values = pd.factorize(given)
    width = len(given_values) + 1
    pair_codes, pairs = pd.factorize((name_codes + 1) * width + (given_codes + 1))
    columns = np.empty((3, len(pairs)), dtype=object)
    for j, pair in enumerate(pairs):
        n, g = divmod(int(pair), width)
        name = name_values[n - 1] if n and isinstance(name_values[n - 1], str) else None
        brand = given_values[g - 1] if g and isinstance(given_values[g - 1], str) else None
        columns[:, j] = (brand if stated else split_name(name)[0], *name_keys(name, brand))
    return pd.DataFrame(
        {key: columns[i][pair_codes] for i, key in enumerate(("brand", "model", "variant"))},
        index=names.index,
        dtype=object,
    )


def _from_raw(df: pd.DataFrame, errors: _Errors) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    out["name"] = _text(df["name"])
    out[["brand", "model", "variant"]] = _name_columns(out["name"], None)
    owner = _text(df["owner"])
    out["owner_rank"] = owner.str.lower().map(_OWNER_LOOKUP).astype(float)
    errors.add(
        owner.notna() & out["owner_rank"].isna(),
        lambda bad: "owner " + owner[bad].map(repr) + f" is not one of: {', '.join(OWNER_LABELS)}",
    )
    parsers = {
        "mileage": ("mileage_kmpl", units.parse_mileage),
        "engine": ("engine_cc", units.parse_engine),
        "max_power": ("max_power_bhp", units.parse_power),
    }
    for raw_col, (col, parse) in parsers.items():
        text = _text(df[raw_col]) if raw_col in df else pd.Series(None, index=df.index)
        out[col], msg = _map_unique(text, parse)
        errors.add(msg.notna(), msg)
    torque = _text(df["torque"]) if "torque" in df else pd.Series(None, index=df.index)
    pairs, msg = _map_unique(torque, units.parse_torque)
    errors.add(msg.notna(), msg)
    out["torque_nm"] = pairs.map(lambda p: p[0] if isinstance(p, tuple) else None).astype(float)
    out["torque_rpm"] = pairs.map(lambda p: p[1] if isinstance(p, tuple) else None).astype(float)
    for col in ("year", "km_driven", "seats"):
        out[col] = (
            _numeric(df[col], col, errors) if col in df else pd.Series(np.nan, index=df.index)
        )
    return out


def _from_features(df: pd.DataFrame, errors: _Errors) -> pd.DataFrame:
    out = pd.DataFrame(index=df.index)
    out["name"] = _text(df["name"]) if "name" in df else None
    brands = _text(df["brand"]) if "brand" in df else None
    out[["brand", "model", "variant"]] = _name_columns(out["name"], brands)
    for col in NUMERIC_COLUMNS:
        out[col] = (
            _numeric(df[col], col, errors) if col in df else pd.Series(np.nan, index=df.index)
        )
    return out


def _check_required(frame: pd.DataFrame, required: tuple[str, ...], errors: _Errors) -> None:
    for col in required:
        errors.add(frame[col].isna() & (errors.messages == ""), f"{col} is missing")


def _check_ranges(frame: pd.DataFrame, errors: _Errors) -> None:
    for col in (*NUMERIC_COLUMNS, TARGET):
        if col not in frame:
            continue
        r = NUMERIC_RANGES[col]
        values = frame[col]
        bad = values.notna() & ((values < r.low) | (values > r.high))
        errors.add(
            bad,
            lambda bad, col=col, values=values, r=r: (
                f"{col} " + values[bad].map("{:.10g}".format) + f" is outside "
                f"{r.low:g}–{r.high:g} {r.unit}"
            ),
        )
    whole = ("year", "km_driven", "seats", "owner_rank")
    for col in whole:
        frac = frame[col].notna() & (frame[col] % 1 != 0)
        errors.add(frac, f"{col} must be a whole number")


def car_row(car: CarFeatures) -> dict:
    """One validated car → one internal-frame row as a dict, without pandas.

    The same mapping as `to_frame` on the features shape (checked in tests), at a cost of
    microseconds: the API prices single cars this way. Pydantic has already checked types and
    ranges; a category outside the allowed choices is passed through as written so the
    pipeline can refuse it with the allowed values.
    """
    name = _blank(car.name)
    brand = _blank(car.brand)
    model, variant = name_keys(name, brand)
    row: dict = {"name": name, "brand": brand, "model": model, "variant": variant}
    for col, lookup in _CHOICE_LOOKUP.items():
        value = _blank(getattr(car, col))
        row[col] = lookup.get(value.lower(), value) if value is not None else None
    for col in NUMERIC_COLUMNS:
        value = getattr(car, col)
        row[col] = None if value is None else float(value)
    return row


def to_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Either input shape → (internal frame, per-row error text; '' means the row is usable).

    Values may arrive as strings (CSV, JSON); categories are matched case-insensitively.
    Raises ShapeError when the columns themselves are unusable.
    """
    df = normalise_headers(df)
    shape = detect_shape(list(df.columns))
    errors = _Errors(df.index)
    frame = _from_raw(df, errors) if shape == "raw" else _from_features(df, errors)
    frame[list(NUMERIC_COLUMNS)] = frame[list(NUMERIC_COLUMNS)].astype(float)
    for col in CATEGORY_CHOICES:
        frame[col] = _category(df[col], col, errors)
    if TARGET in df:
        frame[TARGET] = _numeric(df[TARGET], TARGET, errors)
    required = ("name", "year", "km_driven", "fuel", "seller_type", "transmission", "owner_rank")
    if shape == "features":
        required = FEATURE_REQUIRED
    _check_required(frame, required, errors)
    _check_ranges(frame, errors)
    columns = [*FRAME_COLUMNS, TARGET] if TARGET in frame else list(FRAME_COLUMNS)
    return frame[columns], errors.messages


def clean_training(raw: pd.DataFrame) -> CleanReport:
    """De-duplicate first (exact duplicates inflate honest-looking scores), then reject bad rows."""
    total = len(raw)
    deduped = raw.drop_duplicates()
    frame, errors = to_frame(deduped)
    if TARGET not in frame:
        raise ShapeError(f"training data needs a {TARGET} column")
    missing_target = frame[TARGET].isna() & (errors == "")
    errors = errors.where(~missing_target, f"{TARGET} is missing")
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
