"""Pipelines page logic without Streamlit: trigger conf and who asked, run progress, and
what a finished retrain changed in the registry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from carprice.champions import ROLLBACK_TO_TAG
from carprice.names import (
    CHALLENGER,
    CHAMPION,
    LIVE_SINCE_TAG,
    PROMOTION_TAG,
    REPLACED_TAG,
)
from dashboard.clients.airflow_client import DagRun, TaskState
from dashboard.clients.mlflow_client import MlflowClient, MlflowError, ModelVersion

#: Streamlit markdown icons per state (Material Symbols ship with Streamlit; emoji fonts
#: are often missing on servers and kiosk browsers).
STATE_ICONS = {
    "success": ":green[:material/check_circle:]",
    "failed": ":red[:material/cancel:]",
    "upstream_failed": ":red[:material/block:]",
    "running": ":blue[:material/autorenew:]",
    "queued": ":gray[:material/schedule:]",
    "scheduled": ":gray[:material/schedule:]",
    "up_for_retry": ":orange[:material/replay:]",
    "skipped": ":gray[:material/skip_next:]",
    "deferred": ":gray[:material/pause_circle:]",
    None: ":gray[:material/radio_button_unchecked:]",
}
#: Cell colours for run states in tables (markdown icons don't render inside dataframes).
STATE_COLOURS = {
    "success": "color: #1b7f3b; font-weight: 600",
    "failed": "color: #c62828; font-weight: 600",
    "running": "color: #1565c0; font-weight: 600",
    "queued": "color: #6b7280",
}
#: Metrics compared before/after a retrain, logged on the training run: on the frozen
#: evaluation set (the same cars for both) first, then each run's own test split.
HEADLINE_METRICS = ("frozen_mae", "frozen_mape", "test_mae", "test_rmse", "test_r2", "test_mape")


#: The DAG run conf key naming who asked for a run (a DAG ignores conf keys it has no Param for).
REQUESTED_BY = "requested_by"


def with_requester(conf: dict[str, Any], requested_by: str) -> dict[str, Any]:
    """The trigger conf plus who asked; a form field can't override it."""
    return {**conf, REQUESTED_BY: requested_by}


def requested_note(requested_by: str) -> str:
    """The DAG run note Airflow's own UI shows."""
    return f"Requested by {requested_by} from the CarPrice dashboard"


def requester(run: DagRun) -> str:
    """Who asked for a run: the dashboard's conf key, else how Airflow started it."""
    asked = run.conf.get(REQUESTED_BY)
    if isinstance(asked, str) and asked:
        return asked
    return {"scheduled": "the schedule", "backfill": "a backfill"}.get(
        run.run_type or "", "unknown (not started from the dashboard)"
    )


def param_fields(details: dict[str, Any]) -> list[dict[str, Any]]:
    """The DAG's Params as form fields: name, default, JSON type, description."""
    fields = []
    for name, spec in (details.get("params") or {}).items():
        spec = spec if isinstance(spec, dict) else {"value": spec}
        schema = spec.get("schema") or {}
        kind = schema.get("type")
        nullable = isinstance(kind, list) and "null" in kind
        if isinstance(kind, list):  # e.g. ["null", "integer"]
            kind = next((k for k in kind if k != "null"), "string")
        default = spec.get("value")
        if kind is None:
            kind = {bool: "boolean", int: "integer", float: "number"}.get(type(default), "string")
        fields.append(
            {
                "name": name,
                "type": kind,
                "default": default,
                "description": spec.get("description") or schema.get("description") or "",
                "minimum": schema.get("minimum"),
                "maximum": schema.get("maximum"),
                "nullable": nullable or default is None,
            }
        )
    return fields


def param_label(name: str) -> str:
    """`data_uri` → "Data URI": a Param name as a form label."""
    words = [w.upper() if w in {"uri", "url", "id", "csv"} else w for w in name.split("_")]
    return " ".join(words)[:1].upper() + " ".join(words)[1:]


def conf_from_form(fields: Sequence[dict[str, Any]], values: dict[str, Any]) -> dict[str, Any]:
    """Only values that differ from the DAG's defaults, so the DAG stays the source of truth.

    An emptied field means "use the default" (never an empty string the DAG would refuse);
    a list Param (e.g. `extra_data`) is typed one item per line and sent as a list.
    """
    conf = {}
    for f in fields:
        value = values.get(f["name"])
        if f["type"] == "array" and isinstance(value, str):  # one item per line
            value = [line.strip() for line in value.splitlines() if line.strip()]
            if value == list(f["default"] or []):
                continue
        if isinstance(value, str):
            value = value.strip()
        if value is None or value == "":  # left empty: the DAG's default applies
            continue
        if value != f["default"]:
            conf[f["name"]] = value
    return conf


def runs_overview(dags: Sequence[dict[str, Any]], runs: dict[str, list[DagRun]]) -> pd.DataFrame:
    """One row per DAG: paused?, its latest run and a strip of recent run states."""
    rows = []
    for d in dags:
        recent = runs.get(d["dag_id"], [])
        last = recent[0] if recent else None
        rows.append(
            {
                "DAG": d["dag_id"],
                "paused": bool(d.get("is_paused")),
                "latest run": last.run_id if last else "—",
                "requested by": requester(last) if last else "—",
                "state": (last.state or "created") if last else "never run",
                "started": last.start_date if last else None,
                "took (s)": round(last.duration, 1) if last and last.duration else None,
                "recent runs (oldest → newest)": " · ".join(
                    (r.state or "created") for r in reversed(recent)
                ),
            }
        )
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["started"] = pd.to_datetime(frame["started"], utc=True, errors="coerce")
    return frame


def state_style(value: object) -> str:
    """Styler callback: colour a state cell."""
    return STATE_COLOURS.get(str(value), "")


def format_deltas(deltas: pd.DataFrame) -> pd.DataFrame:
    """Before/after/change as people read them: rupees, percentages, R² to 4 places."""

    def fmt(metric: str, value: object, signed: bool = False) -> str:
        if value is None or pd.isna(value):
            return "—"
        v = float(value)
        sign = "+" if signed and v > 0 else ("−" if v < 0 else "")
        if metric.endswith(("_mae", "_rmse")):
            return f"{sign}₹{abs(v):,.0f}"
        if metric.endswith("_mape"):
            return f"{sign}{abs(v):.1%}" if signed else f"{v:.1%}"
        return f"{sign}{abs(v):.4f}" if signed else f"{v:.4f}"

    out = deltas.copy().astype(object)
    for i, row in deltas.iterrows():
        out.at[i, "before"] = fmt(row["metric"], row["before"])
        out.at[i, "after"] = fmt(row["metric"], row["after"])
        out.at[i, "change"] = fmt(row["metric"], row["change"], signed=True)
    return out


def task_rows(tasks: Sequence[TaskState], order: Sequence[str]) -> list[TaskState]:
    """Tasks in DAG order (upstream first); unknown ones at the end."""
    rank = {t: i for i, t in enumerate(order)}
    return sorted(tasks, key=lambda t: (rank.get(t.task_id, len(rank)), t.task_id))


def progress(tasks: Sequence[TaskState]) -> float:
    done = sum(t.state in {"success", "skipped", "failed", "upstream_failed"} for t in tasks)
    return done / len(tasks) if tasks else 0.0


def task_line(t: TaskState) -> str:
    took = f" · {t.duration:.1f} s" if t.duration else ""
    retry = f" · try {t.try_number}" if t.try_number > 1 else ""
    return (
        f"{STATE_ICONS.get(t.state, '•')} `{t.task_id}` — {t.state or 'not started'}{took}{retry}"
    )


@dataclass(frozen=True)
class ChampionSnapshot:
    """The champion alias at one moment: version and its training run's test metrics."""

    version: str | None
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    challenger: str | None = None
    champion_gate: dict[str, str] = field(default_factory=dict)
    challenger_gate: dict[str, str] = field(default_factory=dict)


def snapshot(client: MlflowClient, model: str) -> ChampionSnapshot:
    """Read the registry now; raises MlflowError if MLflow can't be read."""
    champ = client.get_version_by_alias(model, CHAMPION)
    chall = client.get_version_by_alias(model, CHALLENGER)
    chall_gate = _gate_tags(chall.tags) if chall else {}
    if champ is None:
        return ChampionSnapshot(
            None, challenger=chall.version if chall else None, challenger_gate=chall_gate
        )
    metrics: dict[str, float] = {}
    if champ.run_id:
        run = client.get_run(champ.run_id)
        metrics = {k: v for k, v in run.metrics.items() if k in HEADLINE_METRICS}
    return ChampionSnapshot(
        champ.version,
        champ.run_id,
        metrics,
        chall.version if chall else None,
        _gate_tags(champ.tags),
        chall_gate,
    )


def _gate_tags(tags: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if k.startswith("gate.")}


@dataclass(frozen=True)
class ChampionChange:
    changed: bool
    headline: str
    deltas: pd.DataFrame


def compare(before: ChampionSnapshot, after: ChampionSnapshot) -> ChampionChange:
    """Did the retrain move the champion alias, and how did the test metrics move?"""
    rows = [
        {
            "metric": k,
            "before": before.metrics.get(k),
            "after": after.metrics.get(k),
            "change": (after.metrics[k] - before.metrics[k])
            if k in after.metrics and k in before.metrics
            else None,
        }
        for k in HEADLINE_METRICS
        if k in before.metrics or k in after.metrics
    ]
    deltas = pd.DataFrame(rows, columns=["metric", "before", "after", "change"])
    if after.version is None:
        return ChampionChange(False, "No champion is registered yet.", deltas)
    if after.version != before.version:
        was = f"v{before.version}" if before.version else "none"
        mae = _mae_phrase(before, after)
        gate = _gate_phrase(after.champion_gate)
        return ChampionChange(
            True, f"New champion v{after.version} (was {was}).{mae}{gate}", deltas
        )
    head = f"Champion unchanged: v{after.version} stays live."
    if after.challenger and after.challenger != before.challenger:
        head += f" The new model is challenger v{after.challenger}."
        head += _gate_phrase(after.challenger_gate)
    return ChampionChange(False, head, deltas)


def _gate_phrase(gate: dict[str, str]) -> str:
    reason = gate.get("gate.reason")
    return f" Gate, on the same test set: {reason}." if reason else ""


def _mae_phrase(before: ChampionSnapshot, after: ChampionSnapshot) -> str:
    """MAE before → after: on the frozen evaluation set when both have it, else own splits."""
    for key, words in (("frozen_mae", "Frozen-set MAE"), ("test_mae", "Test MAE")):
        old, new = before.metrics.get(key), after.metrics.get(key)
        if old is not None and new is not None:
            pct = f" ({(new - old) / old:+.1%})" if old else ""
            return f" {words} ₹{old:,.0f} → ₹{new:,.0f}{pct}."
    return ""


def safe_snapshot(client: MlflowClient, model: str) -> tuple[ChampionSnapshot | None, str]:
    """Like `snapshot`, but an unreadable MLflow is a message, not an exception."""
    try:
        return snapshot(client, model), ""
    except MlflowError as exc:
        return None, str(exc)


#: The training DAG's last task: it returns the gate's outcome (carprice.pipeline.promote).
OUTCOME_TASK = "promote"


def outcome_change(outcome: dict[str, Any] | None) -> ChampionChange | None:
    """What a finished run decided, from the outcome its `promote` task recorded in Airflow
    (any session can read it, not only the one that pressed *Retrain*); None if none."""
    if not isinstance(outcome, dict) or "version" not in outcome:
        return None
    version, previous = outcome["version"], outcome.get("previous_champion")
    was = f"v{previous}" if previous else "none"
    reason = outcome.get("reason") or ""
    gate = f" Gate: {reason}." if reason else ""
    if outcome.get("promoted"):
        head = f"New champion v{version} (was {was}).{gate}"
    elif outcome.get("awaiting_approval"):
        head = f"v{version} waits as challenger for an operator's approval.{gate}"
    else:
        live = f"v{previous} stays live" if previous else "no champion is live"
        head = f"Champion unchanged: {live}. The new model is challenger v{version}.{gate}"
    rows = []
    for metric in ("mae", "mape"):
        before, after = outcome.get(f"champion_{metric}"), outcome.get(f"candidate_{metric}")
        if before is None and after is None:
            continue
        change = after - before if before is not None and after is not None else None
        rows.append({"metric": f"gate_{metric}", "before": before, "after": after,
                     "change": change})  # fmt: skip
    deltas = pd.DataFrame(rows, columns=["metric", "before", "after", "change"])
    return ChampionChange(bool(outcome.get("promoted")), head, deltas)


def watch_for(run: DagRun, before: ChampionSnapshot | None = None, problem: str = "") -> dict:
    """Session state for following `run`; `before` only in the session that triggered it."""
    import time

    return {
        "dag_id": run.dag_id, "run_id": run.run_id, "started": time.time(),
        "before": before, "mlflow_problem": problem, "final": None, "change": None,
    }  # fmt: skip


# --------------------------------------------------------------------------- approve, rollback


@dataclass(frozen=True)
class RegistryState:
    """What the approve and rollback buttons act on."""

    champion: ModelVersion | None
    challenger: ModelVersion | None

    @property
    def rollback_target(self) -> str | None:
        """The version a rollback restores: recorded when the champion went live."""
        if self.champion is None:
            return None
        tags = self.champion.tags
        return tags.get(ROLLBACK_TO_TAG) or tags.get(REPLACED_TAG) or None

    @property
    def can_approve(self) -> bool:
        return self.challenger is not None and (
            self.champion is None or self.challenger.version != self.champion.version
        )


def registry_state(client: MlflowClient, model: str) -> RegistryState:
    return RegistryState(
        client.get_version_by_alias(model, CHAMPION), client.get_version_by_alias(model, CHALLENGER)
    )


def version_line(mv: ModelVersion, alias: str) -> str:
    """One line on a version: since when it is live and how, or what the gate said."""
    tags = mv.tags
    if alias == CHAMPION:
        since = (tags.get(LIVE_SINCE_TAG) or "")[:16].replace("T", " ")
        how = tags.get(PROMOTION_TAG) or "gate"
        line = f"**Champion v{mv.version}**" + (f" · live since {since} UTC" if since else "")
        line += f" · by {how}"
        if tags.get(REPLACED_TAG):
            line += f" · replaced v{tags[REPLACED_TAG]}"
        return line
    waiting = tags.get("gate.awaiting_approval") == "true"
    line = f"**Challenger v{mv.version}**" + (" · waits for approval" if waiting else "")
    if tags.get("gate.reason"):
        line += f" · gate: {tags['gate.reason']}"
    return line
