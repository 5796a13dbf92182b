"""The monitor's HTML report: one self-contained page (no scripts, no external files) that a
person can open from the lake or from the MLflow run, saying what was measured and decided."""

from __future__ import annotations

from html import escape
from typing import Any

_STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:60rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;
padding:.3rem .6rem;text-align:right}th{background:#f3f3f3}td:first-child{text-align:left}
.major{background:#fdd}.moderate{background:#ffe9bf}.retrain{color:#a00}"""


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _rupees(value: float | None) -> str:
    return "–" if value is None else f"₹{value:,.0f}"


def _count(refused: int | None) -> str:
    return "" if refused is None else f" ({refused:,} rows)"


def _table(head: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    cells = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        f'<tr class="{escape(c)}">' + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>"
        for row, c in zip(rows, classes or [""] * len(rows), strict=True)
    )
    return f"<table><tr>{cells}</tr>{body}</table>"


def _accuracy_rows(groups: list[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    return [
        [label, str(g.get("quotes", "")), str(g["sales"]), _rupees(g["mae"]), _pct(g["mape"]),
         _pct(g["median_ape"]), _pct(g["coverage"])]
        for label, g in groups
    ]  # fmt: skip


def render(
    summary: dict[str, Any],
    decision: dict[str, Any],
    *,
    champion: str,
    test_mape: float | None,
    window: dict[str, str],
) -> str:
    """The report for one monitor run."""
    verdict = "Retrain triggered" if decision["retrain"] else "No retrain"
    head = ["", "quotes", "sales", "MAE", "MAPE", "median APE", "80% coverage"]
    overall = _accuracy_rows([("all", {"quotes": summary["quotes"], **summary["accuracy"]})])
    versions = _accuracy_rows([(f"v{v}", g) for v, g in summary["by_model_version"].items()])
    weeks = _accuracy_rows([(w["week"], w) for w in summary["by_week"]])
    drift = summary["drift"]
    features = drift.get("features", {})
    drift_rows = [
        [name, f.get("kind", ""), f"{f['psi']:.3f}", f["band"],
         ", ".join(f"{c['value']} {c['change_points']:+.1f} pts"
                   for c in f.get("share_changes", [])[:3])
         or f"median {f.get('median')} (training {f.get('train_median')})"]
        for name, f in features.items()
    ]  # fmt: skip
    rates = summary["rates"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Model monitor {escape(window['until'][:10])}</title><style>{_STYLE}</style>",
        "</head><body>",
        "<h1>Model monitor</h1>",
        f"<p>Window {escape(window['since'])} → {escape(window['until'])}; champion "
        f"v{escape(champion)}, whose test MAPE was {_pct(test_mape)}.</p>",
        f"<h2 class='{'retrain' if decision['retrain'] else ''}'>{verdict}</h2><ul>",
        *(f"<li>{escape(r)}</li>" for r in decision["reasons"]),
        "</ul><h2>Live accuracy (quotes with a recorded sale)</h2>",
        _table(head, overall),
        "<h3>By model version</h3>",
        _table(head, versions),
        "<h3>By week</h3>",
        _table(head, weeks),
        f"<p>Out of the training range: {_pct(rates['out_of_range'])} of quotes. "
        f"Refused with a reason: {_pct(rates['refused'])} of the rows asked for"
        f"{_count(summary.get('refused'))}.</p>",
        f"<h2>Input drift: {escape(drift['verdict'])}</h2>",
        "<p>PSI against the champion's training data: below 0.1 stable, 0.1–0.25 moderate, "
        "0.25 and above major.</p>",
        _table(
            ["input", "kind", "PSI", "band", "what moved"],
            drift_rows,
            [f["band"] for f in features.values()],
        ),  # fmt: skip
        "</body></html>",
    ]
    return "\n".join(parts)
