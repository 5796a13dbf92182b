"""The `model_monitor` run: summarise a window of the quote log against the champion, write
the report to the lake, log the figures to MLflow, decide whether a retrain is due and, if it
is, export the matched sales as a training dataset.

Kept apart from `carprice.monitoring` (pure figures) because this module does the I/O: the
quote log database, the registry, the lake and MLflow. The DAG's tasks call `summarise`
and nothing else; `python -m carprice.monitor` runs the same thing from a shell.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from carprice import lake, monitoring, names
from carprice.monitor_report import render
from carprice.schema import OWNER_LABELS, RAW_COLUMNS, TARGET

MONITOR_EXPERIMENT = "car_price_monitor"
_OWNER_BY_RANK = {rank: label for label, rank in OWNER_LABELS.items()}


@dataclass(frozen=True)
class Thresholds:
    """When a retrain is due. Defaults are the DAG's Param defaults."""

    mape_points: float = 5.0  # live MAPE above the champion's test MAPE by this many points
    min_sales: int = 30  # … measured on at least this many matched sales
    drift_features: int = 2  # or at least this many inputs in the major PSI band
    min_quotes: int = 50  # drift needs this many quotes in the window


def decide(summary: dict[str, Any], test_mape: float | None, t: Thresholds) -> dict[str, Any]:
    """Whether to retrain, with every reason that was met (or why not)."""
    reasons: list[str] = []
    live = summary["accuracy"]
    if live["sales"] >= t.min_sales and live["mape"] is not None and test_mape is not None:
        gap = 100 * (live["mape"] - test_mape)
        if gap > t.mape_points:
            reasons.append(
                f"live MAPE {live['mape']:.1%} on {live['sales']} sales is {gap:.1f} points "
                f"above the champion's test MAPE {test_mape:.1%} (threshold {t.mape_points:g})"
            )
    drift = summary["drift"]
    major = [name for name, f in drift.get("features", {}).items() if f["band"] == "major"]
    if summary["quotes"] >= t.min_quotes and len(major) >= t.drift_features:
        reasons.append(
            f"{len(major)} inputs drifted (PSI ≥ 0.25: {', '.join(sorted(major))}; "
            f"threshold {t.drift_features})"
        )
    if reasons:
        return {"retrain": True, "reasons": reasons}
    why = (
        f"{live['sales']} sales (accuracy needs {t.min_sales}), {summary['quotes']} quotes, "
        f"{len(major)} drifted inputs (needs {t.drift_features}): no threshold crossed"
    )
    return {"retrain": False, "reasons": [why]}


def _spec(value: Any, fmt: str) -> str:
    return "" if value is None or pd.isna(value) else fmt.format(value)


def sales_as_raw(frame: pd.DataFrame) -> pd.DataFrame:
    """Matched sales as car_details_v3 rows (the sale price as `selling_price`, specs as the
    quote priced them), so the pipeline cleans them like the rest of its training data."""
    sold = frame[frame["sale_price"].notna()]
    rows = []
    for _, q in sold.iterrows():
        car = q["inputs"] or {}
        name = car.get("name") or " ".join(
            str(car[k]) for k in ("brand", "model", "variant") if car.get(k)
        )
        gas = car.get("fuel") in ("CNG", "LPG")
        rows.append(
            {
                "name": name,
                "year": _spec(car.get("year"), "{:.0f}"),
                TARGET: round(float(q["sale_price"])),
                "km_driven": _spec(car.get("km_driven"), "{:.0f}"),
                "fuel": car.get("fuel"),
                "seller_type": car.get("seller_type"),
                "transmission": car.get("transmission"),
                "owner": _OWNER_BY_RANK.get(car.get("owner_rank"), ""),
                "mileage": _spec(car.get("mileage_kmpl"), "{:g} km/kg" if gas else "{:g} kmpl"),
                "engine": _spec(car.get("engine_cc"), "{:.0f} CC"),
                "max_power": _spec(car.get("max_power_bhp"), "{:g} bhp"),
                "torque": _spec(car.get("torque_nm"), "{:g}Nm@ ")
                + _spec(car.get("torque_rpm"), "{:.0f}rpm"),
                "seats": _spec(car.get("seats"), "{:.0f}"),
            }
        )
    columns = ["name", "year", TARGET, *[c for c in RAW_COLUMNS if c not in ("name", "year")]]
    return pd.DataFrame(rows, columns=columns)


def sales_uri(lake_root: str, day: str) -> str:
    return lake.join(lake_root, names.SALES_PREFIX, day, "sales.csv")


def report_uri(lake_root: str, day: str) -> str:
    return lake.join(lake_root, names.MONITOR_REPORTS_PREFIX, f"{day}.html")


def summarise(
    *,
    days: int = 7,
    until: datetime | None = None,
    thresholds: Thresholds | None = None,
    requested: str = "schedule",
) -> dict[str, Any]:
    """One monitor run over the `days` before `until` (default now): figures, report, MLflow
    run, decision, and (when a retrain is due) the sales dataset. Returns what the DAG needs."""
    import mlflow

    from carprice import registry
    from carprice.quotelog.store import QuoteStore
    from carprice.settings import get_settings

    settings, t = get_settings(), thresholds or Thresholds()
    until = until or datetime.now(UTC)
    since = until - timedelta(days=days)
    store = QuoteStore.from_url(settings.database_url)
    store.migrate()  # a fresh database has no tables until the API has started once
    frame = store.quotes_frame(since, until)
    refused = store.count_refusals(since, until)
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    mlflow.set_registry_uri(settings.mlflow_tracking_uri)  # not one a caller set before
    try:
        model, version = registry.load(settings.model_name, settings.model_alias)
    except mlflow.exceptions.MlflowException as exc:  # a fresh stack: nothing to watch yet
        reason = f"no {settings.model_name}@{settings.model_alias} to monitor yet ({exc})"
        return {"window": {"since": since.isoformat(), "until": until.isoformat()},
                "champion": None, "quotes": len(frame), "retrain": False,
                "reasons": [reason[:500]], "sales_uri": None, "report_uri": None}  # fmt: skip
    summary = monitoring.summary(
        monitoring.with_inputs(frame), model.drift_reference, refused=refused
    )
    test_mape = model.metrics.get("mape")
    decision = decide(summary, test_mape, t)
    day = until.strftime("%Y-%m-%d")
    out: dict[str, Any] = {
        "window": {"since": since.isoformat(), "until": until.isoformat()},
        "champion": version,
        "test_mape": test_mape,
        "quotes": summary["quotes"],
        "refused": summary["refused"],
        "sales": summary["sales"],
        "live": summary["accuracy"],
        "drift": summary["drift"]["verdict"],
        **decision,
        "report_uri": report_uri(settings.lake_root, day),
        "sales_uri": None,
    }
    if decision["retrain"]:
        sales = sales_as_raw(frame)
        if len(sales):
            out["sales_uri"] = sales_uri(settings.lake_root, day)
            lake.write_bytes(out["sales_uri"], sales.to_csv(index=False).encode())
    html = render(summary, decision, champion=version, test_mape=test_mape, window=out["window"])
    lake.write_bytes(out["report_uri"], html.encode())
    mlflow.set_experiment(MONITOR_EXPERIMENT)
    with mlflow.start_run(run_name=f"monitor {day}") as run:
        mlflow.log_params({f"threshold_{k}": v for k, v in asdict(t).items()} | {"days": days})
        figures = {k: summary[k] for k in ("quotes", "refused", "sales")} | {
            f"live_{k}": v for k, v in summary["accuracy"].items() if k != "sales" and v is not None
        }
        figures |= {f"rate_{k}": v for k, v in summary["rates"].items() if v is not None}
        figures |= {f"psi_{n}": f["psi"] for n, f in summary["drift"].get("features", {}).items()}
        mlflow.log_metrics(figures)
        mlflow.set_tags({"champion": version, "retrain": str(decision["retrain"]).lower(),
                         "drift": summary["drift"]["verdict"], "requested_by": requested,
                         "reasons": " | ".join(decision["reasons"])[:5000]})  # fmt: skip
        mlflow.log_text(html, "monitor_report.html")
        mlflow.log_dict(summary, "monitor_summary.json")
        out["mlflow_run_id"] = run.info.run_id
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps(summarise(days=args.days, requested="cli"), indent=2, default=str))


if __name__ == "__main__":
    main()
