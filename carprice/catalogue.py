"""The vehicle catalogue: brand → model → model line → variant, each with its typical specs.

Salespeople know a car's name, not its bhp or torque. The catalogue is built from the cleaned
training frame, saved inside the model (plain JSON data, like `FeaturePipeline`), and used at
serving time to fill the specs a quote leaves out from the closest level that knows them, and
to back the brand → model → variant pickers.

Every level is keyed by a lower-case, single-spaced prefix of the listing name, so a key names
its level on its own: 'maruti', 'maruti swift', 'maruti swift dzire', 'maruti swift dzire vdi'.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from carprice.clean import FEW_ROWS, split_name
from carprice.relatives import Relatives
from carprice.schema import SPEC_COLUMNS  # none can be ≤ 0: such a value is a placeholder

BRAND = "brand"
MODEL = "model"
MODEL_LINE = "model_line"
VARIANT = "variant"
LEVELS: tuple[str, ...] = (BRAND, MODEL, MODEL_LINE, VARIANT)  # broad → specific
FILL_ORDER: tuple[str, ...] = (VARIANT, MODEL_LINE, MODEL, BRAND)  # closest level first
_COARSE: tuple[str, ...] = FILL_ORDER[1:]  # where an unlisted variant's relatives are sought
_CHOICES: tuple[str, ...] = ("fuel", "transmission")
WHOLE_SPECS: tuple[str, ...] = ("engine_cc", "torque_rpm", "seats")  # whole in every listing
_SEEN_NAMES_MAX = 100_000  # names remembered per loaded catalogue (a few MB at most)


class LevelKeys(NamedTuple):
    """One name's key per level, broad to specific; None where the name doesn't reach it."""

    brand: str | None
    model: str | None
    model_line: str | None
    variant: str | None


class Filled(NamedTuple):
    """`fill`'s answer: the frame with specs filled, per row which spec came from which level,
    and which given values were impossible (≤ 0) and so replaced, for the caller's warning."""

    frame: pd.DataFrame
    filled_from: pd.Series
    impossible: pd.DataFrame


class NotInCatalogue(KeyError):
    """A brand or model the catalogue doesn't list; carries close matches for a 'did you mean'."""

    def __init__(self, level: str, value: str, close: list[str]) -> None:
        hint = f"; did you mean: {', '.join(close)}" if close else ""
        super().__init__(f"{level} {value!r} is not in the catalogue{hint}")
        self.level = level
        self.value = value
        self.close = close

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


def _norm(text: object) -> str | None:
    """Case- and whitespace-insensitive key, as `clean.name_keys` matches names."""
    if not isinstance(text, str):
        return None
    return " ".join(text.lower().split()) or None


def _full_name(name: object, brand: object) -> str | None:
    """The name as written (spacing collapsed), with the stated brand in front when the name
    leaves it out ('Swift Dzire VDI' with brand 'Maruti')."""
    if not isinstance(name, str) or not name.split():
        return None
    text = " ".join(name.split())
    brand_text = " ".join(brand.split()) if isinstance(brand, str) else ""
    lower, brand_key = text.lower(), brand_text.lower()
    if brand_key and lower != brand_key and not lower.startswith(brand_key + " "):
        text = f"{brand_text} {text}"
    return text


def level_keys(name: object, brand: object = None) -> LevelKeys:
    """A listing name's key at every level; the one rule the catalogue, filling and any
    hierarchy feature share.

    'Maruti Swift Dzire VDI' → ('maruti', 'maruti swift', 'maruti swift dzire',
    'maruti swift dzire vdi'). The model line is the brand plus the next two words (a two-word
    brand such as 'Land Rover' counts as one, per `clean.split_name`); a name with only one word
    after the brand has no model line. A name given without its stated brand is read with the
    brand in front.
    """
    brand_key, text = _norm(brand), _full_name(name, brand)
    full = text.lower() if text else None
    if full is None or full == brand_key:
        return LevelKeys(brand_key, None, None, None)
    name_brand, family = split_name(full)
    if brand_key is None:
        brand_key = name_brand
    if family is None:  # one word: a brand alone
        return LevelKeys(brand_key, None, None, None)
    words = full.split()
    line_end = len(name_brand.split()) + 2
    line = " ".join(words[:line_end]) if len(words) >= line_end else None
    return LevelKeys(brand_key, f"{name_brand} {family}", line, full)


def _pairs(frame: pd.DataFrame) -> tuple[np.ndarray, list[tuple[object, object]]]:
    """Each row's distinct (brand, name) pair code, and the pairs: an upload repeats a few
    hundred names over thousands of rows, so name work is done once per pair then gathered."""
    n = len(frame)
    brands = frame["brand"] if "brand" in frame else pd.Series([None] * n, index=frame.index)
    names = frame["name"] if "name" in frame else pd.Series([None] * n, index=frame.index)
    if n <= FEW_ROWS:  # factorizing costs more than it saves; repeats are harmless
        pairs = [
            (b if isinstance(b, str) else None, m if isinstance(m, str) else None)
            for b, m in zip(brands.tolist(), names.tolist(), strict=True)
        ]
        return np.arange(n), pairs
    brand_codes, brand_uniques = pd.factorize(brands)  # -1: missing
    name_codes, name_uniques = pd.factorize(names)
    brand_values = np.asarray(brand_uniques, dtype=object)  # Python str: fast to index
    name_values = np.asarray(name_uniques, dtype=object)
    width = len(name_values) + 1
    pair_codes, combined = pd.factorize((brand_codes + 1) * width + (name_codes + 1))
    pairs = []
    for code in combined:
        b, m = divmod(int(code), width)
        pairs.append((brand_values[b - 1] if b else None, name_values[m - 1] if m else None))
    return pair_codes, pairs


def frame_level_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """`level_keys` for every row of an internal frame (columns brand, model, model_line,
    variant; None where a level doesn't apply), computed once per distinct (brand, name)."""
    pair_codes, pairs = _pairs(frame)
    table = np.array([level_keys(name, brand) for brand, name in pairs] or [(None,) * 4], object)
    return pd.DataFrame(table[pair_codes], index=frame.index, columns=list(LEVELS), dtype=object)


def _mode(data: pd.DataFrame, col: str) -> pd.Series:
    """Most common non-missing `col` per key; ties go to the alphabetically first value, so a
    rebuild on the same data gives the same catalogue."""
    counts = data.dropna(subset=[col]).groupby(["key", col]).size().rename("n").reset_index()
    counts = counts.sort_values(["key", "n", col], ascending=[True, False, True])
    return counts.drop_duplicates("key").set_index("key")[col]


def _seen(data: pd.DataFrame, col: str) -> pd.Series:
    """Every value of `col` seen per key, most common first."""
    counts = data.dropna(subset=[col]).groupby(["key", col]).size().rename("n").reset_index()
    counts = counts.sort_values(["key", "n", col], ascending=[True, False, True])
    return counts.groupby("key")[col].agg(list)


def _plain(value: Any) -> Any:
    """NumPy scalars and NaN → JSON values (NaN is not JSON)."""
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    if value is pd.NA:
        return None
    return value


def _level_table(frame: pd.DataFrame, keys: pd.DataFrame, spelled: pd.Series, level: str) -> dict:
    """One level's nodes as JSON-ready columns: key, display name, ancestors, counts, specs."""
    has = keys[level].notna().to_numpy()
    key = keys.loc[has, level]
    words = key.map(lambda k: len(k.split()))
    display = [" ".join(s.split()[:w]) for s, w in zip(spelled[has], words, strict=True)]
    numbers = ["year", *SPEC_COLUMNS]  # as floats: a cleaned frame may hold them as objects
    data = frame.loc[has, [*numbers, *_CHOICES]].astype(dict.fromkeys(numbers, float))
    data = data.assign(key=key, display=display)
    grouped = data.groupby("key", sort=True)
    table = pd.DataFrame({"name": _mode(data, "display")})
    ancestors = keys.loc[has].assign(key=key).drop_duplicates("key").set_index("key")
    for parent in LEVELS[: LEVELS.index(level)]:
        table[parent] = ancestors[parent]
    table["listings"] = grouped.size()
    table["year_min"] = grouped["year"].min().astype("Int64")
    table["year_max"] = grouped["year"].max().astype("Int64")
    for col in _CHOICES:
        table[col] = _mode(data, col)
    if level == VARIANT:
        for col in _CHOICES:
            table[col + "s"] = _seen(data, col)
    table[list(SPEC_COLUMNS)] = grouped[list(SPEC_COLUMNS)].median()  # NaN-skipping
    # Seats, engine size and torque rpm are whole in every listing (cleaning refuses 4.5
    # seats): an even split rounds up, so the value filled is one a car can have and the
    # form, which shows them whole, shows exactly the value the model used.
    for col in WHOLE_SPECS:
        table[col] = np.floor(table[col] + 0.5)
    table = table.rename_axis("key").reset_index()
    return {col: [_plain(v) for v in table[col]] for col in table.columns}


@dataclass
class Catalogue:
    """Plain data (JSON-serialisable) so the logged model carries it as an artifact.

    `levels[level]` holds that level's nodes column-wise ('key', 'name', ancestor keys,
    'listings', 'year_min', 'year_max', 'fuel', 'transmission', the spec medians; variants
    also 'fuels' and 'transmissions'), sorted by key.
    """

    levels: dict[str, dict[str, list]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # An empty catalogue (a model saved before catalogues existed) knows no node but still
        # treats placeholder specs as missing.
        for level in LEVELS:
            self.levels.setdefault(level, {"key": [], "name": [], **{c: [] for c in SPEC_COLUMNS}})

    @classmethod
    def build(cls, frame: pd.DataFrame) -> Catalogue:
        """From the cleaned training frame (`clean_training(raw).frame`), at training time."""
        pair_codes, pairs = _pairs(frame)
        per_pair = [
            # keys, and how the listing spells them (a brand alone when the name is missing)
            (*level_keys(name, brand), _full_name(name, brand) or _full_name(brand, None))
            for brand, name in pairs
        ]
        table = np.array(per_pair or [(None,) * 5], dtype=object)[pair_codes]
        keys = pd.DataFrame(table[:, :4], index=frame.index, columns=list(LEVELS), dtype=object)
        spelled = pd.Series(table[:, 4], index=frame.index, dtype=object)
        return cls(levels={lvl: _level_table(frame, keys, spelled, lvl) for lvl in LEVELS})

    def to_dict(self) -> dict:
        return {"levels": self.levels}

    @classmethod
    def from_dict(cls, data: dict) -> Catalogue:
        return cls(**data)

    def sizes(self) -> dict[str, int]:
        """Node count per level (reported with each trained model)."""
        return {level: len(self.levels[level]["key"]) for level in LEVELS}

    # ---- fast structures, derived once per loaded model -------------------------------------

    @cached_property
    def _index(self) -> dict[str, dict[str, int]]:
        return {lvl: {k: i for i, k in enumerate(self.levels[lvl]["key"])} for lvl in LEVELS}

    @cached_property
    def _specs(self) -> dict[str, np.ndarray]:
        """Per level, nodes × SPEC_COLUMNS medians, plus a last all-NaN row that code -1 (no
        such node) gathers."""
        out = {}
        for lvl in LEVELS:
            nodes = np.array([self.levels[lvl][c] for c in SPEC_COLUMNS], dtype=float).T
            out[lvl] = np.vstack(
                [nodes.reshape(-1, len(SPEC_COLUMNS)), np.full((1, len(SPEC_COLUMNS)), np.nan)]
            )
        return out

    @cached_property
    def _relatives(self) -> Relatives:
        return Relatives(self.levels[VARIANT], _COARSE, SPEC_COLUMNS)

    @cached_property
    def _seen_names(self) -> dict[tuple[object, object], tuple[int, ...]]:
        """(brand, name) → `_codes`, remembered: quotes repeat the same few thousand names."""
        return {}

    def _codes(self, brand: object, name: object) -> tuple[int, ...]:
        """Node position per level in FILL_ORDER, -1 where the catalogue has no such node."""
        codes = self._seen_names.get((brand, name))
        if codes is None:
            keys = level_keys(name, brand)
            codes = tuple(
                self._index[lvl].get(getattr(keys, lvl), -1) if getattr(keys, lvl) else -1
                for lvl in FILL_ORDER
            )
            if len(self._seen_names) >= _SEEN_NAMES_MAX:
                self._seen_names.clear()
            self._seen_names[(brand, name)] = codes
        return codes

    def _typical(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The precedence rule, of `fill`: names × FILL_ORDER node codes →
        (names × specs typical values, names × specs level: i + 1 for FILL_ORDER[i], 0 none).
        Broad levels are laid down first and closer ones overwrite where they have a value."""
        typical = np.full((len(codes), len(SPEC_COLUMNS)), np.nan)
        level = np.zeros(typical.shape, dtype=np.int8)
        for i in reversed(range(len(FILL_ORDER))):
            candidate = self._specs[FILL_ORDER[i]][codes[:, i]]
            known = ~np.isnan(candidate)
            np.copyto(typical, candidate, where=known)
            np.copyto(level, i + 1, where=known)
        return typical, level

    @staticmethod
    def _impossible(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return values <= 0  # NaN compares False: missing isn't impossible

    # ---- filling ----------------------------------------------------------------------------

    def fill(self, frame: pd.DataFrame, relatives: bool = True) -> Filled:
        """Fill each row's missing or impossible specs from its closest catalogue level
        (variant, else model line, else model, else brand); values the user gave win. A spec
        no level knows (an unknown brand) stays NaN and isn't reported as filled. For a variant
        the catalogue doesn't list, a coarser level's specs are those of its listed variants
        closest to the car (`carprice.relatives`) unless `relatives` is off, as for training
        rows.

        Work is per distinct (brand, name) plus NumPy gathers, so 10,000 rows cost about what a
        few hundred names do. Rows filled alike share one `filled_from` dict: read-only.
        """
        pair_codes, pairs = _pairs(frame)
        codes = np.array([self._codes(b, m) for b, m in pairs] or [(-1,) * 4], dtype=np.intp)
        typical, level = self._typical(codes)
        values = np.column_stack(
            [
                frame[c].to_numpy(dtype=float, na_value=np.nan)
                if c in frame
                else np.full(len(frame), np.nan)
                for c in SPEC_COLUMNS
            ]
        )
        impossible = self._impossible(values)
        take = np.isnan(values) | impossible
        row_typical, row_level = typical[pair_codes], level[pair_codes]  # copies
        if relatives:
            self._from_relatives(frame, (pair_codes, pairs), codes, take, row_typical, row_level)
        filled = np.where(take, row_typical, values)
        source = np.where(take & ~np.isnan(row_typical), row_level, 0)
        out = frame.copy(deep=False)  # copy-on-write: the caller's frame is never changed
        absent = [c for c in SPEC_COLUMNS if c not in out]
        if absent:
            out = out.assign(**dict.fromkeys(absent, np.nan))
        out.isetitem([out.columns.get_loc(c) for c in SPEC_COLUMNS], filled)
        return Filled(
            out,
            pd.Series(self._sources(source), index=frame.index, dtype=object),
            pd.DataFrame(impossible, index=frame.index, columns=list(SPEC_COLUMNS)),
        )

    def _from_relatives(
        self,
        frame: pd.DataFrame,
        pairs: tuple[np.ndarray, list[tuple[object, object]]],
        codes: np.ndarray,
        take: np.ndarray,
        typical: np.ndarray,
        level: np.ndarray,
    ) -> None:
        """Overwrite, in place, the coarse-level specs to fill of rows whose variant the
        catalogue doesn't list with its closest relatives' (`carprice.relatives`), once per
        distinct name, fuel and gearbox; the level reported is the one searched."""
        pair_codes, names = pairs
        row_codes = codes[pair_codes]
        coarse = level >= 2  # FILL_ORDER[1:]: model line, model, brand
        rows = np.flatnonzero((row_codes[:, 0] < 0) & (take & coarse).any(axis=1))
        if not len(rows):
            return
        absent = np.full(len(rows), None, dtype=object)
        fuel, gearbox = (
            frame[c].to_numpy(dtype=object)[rows] if c in frame else absent
            for c in ("fuel", "transmission")
        )
        # One search per distinct name, fuel and gearbox, then NumPy gathers back to the rows.
        parts = [pair_codes[rows], pd.factorize(fuel)[0] + 1, pd.factorize(gearbox)[0] + 1]
        combined = (parts[0] * (parts[1].max() + 1) + parts[1]) * (parts[2].max() + 1) + parts[2]
        distinct, first, combo = np.unique(combined, return_index=True, return_inverse=True)
        found = np.full((len(distinct), len(SPEC_COLUMNS)), np.nan)
        searched = np.zeros(len(distinct), dtype=level.dtype)
        whole = [SPEC_COLUMNS.index(c) for c in WHOLE_SPECS]
        for u, at in enumerate(first.tolist()):
            pair = int(pair_codes[rows[at]])
            finest = next((i for i in range(1, len(FILL_ORDER)) if codes[pair, i] >= 0), 0)
            if not finest:
                continue
            brand, name = names[pair]
            specs = self._relatives.specs(
                FILL_ORDER[finest],
                self.levels[FILL_ORDER[finest]]["key"][codes[pair, finest]],
                _norm(_full_name(name, brand)),  # the words of the car's name
                fuel[at],
                gearbox[at],
            )
            if specs is not None:
                specs[whole] = np.floor(specs[whole] + 0.5)  # whole, as `_level_table` makes them
                found[u], searched[u] = specs, finest + 1
        specs, searched = found[combo], searched[combo]
        replace = take[rows] & coarse[rows] & ~np.isnan(specs)
        typical[rows] = np.where(replace, specs, typical[rows])
        level[rows] = np.where(replace, searched[:, None], level[rows])

    @staticmethod
    def _sources(source: np.ndarray) -> np.ndarray:
        """Per row {spec: level} from the level codes, one dict per distinct pattern."""
        base = len(FILL_ORDER) + 1
        weights = base ** np.arange(len(SPEC_COLUMNS), dtype=np.int64)
        pattern_codes, patterns = pd.factorize(source.astype(np.int64) @ weights)
        dicts = np.empty(len(patterns), dtype=object)
        for i, pattern in enumerate(patterns.tolist()):
            digits = [pattern // int(w) % base for w in weights]
            dicts[i] = {
                c: FILL_ORDER[d - 1] for c, d in zip(SPEC_COLUMNS, digits, strict=True) if d
            }
        return dicts[pattern_codes]

    # ---- browsing (GET /catalogue/...) ------------------------------------------------------

    def _node(self, level: str, i: int) -> dict:
        table = self.levels[level]
        return {col: values[i] for col, values in table.items()}

    @cached_property
    def _by_parent(self) -> dict[tuple[str, str], dict[str, list[int]]]:
        """(level, ancestor level) → ancestor key → positions of its nodes at `level`."""
        out: dict[tuple[str, str], dict[str, list[int]]] = {}
        for level, parent in ((MODEL, BRAND), (MODEL_LINE, MODEL), (VARIANT, MODEL)):
            groups = out.setdefault((level, parent), {})
            for i, key in enumerate(self.levels[level][parent]):
                groups.setdefault(key, []).append(i)
        return out

    def _children(self, level: str, parent_level: str, parent_key: str) -> list[int]:
        return self._by_parent[(level, parent_level)].get(parent_key, [])

    def _find(self, level: str, key: str | None, value: str, among: list[int] | None) -> int:
        """Node position for `key`, or NotInCatalogue with close display names."""
        i = self._index[level].get(key) if key else None
        if i is not None and (among is None or i in among):
            return i
        pool = among if among is not None else range(len(self.levels[level]["key"]))
        names = {self._short(level, j): j for j in pool}
        close = difflib.get_close_matches(value.strip(), list(names), n=5, cutoff=0.6)
        if not close:  # case-insensitive second try
            lower = {n.lower(): n for n in names}
            close = [lower[c] for c in difflib.get_close_matches(value.strip().lower(), lower)]
        raise NotInCatalogue(level, value, close)

    def _short(self, level: str, i: int) -> str:
        """A node's name without its parent's words: 'Swift' under Maruti, 'Dzire VDI' under
        Maruti Swift (the full name when nothing is left)."""
        table = self.levels[level]
        name = table["name"][i]
        parent = {MODEL: BRAND, VARIANT: MODEL}.get(level)
        if parent is None:
            return name
        rest = name.split()[len(table[parent][i].split()) :]
        return " ".join(rest) or name

    def _brand_index(self, brand: str) -> int:
        return self._find(BRAND, _norm(brand), brand, None)

    def _model_index(self, brand: str, model: str) -> int:
        brand_key = self.levels[BRAND]["key"][self._brand_index(brand)]
        model_key = _norm(model)
        among = self._children(MODEL, BRAND, brand_key)
        return self._find(MODEL, f"{brand_key} {model_key}" if model_key else None, model, among)

    def brands(self) -> list[dict]:
        """Every brand: display name, model count and listing count, by name."""
        table = self.levels[BRAND]
        out = [
            {"brand": name, "models": len(self._children(MODEL, BRAND, key)), "listings": n}
            for key, name, n in zip(table["key"], table["name"], table["listings"], strict=True)
        ]
        return sorted(out, key=lambda b: b["brand"].lower())

    def models(self, brand: str) -> list[dict]:
        """A brand's models with typical specs and counts; raises NotInCatalogue."""
        brand_key = self.levels[BRAND]["key"][self._brand_index(brand)]
        out = []
        for i in self._children(MODEL, BRAND, brand_key):
            node = self._node(MODEL, i)
            key = node.pop("key")
            node.pop(BRAND)
            out.append(
                {
                    "model": self._short(MODEL, i),
                    **node,
                    "model_lines": len(self._children(MODEL_LINE, MODEL, key)),
                    "variants": len(self._children(VARIANT, MODEL, key)),
                }
            )
        return sorted(out, key=lambda m: m["model"].lower())

    def variants(self, brand: str, model: str) -> list[dict]:
        """A model's variants (model as in `models`, e.g. 'Swift') with specs, fuels seen and
        counts; raises NotInCatalogue for an unknown brand or model."""
        model_key = self.levels[MODEL]["key"][self._model_index(brand, model)]
        lines = self.levels[MODEL_LINE]
        out = []
        for i in self._children(VARIANT, MODEL, model_key):
            node = self._node(VARIANT, i)
            line = node.pop(MODEL_LINE)
            for key in ("key", BRAND, MODEL):
                node.pop(key)
            line_at = self._index[MODEL_LINE].get(line) if line else None
            out.append(
                {
                    "variant": self._short(VARIANT, i),
                    **node,
                    "model_line": None if line_at is None else lines["name"][line_at],
                }
            )
        return sorted(out, key=lambda v: v["name"].lower())
