"""Tables and Plotly figures for the Experiments page, as pure functions of MLflow runs.

Kept out of the page script so it stays thin and these are unit-testable without Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from pandas.io.formats.style import Styler

from carprice.names import CHAMPION, EVAL_SET_TAG
from dashboard import charts, model_card
from dashboard.charts import indian, rupees
from dashboard.clients.mlflow_client import ModelVersion, Run

PARAM_PREFIX = "param."
METRIC_PREFIX = "metric."
#: Parallel-coordinates axes at most (beyond that the labels collide and nobody reads it).
MAX_AXES = 8
#: Run-identity columns shown before params and metrics.
ID_COLUMNS = ["run", "kind", "parent", "status", "started", "run_id"]


def run_link(base: str, experiment_id: str, run_id: str) -> str:
    """Deep link into the MLflow UI for one run."""
    return f"{base.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}"


def run_label(run: Run) -> str:
    """What a person picks in the compare list: name plus a short id (names repeat)."""
    return f"{run.run_name} · {run.run_id[:8]}"


def ordered(runs: Sequence[Run]) -> list[Run]:
    """Parents newest first, each followed by its children (trials) in name order."""
    by_id = {r.run_id: r for r in runs}
    children: dict[str, list[Run]] = {}
    top: list[Run] = []
    for r in runs:
        parent = r.parent_run_id
        if parent and parent in by_id:
            children.setdefault(parent, []).append(r)
        else:
            top.append(r)
    top.sort(key=lambda r: r.start_time or 0, reverse=True)
    out: list[Run] = []
    for r in top:
        out.append(r)
        out += sorted(children.get(r.run_id, []), key=lambda c: c.run_name)
    return out


def runs_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """One row per run: identity, then `metric.*`, then `param.*` (numbers where possible)."""
    by_id = {r.run_id: r for r in runs}
    rows = []
    for r in ordered(runs):
        parent = by_id.get(r.parent_run_id or "")
        row: dict[str, object] = {
            "run": ("└ " if parent else "") + r.run_name,
            "kind": "trial" if r.parent_run_id else "training run",
            "parent": parent.run_name if parent else "",
            "status": r.status,
            "started": pd.to_datetime(r.start_time, unit="ms", utc=True) if r.start_time else None,
            "run_id": r.run_id,
        }
        row |= {PARAM_PREFIX + k: v for k, v in r.params.items()}
        row |= {METRIC_PREFIX + k: v for k, v in r.metrics.items()}
        rows.append(row)
    frame = pd.DataFrame(rows, columns=None if rows else ID_COLUMNS)
    params = sorted(c for c in frame.columns if c.startswith(PARAM_PREFIX))
    for c in params:  # one type per column (Arrow needs it): numbers where all parse
        as_number = pd.to_numeric(frame[c], errors="coerce")
        if as_number.notna().sum() == frame[c].notna().sum():
            frame[c] = as_number
    metrics = sorted(c for c in frame.columns if c.startswith(METRIC_PREFIX))
    return frame[ID_COLUMNS + metrics + params]


def runs_styler(table: pd.DataFrame) -> Styler:
    """The runs table with its rupee metrics (metric.*_mae, metric.*_rmse) as '₹67,964'; the
    cells stay numbers, so clicking a header still sorts them as numbers."""
    money = [c for c in table.columns if c.startswith(METRIC_PREFIX) and c.endswith(_RUPEES)]
    return charts.rupee_styler(table, money)


_RUPEES = ("_mae", "_rmse")  # metrics in rupees (the rest are shares, counts or R²)


def filter_runs(runs: Sequence[Run], kind: str, text: str) -> list[Run]:
    """`kind` is 'all', 'training runs' or 'trials'; `text` matches name or id (any case)."""
    needle = text.strip().lower()
    out = []
    for r in runs:
        if kind == "training runs" and r.parent_run_id:
            continue
        if kind == "trials" and not r.parent_run_id:
            continue
        if needle and needle not in r.run_name.lower() and needle not in r.run_id:
            continue
        out.append(r)
    return out


def metric_names(runs: Iterable[Run]) -> list[str]:
    return sorted({k for r in runs for k in r.metrics})


def numeric_params(runs: Iterable[Run]) -> list[str]:
    """Params whose every present value parses as a number (the ones that can be plotted)."""
    seen: dict[str, bool] = {}
    for r in runs:
        for k, v in r.params.items():
            seen[k] = seen.get(k, True) and isinstance(_number_or_text(v), float)
    return sorted(k for k, ok in seen.items() if ok)


def default_metric(names: Sequence[str]) -> str | None:
    for preferred in ("val_mae", "test_mae", "val_rmse", "test_rmse"):
        if preferred in names:
            return preferred
    return names[0] if names else None


def parallel_coordinates(runs: Sequence[Run], metric: str) -> go.Figure | None:
    """One line per selected run through its varying numeric params, coloured by `metric`."""
    params = [p for p in numeric_params(runs) if _varies(runs, p)]
    rows = [
        {p: _number_or_text(r.params[p]) for p in params if p in r.params}
        | {metric: r.metrics.get(metric)}
        for r in runs
    ]
    frame = pd.DataFrame(rows).dropna()
    if len(frame) < 2 or not params:
        return None
    if len(params) > MAX_AXES:  # keep the params that move with the metric the most
        strength = frame[params].corrwith(frame[metric], method="spearman").abs().fillna(0)
        params = sorted(strength.sort_values(ascending=False).index[:MAX_AXES])
    fig = px.parallel_coordinates(
        frame,
        dimensions=[*params, metric],
        color=metric,
        color_continuous_scale=px.colors.sequential.Viridis_r,
    )
    fig.update_traces(labelangle=-25, labelside="top")
    fig.update_layout(margin={"l": 70, "r": 70, "t": 110, "b": 30}, height=460)
    return fig


def metric_vs_param(
    runs: Sequence[Run], metric: str, param: str, selected: set[str]
) -> go.Figure | None:
    """Every listed run as a point; the runs picked for comparison stand out."""
    rows = [
        {
            param: _number_or_text(r.params[param]),
            metric: r.metrics[metric],
            "run": run_label(r),
            "picked": "compared" if r.run_id in selected else "other runs",
        }
        for r in runs
        if param in r.params and metric in r.metrics
    ]
    if not rows:
        return None
    frame = pd.DataFrame(rows)
    fig = px.scatter(
        frame,
        x=param,
        y=metric,
        color="picked",
        hover_name="run",
        color_discrete_map={"compared": "#e4572e", "other runs": "#9aa5b1"},
        category_orders={"picked": ["compared", "other runs"]},
    )
    fig.update_traces(marker={"size": 10, "opacity": 0.85})
    fig.update_layout(legend_title_text="", height=420, margin={"t": 30})
    return fig


def param_differences(runs: Sequence[Run]) -> pd.DataFrame:
    """Params side by side (one column per run), only the rows where not every run has the
    same value. Values are compared as people read them (0.8, 0.80 and 8e-1 are equal); a run
    that did not log the param shows "—" and counts as different."""
    keys = sorted({k for r in runs for k in r.params})
    table = {run_label(r): [_short(r.params[k]) if k in r.params else "—" for k in keys]
             for r in runs}  # fmt: skip
    frame = pd.DataFrame(table, index=pd.Index(keys, name="param"))
    if frame.empty:
        return frame
    return frame[frame.nunique(axis=1) > 1]


#: What makes two training runs the same retrain: the raw data's checksum and the seed.
DATA_CHECKSUM_TAG = "data.sha256"


def identical_retrains(runs: Sequence[Run]) -> str | None:
    """A sentence when every compared run is the same retrain (same data checksum, same
    seed, same parameters), else None: their metric differences are then not a finding."""
    if len(runs) < 2:
        return None
    sums = {r.tags.get(DATA_CHECKSUM_TAG) for r in runs}
    seeds = {r.params.get("seed") for r in runs}
    if len(sums) != 1 or None in sums or len(seeds) != 1 or None in seeds:
        return None
    if not param_differences(runs).empty:
        return None
    checksum = next(iter(sums)) or ""
    return (
        f"These {len(runs)} runs are identical retrains: same data (SHA-256 {checksum[:12]}…), "
        f"same seed ({next(iter(seeds))}), same parameters."
    )


def metrics_side_by_side(runs: Sequence[Run]) -> pd.DataFrame:
    keys = sorted({k for r in runs for k in r.metrics})
    table = {
        run_label(r): [_fmt_metric(k, r.metrics[k]) if k in r.metrics else "—" for k in keys]
        for r in runs
    }
    return pd.DataFrame(table, index=pd.Index(keys, name="metric"))


def run_tags(count: int) -> list[str]:
    """Short column tags for compared runs: A, B, C, …"""
    return [chr(ord("A") + i) for i in range(count)]


def report_side_by_side(reports: Sequence[list[dict] | None], dimension: str) -> pd.DataFrame:
    """One dimension of several runs' evaluation reports: groups as rows; per run (tagged A,
    B, …) its rows, MAPE (%) and MAE (₹); for each later run, its MAPE (percentage points) and
    MAE minus the first run's. Runs without a report (None or empty) get no columns."""
    tags = run_tags(len(reports))
    frames = {
        tag: model_card.report_frame(rows, dimension).set_index("Group")
        for tag, rows in zip(tags, reports, strict=True)
        if rows
    }
    if not frames:
        return pd.DataFrame()
    order: dict[str, tuple] = {}
    for frame in frames.values():
        for group, n in frame["Rows"].items():
            order.setdefault(group, model_card.group_order(dimension, group, int(n)))
    groups = sorted(order, key=order.__getitem__)
    table = pd.DataFrame(index=pd.Index(groups, name="group"))
    for tag, frame in frames.items():
        frame = frame.reindex(groups)
        table[f"{tag} rows"] = frame["Rows"].astype("Int64")
        table[f"{tag} MAPE"] = frame["MAPE"]
        table[f"{tag} MAE"] = frame["MAE"]
    first, *others = frames
    for tag in others:
        table[f"Δ MAPE {tag}−{first}"] = table[f"{tag} MAPE"] - table[f"{first} MAPE"]
        table[f"Δ MAE {tag}−{first}"] = table[f"{tag} MAE"] - table[f"{first} MAE"]
    return table


def report_formats(columns: Iterable[str]) -> dict[str, str | None]:
    """Number formats for `report_side_by_side` columns (the values stay numbers); None for
    the rupee columns, which `report_styler` writes in Indian grouping."""
    formats: dict[str, str | None] = {}
    for c in columns:
        if c.startswith("Δ MAPE"):
            formats[c] = "%+.1f pp"
        elif c.startswith("Δ MAE") or c.endswith(" MAE"):
            formats[c] = None
        elif c.endswith(" MAPE"):
            formats[c] = model_card.PCT_FORMAT
        elif c.endswith(" rows"):
            formats[c] = "%,d"
    return formats


def report_styler(table: pd.DataFrame) -> Styler:
    """`report_side_by_side` with its MAE columns as '₹67,964' and the Δ MAE columns as
    '+₹1,250' / '−₹3,400' (still numbers underneath, so they sort as numbers)."""
    mae = [c for c in table.columns if c.endswith(" MAE") and not c.startswith("Δ")]
    deltas = [c for c in table.columns if c.startswith("Δ MAE")]
    return charts.rupee_styler(table, mae, signed=deltas)


def report_dimensions(reports: Iterable[list[dict] | None]) -> list[str]:
    """Dimensions found in any of the reports, in the Model page's order."""
    return model_card.report_dimensions([row for rows in reports if rows for row in rows])


@dataclass(frozen=True)
class AliasedModel:
    """A registry alias resolved to its version and the training run behind it."""

    alias: str
    version: ModelVersion
    run: Run | None


@dataclass(frozen=True)
class AliasCard:
    label: str
    value: str
    delta: str | None
    caption: str
    #: st.metric styling: an unchanged figure is grey with no arrow, never a red "+0.0%".
    delta_color: str = "inverse"
    delta_arrow: str = "auto"


PREVIOUS = "previous champion"


def frozen_or_test_mae(run: Run | None) -> tuple[float | None, str]:
    """The headline figure of a model: MAE on the frozen evaluation set, else (a run from
    before frozen sets) on its own test split; with which one it is."""
    metrics = run.metrics if run else {}
    if "frozen_mae" in metrics:
        return metrics["frozen_mae"], "frozen"
    if "test_mae" in metrics:
        return metrics["test_mae"], "test"
    return None, ""


def _change(value: float | None, base: float | None, against: str) -> tuple[str | None, str, str]:
    """(delta text, colour, arrow) for st.metric: rounded to 0.0% it reads as no change."""
    if value is None or not base:
        return None, "inverse", "auto"
    change = (value - base) / base
    if round(change, 3) == 0:
        return f"no change in MAE vs {against}", "off", "off"
    return f"{change:+.1%} MAE vs {against}", "inverse", "auto"


def alias_cards(models: Sequence[AliasedModel]) -> list[AliasCard]:
    """Headline per model: MAE on the frozen evaluation set (its own test split named beside
    it); the others' change relative to the champion's, on the same kind of figure."""
    champion = next((m for m in models if m.alias == CHAMPION), None)
    base, base_kind = frozen_or_test_mae(champion.run if champion else None)
    base_set = champion.run.tags.get(EVAL_SET_TAG) if champion and champion.run else None
    cards = []
    for m in models:
        metrics = m.run.metrics if m.run else {}
        mae, kind = frozen_or_test_mae(m.run)
        eval_set = m.run.tags.get(EVAL_SET_TAG) if m.run else None
        delta, colour, arrow = None, "inverse", "auto"
        if m.alias != CHAMPION and kind == base_kind and eval_set == base_set:
            delta, colour, arrow = _change(mae, base, "champion")
        parts = []
        if kind == "frozen":
            parts.append(
                f"on frozen set {eval_set or '?'} ({indian(metrics.get('frozen_rows', 0))} cars)"
            )
            if "test_mae" in metrics:
                parts.append(f"own test split {rupees(metrics['test_mae'], exact=True)}")
        elif kind == "test":
            parts.append("own test split (trained before frozen evaluation sets)")
        if (
            m.alias != CHAMPION
            and champion
            and kind
            and (kind != base_kind or eval_set != base_set)
        ):
            parts.append("not comparable with the champion's figure (different evaluation rows)")
        if m.run and m.run.tags.get("data.synthetic") == "true":
            parts.append("**trained on the synthetic sample**")
        verdict = m.version.tags.get("gate.verdict")
        if verdict:
            parts.append(f"gate: {verdict}")
        value = f"{rupees(mae, exact=True)} MAE" if mae is not None else "—"
        title = "Previous champion" if m.alias == PREVIOUS else m.alias.capitalize()
        cards.append(
            AliasCard(f"{title} · v{m.version.version}", value, delta,
                      " · ".join(parts) or "no metrics logged", colour, arrow)
        )  # fmt: skip
    return cards


def alias_table(models: Sequence[AliasedModel]) -> pd.DataFrame:
    """The compared versions: version, gate verdict, the run's test and frozen-set metrics."""
    columns: dict[str, dict[str, object]] = {}
    for m in models:
        col: dict[str, object] = {
            "version": m.version.version,
            "run": m.run.run_name if m.run else (m.version.run_id or "—"),
            "gate verdict": m.version.tags.get("gate.verdict", "—"),
            "gate reason": m.version.tags.get("gate.reason", "—"),
        }
        for k, v in sorted((m.run.metrics if m.run else {}).items()):
            if k.startswith(("test_", "frozen_")):
                col[k] = _fmt_metric(k, v)
        columns[m.alias] = col
    return pd.DataFrame(columns)


def _fmt_metric(name: str, value: float) -> str:
    if name.startswith("data_"):
        return indian(value)
    if name.endswith(("_mae", "_rmse")):
        return rupees(value, exact=True)
    if name.endswith(("_mape", "_median_ape", "_coverage", "_level")):
        return f"{value:.1%}"
    return f"{value:.4f}"


def _short(value: str) -> str:
    """Params as people read them: 0.0238 rather than 0.023841758525692466."""
    number = _number_or_text(value)
    return f"{number:.4g}" if isinstance(number, float) else str(number)


def _number_or_text(value: str) -> float | str:
    try:
        return float(value)
    except (TypeError, ValueError):
        return value


def _varies(runs: Sequence[Run], param: str) -> bool:
    return len({r.params.get(param) for r in runs}) > 1
