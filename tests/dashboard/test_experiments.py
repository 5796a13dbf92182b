"""Experiments page: AppTest against a real MLflow server, plus a fake MLflow for the edges.

The real server gets its runs from this module (a training run with trial children, a
registered model with champion and challenger aliases) under names no other test uses.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from carprice.names import CHALLENGER, CHAMPION, REPORT_ARTIFACT
from carprice.names import EXPERIMENT as CAR_PRICE_EXPERIMENT
from dashboard import connections
from dashboard.clients.mlflow_client import MlflowClient as DashboardMlflow
from dashboard.config import get_dashboard_settings
from tests.dashboard.fake_http import serve

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "views" / "experiments.py")
_SUFFIX = uuid.uuid4().hex[:8]  # the MLflow server may be shared with other tests
EXPERIMENT = f"dash_experiments_{_SUFFIX}"
MODEL = f"dash_experiments_model_{_SUFFIX}"
SOLO_MODEL = f"dash_experiments_solo_{_SUFFIX}"  # a champion and no challenger


def _report(scale: float, electric: bool = False) -> list[dict]:
    """An evaluation report as carprice.report builds it (groups in its sorted order)."""
    rows = [
        ("brand", "Hyundai", 30, 60_000.0, 0.14, 0.10),
        ("brand", "Maruti", 90, 40_000.0, 0.11, 0.08),
        ("price decile", "D01 ₹50,000–₹1,50,000", 12, 20_000.0, 0.22, 0.15),
        ("price decile", "D02 ₹1,50,000–₹2,00,000", 12, 25_000.0, 0.15, 0.12),
        ("price decile", "D10 ₹9,00,000–₹40,00,000", 12, 250_000.0, 0.12, 0.09),
        ("fuel", "Diesel", 70, 55_000.0, 0.12, 0.09),
        ("fuel", "Petrol", 50, 45_000.0, 0.13, 0.10),
        ("age band", "0–3 years", 20, 90_000.0, 0.09, 0.07),
        ("age band", "11–15 years", 30, 30_000.0, 0.18, 0.13),
        ("age band", "4–6 years", 70, 50_000.0, 0.12, 0.09),
        ("variant", "seen in training", 100, 50_000.0, 0.12, 0.09),
        ("variant", "unseen in training", 20, 90_000.0, 0.20, 0.15),
    ]
    if electric:
        rows.append(("fuel", "Electric", 3, 120_000.0, 0.30, 0.28))
    return [
        {"dimension": d, "group": g, "rows": n, "mae": mae * scale, "mape": mape * scale,
         "median_ape": med * scale}
        for d, g, n, mae, mape, med in rows
    ]  # fmt: skip


#: What the two seeded training runs logged as their evaluation report.
REPORTS = {"train-0": _report(1.0), "train-1": _report(1.25, electric=True)}


@dataclass
class Seeded:
    url: str
    experiment_id: str
    parent_ids: list[str]
    trial_ids: list[str]
    champion_run: str
    challenger_run: str


@pytest.fixture(scope="module")
def mlflow_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The shared session MLflow server if the plugin offers one, else one of our own."""
    try:
        return request.getfixturevalue("mlflow_sqlite_server").url
    except pytest.FixtureLookupError:
        from tests.servers import start_mlflow_server

        base = tmp_path_factory.mktemp("dash_mlflow")
        server = start_mlflow_server(
            f"sqlite:///{base / 'mlflow.db'}",
            str(base / "artifacts"),
            log_path=base / "mlflow.log",
            workdir=base,
        )
        request.addfinalizer(server.stop)
        return server.url


@pytest.fixture(scope="module")
def seeded(mlflow_url: str) -> Seeded:
    """Two training runs with three trials each; v1 champion, v2 challenger. Each training
    run logs an evaluation report table (REPORTS) as the pipeline does; trials have none."""
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(mlflow_url, registry_uri=mlflow_url)
    exp = client.create_experiment(EXPERIMENT)
    now = int(time.time() * 1000)
    parents, trials = [], []
    for i, (mae, depth_base) in enumerate([(80_000.0, 4), (95_000.0, 6)]):
        parent = client.create_run(exp, run_name=f"train-{i}", start_time=now + i * 1000)
        pid = parent.info.run_id
        client.log_batch(
            pid,
            metrics=[Metric("test_mae", mae, now, 0), Metric("test_r2", 0.93 - i / 100, now, 0)],
            params=[Param("trials", "3"), Param("data", "SYNTHETIC.csv")],
        )
        for t in range(3):
            child = client.create_run(
                exp,
                run_name=f"trial-{t:03d}",
                tags={"mlflow.parentRunId": pid},
                start_time=now + i * 1000 + t,
            )
            client.log_batch(
                child.info.run_id,
                metrics=[Metric("val_mae", 100_000.0 + 10_000 * t + i, now, 0)],
                params=[
                    Param("max_depth", str(depth_base + t)),
                    Param("eta", f"{0.05 * (t + 1):.2f}"),
                    Param("subsample", "0.8"),  # identical everywhere: never a difference
                ],
                tags=[RunTag("kind", "trial")],
            )
            client.set_terminated(child.info.run_id)
            trials.append(child.info.run_id)
        client.log_table(pid, pd.DataFrame(REPORTS[f"train-{i}"]), REPORT_ARTIFACT)
        client.set_terminated(pid)
        parents.append(pid)
    client.create_registered_model(MODEL)
    for alias, run_id, verdict in (
        (CHAMPION, parents[0], "promoted"),
        (CHALLENGER, parents[1], "rejected"),
    ):
        mv = client.create_model_version(MODEL, f"runs:/{run_id}/model", run_id=run_id)
        client.set_model_version_tag(MODEL, mv.version, "gate.verdict", verdict)
        client.set_registered_model_alias(MODEL, alias, mv.version)
    client.create_registered_model(SOLO_MODEL)
    mv = client.create_model_version(SOLO_MODEL, f"runs:/{parents[0]}/model", run_id=parents[0])
    client.set_registered_model_alias(SOLO_MODEL, CHAMPION, mv.version)
    return Seeded(mlflow_url, exp, parents, trials, parents[0], parents[1])


@pytest.fixture
def page_env(monkeypatch: pytest.MonkeyPatch, fresh_caches: None) -> Iterator[pytest.MonkeyPatch]:
    """Fresh settings and empty Streamlit caches for each test."""
    monkeypatch.setenv("CARPRICE_DASHBOARD_MODEL_NAME", MODEL)
    monkeypatch.setenv("CARPRICE_DASHBOARD_MLFLOW_UI_URL", "http://mlflow.example:5001")
    yield monkeypatch


def run_page(**session: object) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in session.items():
        at.session_state[key] = value
    return at.run()


def frame(at: AppTest, key: str):  # noqa: ANN201 - a DataFrame
    """A table by its page key (AppTest doesn't keep keys of read-only dataframes)."""
    marks = {"exp_runs": "run_id", "exp_aliases": "champion", "exp_metric_table": None,
             "exp_param_diff": None}  # fmt: skip
    tables = [d.value for d in at.dataframe]
    if key in ("exp_param_diff", "exp_metric_table"):
        wanted = "param" if key == "exp_param_diff" else "metric"
        return next(t for t in tables if t.index.name == wanted)
    return next(t for t in tables if marks[key] in t.columns)


def report_table(at: AppTest):  # noqa: ANN201 - a DataFrame
    """The side-by-side evaluation report (groups as the index)."""
    return next(d.value for d in at.dataframe if d.value.index.name == "group")


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "error", "info", "warning", "caption")
             for e in at.get(kind)]  # fmt: skip
    return "\n".join(str(p) for p in parts)


# --------------------------------------------------------------------------- real MLflow


@pytest.mark.integration
def test_runs_table_lists_parents_with_their_trials(seeded: Seeded, page_env) -> None:
    page_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", seeded.url)
    at = run_page(exp_experiment=EXPERIMENT)
    assert not at.exception, at.exception
    assert not at.error
    table = frame(at, "exp_runs")
    assert len(table) == 8
    # newest training run first, its trials right under it, then the older one
    assert list(table["run"]) == [
        "train-1", "└ trial-000", "└ trial-001", "└ trial-002",
        "train-0", "└ trial-000", "└ trial-001", "└ trial-002",
    ]  # fmt: skip
    assert set(table.loc[table["kind"] == "trial", "parent"]) == {"train-0", "train-1"}
    assert table["param.max_depth"].dtype.kind == "f"  # numbers sort as numbers
    first = table.iloc[0]
    assert first["open"] == (
        f"http://mlflow.example:5001/#/experiments/{seeded.experiment_id}/runs/{first['run_id']}"
    )


@pytest.mark.integration
def test_champion_and_challenger_with_metrics_and_links(seeded: Seeded, page_env) -> None:
    """v1 went live, then v2 replaced it: the champion stands beside the champion it
    replaced; a rejected challenger that waits for nobody is not the comparison."""
    from mlflow import MlflowClient

    from carprice import registry

    model = f"{MODEL}_history"
    client = MlflowClient(seeded.url, registry_uri=seeded.url)
    client.create_registered_model(model)
    for run_id in (seeded.champion_run, seeded.challenger_run, seeded.challenger_run):
        client.create_model_version(model, f"runs:/{run_id}/model", run_id=run_id)
    registry._make_champion(client, model, "1", "gate", "no champion yet", None)
    registry._make_champion(client, model, "2", "approval", "approved by ops", "1")
    client.set_model_version_tag(model, "3", "gate.verdict", "rejected")
    client.set_registered_model_alias(model, CHALLENGER, "3")
    page_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", seeded.url)
    page_env.setenv("CARPRICE_DASHBOARD_MODEL_NAME", model)
    get_dashboard_settings.cache_clear()
    at = run_page(exp_experiment=EXPERIMENT)
    assert not at.exception, at.exception
    aliases = frame(at, "exp_aliases")
    assert list(aliases.columns) == ["champion", "previous champion"]
    assert aliases.loc["test_mae", "champion"] == "₹95,000"
    assert aliases.loc["test_mae", "previous champion"] == "₹80,000"
    cards = {m.label: (m.value, m.proto.delta) for m in at.metric}
    assert cards["Champion · v2"][0] == "₹95,000 MAE"
    assert cards["Previous champion · v1"] == ("₹80,000 MAE", "-15.8% MAE vs champion")
    page = texts(at)
    assert "trained before frozen evaluation sets" in page
    for run_id in (seeded.champion_run, seeded.challenger_run):
        assert f"/#/experiments/{seeded.experiment_id}/runs/{run_id}" in page


@pytest.mark.integration
def test_model_without_challenger(seeded: Seeded, page_env) -> None:
    """MLflow 3 answers a missing alias with 400 INVALID_PARAMETER_VALUE: not an error here."""
    page_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", seeded.url)
    page_env.setenv("CARPRICE_DASHBOARD_MODEL_NAME", SOLO_MODEL)
    get_dashboard_settings.cache_clear()
    at = run_page(exp_experiment=EXPERIMENT)
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert [m.label for m in at.metric] == ["Champion · v1"]  # no previous champion
    assert list(frame(at, "exp_aliases").columns) == ["champion"]


@pytest.mark.integration
def test_compare_two_trials(seeded: Seeded, page_env) -> None:
    page_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", seeded.url)
    at = run_page(exp_experiment=EXPERIMENT, exp_kind="trials")
    assert "Pick two or more runs" in texts(at)
    picker = at.multiselect(key="exp_compare")
    assert len(picker.options) == 6  # trials only
    picked = [o for o in picker.options if o.startswith(("trial-000", "trial-002"))][:2]
    at = picker.set_value(picked).run()
    assert not at.exception, at.exception

    diff = frame(at, "exp_param_diff")
    assert set(diff.index) == {"eta", "max_depth"}  # subsample is the same: not shown
    charts = {c.proto.id: json.loads(c.proto.spec) for c in at.get("plotly_chart")}
    assert len(charts) == 2
    kinds = sorted(t["type"] for spec in charts.values() for t in spec["data"])
    assert "parcoords" in kinds and "scatter" in kinds
    parcoords = next(t for s in charts.values() for t in s["data"] if t["type"] == "parcoords")
    labels = [d["label"] for d in parcoords["dimensions"]]
    assert labels[-1] == "val_mae" and "max_depth" in labels and "subsample" not in labels
    assert at.selectbox(key="exp_metric").value == "val_mae"

    metrics = frame(at, "exp_metric_table")
    assert metrics.shape == (1, 2)

    # trials log no evaluation report: said per run, and no report table
    page = texts(at)
    assert page.count("no report for this run") == 2
    assert "None of the picked runs has an evaluation report" in page
    assert not any(d.value.index.name == "group" for d in at.dataframe)
    assert not at.error


@pytest.mark.integration
def test_compare_two_training_runs_shows_their_reports_side_by_side(
    seeded: Seeded, page_env
) -> None:
    page_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", seeded.url)
    at = run_page(exp_experiment=EXPERIMENT, exp_kind="training runs")
    picker = at.multiselect(key="exp_compare")
    assert [o.split(" · ")[0] for o in picker.options] == ["train-1", "train-0"]
    at = picker.set_value(picker.options).run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    page = texts(at)
    assert "**A** = train-1 · " in page and "**B** = train-0 · " in page
    assert "no report for this run" not in page

    dimension = at.radio(key="exp_report_dimension")
    assert dimension.value == "variant"
    assert dimension.options == ["Seen vs unseen variant", "Price decile", "Brand", "Fuel",
                                 "Age band"]  # fmt: skip
    table = report_table(at)
    assert list(table.index) == ["seen in training", "unseen in training"]
    assert list(table.columns) == [
        "A rows", "A MAPE", "A MAE", "B rows", "B MAPE", "B MAE", "Δ MAPE B−A", "Δ MAE B−A",
    ]  # fmt: skip
    unseen = table.loc["unseen in training"]
    assert unseen["A rows"] == unseen["B rows"] == 20
    assert unseen["A MAPE"] == pytest.approx(25.0)  # train-1 logged 0.25: shown in %
    assert unseen["B MAPE"] == pytest.approx(20.0)
    assert unseen["Δ MAPE B−A"] == pytest.approx(-5.0)
    assert unseen["A MAE"] == pytest.approx(112_500.0)
    assert unseen["Δ MAE B−A"] == pytest.approx(90_000.0 - 112_500.0)

    at = at.radio(key="exp_report_dimension").set_value("price decile").run()
    assert [g[:3] for g in report_table(at).index] == ["D01", "D02", "D10"]  # not D01, D10, D02
    at = at.radio(key="exp_report_dimension").set_value("age band").run()
    assert list(report_table(at).index) == ["0–3 years", "4–6 years", "11–15 years"]
    at = at.radio(key="exp_report_dimension").set_value("fuel").run()
    fuel = report_table(at)
    assert list(fuel.index) == ["Diesel", "Petrol", "Electric"]  # biggest group first
    assert fuel.loc["Electric", "A rows"] == 3  # only train-1 has electric cars
    assert fuel.loc["Electric", ["B rows", "B MAPE", "Δ MAPE B−A"]].isna().all()
    assert not at.exception and not at.error


@pytest.mark.integration
def test_training_run_against_a_trial(seeded: Seeded, page_env) -> None:
    page_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", seeded.url)
    at = run_page(exp_experiment=EXPERIMENT)
    picker = at.multiselect(key="exp_compare")
    picked = [picker.options[0], picker.options[1]]  # train-1 and its first trial
    assert picked[0].startswith("train-1") and picked[1].startswith("trial-000")
    at = picker.set_value(picked).run()
    assert not at.exception and not at.error
    page = texts(at)
    assert "**B** = trial-000 · " in page and page.count("no report for this run") == 1
    table = report_table(at)
    assert list(table.columns) == ["A rows", "A MAPE", "A MAE"]
    assert table.loc["seen in training", "A MAPE"] == pytest.approx(15.0)


@pytest.mark.integration
def test_filter_narrows_the_table(seeded: Seeded, page_env) -> None:
    page_env.setenv("CARPRICE_DASHBOARD_MLFLOW_URL", seeded.url)
    at = run_page(exp_experiment=EXPERIMENT, exp_kind="training runs")
    assert list(frame(at, "exp_runs")["run"]) == ["train-1", "train-0"]
    at.text_input(key="exp_filter").input("train-0").run()
    assert list(frame(at, "exp_runs")["run"]) == ["train-0"]


# --------------------------------------------------------------------------- fake MLflow


def _use_transport(monkeypatch: pytest.MonkeyPatch, handler) -> list[httpx.Request]:  # noqa: ANN001
    """The page's MLflow client pointed at `handler`, served on a loopback port."""
    server = serve(handler)
    client = DashboardMlflow(server.url)
    monkeypatch.setattr(connections, "mlflow_client", lambda: client)
    return server.requests


def test_mlflow_down_is_a_clear_banner(page_env) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    _use_transport(page_env, refuse)
    at = run_page()
    assert not at.exception
    assert len(at.error) == 1
    assert "MLflow is not available" in at.error[0].value
    assert "CARPRICE_DASHBOARD_MLFLOW_URL" in at.error[0].value


def test_mlflow_server_error_is_a_clear_banner(page_env) -> None:
    _use_transport(page_env, lambda r: httpx.Response(503, json={"message": "database is locked"}))
    at = run_page()
    assert not at.exception
    assert "database is locked" in at.error[0].value


def _synthetic_runs(n_parents: int, trials: int) -> list[dict]:
    runs = []
    for p in range(n_parents):
        pid = f"{p:04d}" + "p" * 28
        runs.append(_run_json(pid, f"train-{p:03d}", 1_700_000_000_000 + p * 10_000, {},
                              {"test_mae": 70_000 + p}, {"trials": str(trials)}))  # fmt: skip
        for t in range(trials):
            runs.append(_run_json(
                f"{p:04d}{t:04d}" + "c" * 24, f"trial-{t:03d}", 1_700_000_000_000 + p * 10_000 + t,
                {"mlflow.parentRunId": pid}, {"val_mae": 90_000 + 100 * t + p},
                {"max_depth": str(3 + t % 8), "eta": str(0.01 * (1 + t % 20))},
            ))  # fmt: skip
    return runs


def _run_json(run_id, name, start, tags, metrics, params) -> dict:  # noqa: ANN001
    return {
        "info": {"run_id": run_id, "run_name": name, "experiment_id": "7",
                 "status": "FINISHED", "start_time": start},
        "data": {
            "metrics": [{"key": k, "value": v} for k, v in metrics.items()],
            "params": [{"key": k, "value": v} for k, v in params.items()],
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        },
    }  # fmt: skip


def test_a_thousand_runs_page_through_and_render_quickly(page_env) -> None:
    runs = _synthetic_runs(n_parents=40, trials=24)  # 1,000 runs
    assert len(runs) == 1000
    page_size = 300  # the server decides the page size; the client must follow tokens

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/experiments/search"):
            return httpx.Response(
                200, json={"experiments": [{"experiment_id": "7", "name": CAR_PRICE_EXPERIMENT}]}
            )
        if path.endswith("/runs/search"):
            body = json.loads(request.content)
            start = int(body.get("page_token") or 0)
            end = start + min(page_size, body["max_results"])
            page = {"runs": runs[start:end]}
            if end < len(runs):
                page["next_page_token"] = str(end)
            return httpx.Response(200, json=page)
        if path.endswith("/registered-models/alias"):
            return httpx.Response(
                404, json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such model"}
            )
        return _artifacts(request, {}) or httpx.Response(
            404, json={"message": f"unexpected {path}"}
        )

    seen = _use_transport(page_env, server)
    started = time.perf_counter()
    at = run_page()
    first = time.perf_counter() - started
    assert not at.exception, at.exception
    searches = [r for r in seen if r.url.path.endswith("/runs/search")]
    assert len(searches) == 4  # 300 + 300 + 300 + 100
    table = frame(at, "exp_runs")
    assert len(table) == get_dashboard_settings().experiments_max_rows == 500
    assert "500 of 1,000 matching runs shown" in texts(at)
    assert "No version of" in texts(at)

    picker = at.multiselect(key="exp_compare")
    started = time.perf_counter()
    at = picker.set_value(picker.options[1:6]).run()
    compare = time.perf_counter() - started
    assert not at.exception, at.exception
    assert len(at.get("plotly_chart")) == 2
    assert not at.error, [e.value for e in at.error]
    assert texts(at).count("no report for this run") == 5  # trials: no report artifacts
    # cached: the rerun did not go back to MLflow
    assert len([r for r in seen if r.url.path.endswith("/runs/search")]) == 4
    print(f"\n1,000 runs: first render {first:.2f} s, compare rerun {compare:.2f} s")
    assert first < 20 and compare < 10


def _artifacts(request: httpx.Request, files: dict[str, httpx.Response]) -> httpx.Response | None:
    """MLflow's answers for `download_artifacts`/`list_artifacts` of runs in experiment 7
    (proxied `mlflow-artifacts:` store): `files` maps "<run_id>/<path>" to the file's answer,
    and a listing shows those files; None for any other request."""
    path = request.url.path
    if path.endswith("/runs/get"):
        run_id = request.url.params["run_id"]
        info = {"run_id": run_id, "experiment_id": "7", "status": "FINISHED",
                "artifact_uri": f"mlflow-artifacts:/7/{run_id}/artifacts"}  # fmt: skip
        return httpx.Response(200, json={"run": {"info": info, "data": {}}})
    if path.endswith("/logged-models/search"):  # MLflow 3 also looks for logged models
        return httpx.Response(200, json={"models": []})
    prefix = "/api/2.0/mlflow-artifacts/artifacts"
    if path == prefix:  # a listing: ?path=7/<run_id>/artifacts/<folder>
        run_id, _, folder = request.url.params["path"].split("/", 3)[1:]
        listed = [k.split("/", 1)[1] for k in files if k.startswith(run_id + "/")]
        return httpx.Response(200, json={"files": [
            {"path": p.rsplit("/", 1)[-1], "is_dir": False, "file_size": 100}
            for p in listed if p.rsplit("/", 1)[0] == folder
        ]})  # fmt: skip
    if path.startswith(prefix + "/7/"):
        run_id, _, rest = path.removeprefix(prefix + "/7/").split("/", 2)
        return files.get(f"{run_id}/{rest}", httpx.Response(404, json={"message": "no file"}))
    return None


def test_a_report_that_cannot_be_read_is_an_error_not_missing(page_env) -> None:
    """A report listed for the run but refused by the artifact store (503) is an st.error for
    that run; the other run's report is still shown, and nothing says "no report"."""
    good, bad = "a" * 32, "b" * 32
    table = {"columns": ["dimension", "group", "rows", "mae", "mape", "median_ape"],
             "data": [["variant", "seen in training", 40, 50_000.0, 0.125, 0.09]]}  # fmt: skip
    files = {
        f"{good}/{REPORT_ARTIFACT}": httpx.Response(200, json=table),
        f"{bad}/{REPORT_ARTIFACT}": httpx.Response(503, json={"message": "bucket unavailable"}),
    }
    runs = [_run_json(good, "train-good", 1_700_000_002_000, {}, {"test_mae": 1.0}, {}),
            _run_json(bad, "train-bad", 1_700_000_001_000, {}, {"test_mae": 2.0}, {})]  # fmt: skip

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/experiments/search"):
            return httpx.Response(
                200, json={"experiments": [{"experiment_id": "7", "name": CAR_PRICE_EXPERIMENT}]}
            )
        if path.endswith("/runs/search"):
            return httpx.Response(200, json={"runs": runs})
        if path.endswith("/registered-models/alias"):
            return httpx.Response(
                404, json={"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such model"}
            )
        return _artifacts(request, files) or httpx.Response(404, json={"message": path})

    _use_transport(page_env, server)
    at = run_page()
    picker = at.multiselect(key="exp_compare")
    at = picker.set_value(picker.options).run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "The report of train-bad" in errors[0]
    assert "artifact store" in errors[0]
    page = texts(at)
    assert "**B** = train-bad · bbbbbbbb: *the report could not be read*" in page
    assert "no report for this run" not in page
    shown = report_table(at)
    assert list(shown.columns) == ["A rows", "A MAPE", "A MAE"]
    assert shown.loc["seen in training", "A MAPE"] == pytest.approx(12.5)


# --------------------------------------------------------------------------- pure pieces


def _run(run_id: str, params: dict, metrics: dict | None = None, tags: dict | None = None):  # noqa: ANN202
    from dashboard.clients.mlflow_client import Run

    return Run(run_id, f"train-{run_id}", "1", "FINISHED", 0, params, metrics or {}, tags or {})


def test_param_diff_lists_only_params_not_all_runs_agree_on_with_each_value() -> None:
    from dashboard.experiments_view import param_differences

    runs = [
        _run("a" * 8, {"trials": "3", "eta": "0.8", "seed": "42", "depth": "6"}),
        _run("b" * 8, {"trials": "3", "eta": "0.80", "seed": "42"}),
        _run("c" * 8, {"trials": "30", "eta": "8e-1", "seed": "42", "depth": "6"}),
    ]
    diff = param_differences(runs)
    # trials: equal in two of three runs, so listed with every run's value; eta equal as
    # numbers in all three (0.8, 0.80, 8e-1), seed equal: not listed; depth missing in one.
    assert list(diff.index) == ["depth", "trials"]
    assert list(diff.loc["trials"]) == ["3", "3", "30"]
    assert list(diff.loc["depth"]) == ["6", "—", "6"]


def test_identical_retrains_are_called_identical() -> None:
    from dashboard.experiments_view import identical_retrains

    same = {"seed": "42", "trials": "3", "best_eta": "0.05"}
    tag = {"data.sha256": "ab" * 32}
    runs = [_run("a" * 8, same, tags=tag), _run("b" * 8, dict(same), tags=tag)]
    sentence = identical_retrains(runs)
    assert sentence and "identical retrains" in sentence and "abababababab" in sentence
    assert identical_retrains([runs[0], _run("c" * 8, {**same, "seed": "7"}, tags=tag)]) is None
    other_data = _run("d" * 8, same, tags={"data.sha256": "cd" * 32})
    assert identical_retrains([runs[0], other_data]) is None
    assert identical_retrains([runs[0], _run("e" * 8, same)]) is None  # no checksum: unknown


def test_no_change_in_mae_is_neutral_not_a_red_rise() -> None:
    from dashboard.clients.mlflow_client import ModelVersion
    from dashboard.experiments_view import PREVIOUS, AliasedModel, alias_cards

    def model(alias: str, version: str, mae: float, synthetic: bool = False) -> AliasedModel:
        tags = {"carprice.eval_set": "eval-1", "data.synthetic": str(synthetic).lower()}
        metrics = {"frozen_mae": mae, "frozen_rows": 900.0, "test_mae": mae + 1000}
        return AliasedModel(alias, ModelVersion("m", version, "r", {}, ()),
                            _run(version * 8, {}, metrics, tags))  # fmt: skip

    champion, previous = alias_cards(
        [model(CHAMPION, "2", 68_000.0), model(PREVIOUS, "1", 68_010.0, synthetic=True)]
    )
    assert champion.value == "₹68,000 MAE"
    assert "on frozen set eval-1 (900 cars)" in champion.caption
    assert "own test split ₹69,000" in champion.caption
    assert previous.delta == "no change in MAE vs champion"
    assert (previous.delta_color, previous.delta_arrow) == ("off", "off")
    assert "trained on the synthetic sample" in previous.caption
    _, worse = alias_cards([model(CHAMPION, "2", 68_000.0), model(PREVIOUS, "1", 70_000.0)])
    assert worse.delta == "+2.9% MAE vs champion" and worse.delta_color == "inverse"
