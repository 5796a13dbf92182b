"""Pipelines page with AppTest; Airflow and MLflow answered by fakes on a loopback port.

The fake Airflow speaks the v2 REST shapes the page relies on (token, DAG list, details with
Params, runs, trigger, task instances), complete enough for apache-airflow-client's models,
and walks a triggered run through its states, so the page's live-follow loop, the champion
comparison and every error path run for real. The fakes are served by
`tests/dashboard/fake_http.py` (the clients speak urllib3 and requests, not httpx).
The real-Airflow path is in tests/e2e/test_pipelines*.py.

Roles: the page runs in local mode (operator, requested_by "local") unless a test signs a
user in (tests/dashboard/identity.py): operators retrain, approve and roll back, and each run
or registry change records who asked; science reads the same page without any of the forms,
and a submit from a session whose role no longer allows it triggers nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from streamlit.testing.v1 import AppTest

from carprice.names import CHALLENGER, CHAMPION, MODEL_NAME, TRAINING_DAG
from dashboard import connections
from dashboard.clients.airflow_client import AirflowClient
from dashboard.clients.mlflow_client import MlflowClient
from dashboard.config import get_dashboard_settings
from tests.dashboard.fake_http import serve
from tests.dashboard.identity import PEOPLE, claims, configure_oidc, signed_in

PAGE = str(Path(__file__).resolve().parents[2] / "dashboard" / "views" / "pipelines.py")
AIRFLOW_PASSWORD = "af-Secret-9d1"  # what the dashboard sends to Airflow
TOKEN = "jwt-token-abc123"
TASKS = ["ingest", "clean", "split", "tune", "evaluate", "register"]
DAG = TRAINING_DAG
STARTED = "2026-11-26T10:00:00Z"
RUN_PATH = f"/api/v2/dags/{DAG}/dagRuns/manual__1"
HEALTH = {
    "metadatabase": {"status": "healthy"},
    "scheduler": {"status": "healthy", "latest_scheduler_heartbeat": STARTED},
    "triggerer": {"status": "healthy", "latest_triggerer_heartbeat": STARTED},
    "dag_processor": {"status": "healthy", "latest_dag_processor_heartbeat": STARTED},
}


def dag_json(dag_id: str, paused: bool, **extra: object) -> dict:
    """A DAG as Airflow 3.3's `GET /api/v2/dags` lists it (the fields its models require)."""
    return {"dag_id": dag_id, "dag_display_name": dag_id, "is_paused": paused,
            "is_stale": False, "fileloc": f"/dags/{dag_id}.py", "file_token": "ft",
            "has_import_errors": False, "has_task_concurrency_limits": False,
            "is_backfillable": True, "max_active_tasks": 16, "max_active_runs": 1,
            "max_consecutive_failed_dag_runs": 0, "owners": ["carprice"], "tags": [],
            "timetable_partitioned": False, "timetable_periodic": False, **extra}  # fmt: skip


def task_json(task_id: str, downstream: list[str]) -> dict:
    return {"task_id": task_id, "task_display_name": task_id,
            "downstream_task_ids": downstream, "depends_on_past": False, "extra_links": [],
            "retry_exponential_backoff": 0, "wait_for_downstream": False}  # fmt: skip


def task_instance_json(task_id: str, state: str | None, duration: float | None) -> dict:
    return {"id": "0190a6b2-3c4d-7e8f-9a0b-1c2d3e4f5a6b", "task_id": task_id,
            "task_display_name": task_id, "dag_id": DAG, "dag_display_name": DAG,
            "dag_run_id": "manual__1", "map_index": -1, "try_number": 1, "max_tries": 0,
            "state": state, "duration": duration, "start_date": None, "end_date": None,
            "executor_config": "{}", "pool": "default_pool", "pool_slots": 1,
            "run_after": STARTED}  # fmt: skip


@dataclass
class FakeAirflow:
    """Just enough Airflow 3: the triggered run advances one task per poll."""

    final_state: str = "success"
    refuse_trigger: tuple[int, str] | None = None
    triggered: list[dict] = field(default_factory=list)
    notes: list[str | None] = field(default_factory=list)  # each trigger's DAG run note
    polls: int = 0
    requests: list[httpx.Request] = field(default_factory=list)
    on_success: list = field(default_factory=list)
    outcome: dict | None = None  # what the run's promote task returned (its XCom)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path, method = request.url.path, request.method
        if path == "/api/v2/monitor/health":
            return httpx.Response(200, json=HEALTH)
        if path == "/auth/token":
            body = json.loads(request.content)
            if body == {"username": "admin", "password": AIRFLOW_PASSWORD}:
                return httpx.Response(201, json={"access_token": TOKEN})
            return httpx.Response(401, json={"detail": "Invalid credentials"})
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401, json={"detail": "Not authenticated"})
        if path == "/api/v2/dags":
            dags = [dag_json(DAG, False), dag_json("lake_housekeeping", True)]
            return httpx.Response(200, json={"dags": dags, "total_entries": 2})
        if path == f"/api/v2/dags/{DAG}/details":
            return httpx.Response(200, json=dag_json(DAG, False, catchup=False, concurrency=16,
                render_template_as_native_obj=False, params={
                "trials": {"value": 30, "schema": {"type": "integer", "minimum": 1},
                           "description": "Optuna trials"},
                "data_uri": {"value": "s3://data/raw/car_details_v3.csv",
                             "schema": {"type": "string", "minLength": 1},
                             "description": "Raw CSV"},
                "max_rounds": {"value": None, "schema": {"type": ["null", "integer"],
                               "minimum": 1}, "description": "Optional cap"},
            }))  # fmt: skip
        if path == f"/api/v2/dags/{DAG}/tasks":
            tasks = [task_json(t, TASKS[i + 1 : i + 2]) for i, t in enumerate(TASKS)]
            return httpx.Response(200, json={"tasks": list(reversed(tasks)),
                                             "total_entries": len(tasks)})  # fmt: skip
        if path.endswith("/dagRuns") and method == "POST":
            if self.refuse_trigger:
                status, detail = self.refuse_trigger
                return httpx.Response(status, json={"detail": detail})
            body = json.loads(request.content)
            assert "logical_date" in body and body["logical_date"] is None
            self.triggered.append(body["conf"])
            self.notes.append(body.get("note"))
            return httpx.Response(200, json=self._run("queued"))
        if path.endswith("/dagRuns") and method == "GET":
            runs = [self._run(self._state())] if self.triggered else []
            if path == "/api/v2/dags/lake_housekeeping/dagRuns":
                runs = []
            return httpx.Response(200, json={"dag_runs": runs, "total_entries": len(runs)})
        if path == f"/api/v2/dags/{DAG}/dagRuns/manual__1":
            self.polls += 1
            state = self._state()
            if state == "success" and self.on_success:
                self.on_success.pop()()
            return httpx.Response(200, json=self._run(state))
        if path == f"{RUN_PATH}/taskInstances/promote/xcomEntries/return_value":
            if self.outcome is None or self._state() != "success":
                return httpx.Response(404, json={"detail": "XCom entry not found"})
            return httpx.Response(200, json={"key": "return_value", "task_id": "promote",
                "dag_id": DAG, "dag_display_name": DAG, "run_id": "manual__1", "map_index": -1,
                "task_display_name": "promote", "logical_date": None, "run_after": STARTED,
                "timestamp": STARTED, "value": self.outcome})  # fmt: skip
        if path == f"/api/v2/dags/{DAG}/dagRuns/manual__1/taskInstances":
            return httpx.Response(200, json={"task_instances": self._tasks(),
                                             "total_entries": len(TASKS)})  # fmt: skip
        return httpx.Response(404, json={"detail": f"no route {method} {path}"})

    def _done(self) -> int:
        return min(self.polls, len(TASKS))

    def _state(self) -> str:
        if not self.triggered or self.polls == 0:
            return "queued"
        return "running" if self._done() < len(TASKS) else self.final_state

    def _tasks(self) -> list[dict]:
        out = []
        for i, t in enumerate(TASKS):
            if i < self._done():
                state = "success" if (i < len(TASKS) - 1 or self.final_state == "success") \
                    else "failed"  # fmt: skip
            elif i == self._done():
                state = "running"
            else:
                state = None
            duration = 1.5 if state in ("success", "failed") else None
            out.append(task_instance_json(t, state, duration))
        return out

    def _run(self, state: str) -> dict:
        return {"dag_id": DAG, "dag_display_name": DAG, "dag_run_id": "manual__1",
                "state": state, "run_type": "manual", "run_after": STARTED,
                "start_date": STARTED, "end_date": None, "duration": 42.0,
                "dag_versions": [], "logical_date": None,
                "conf": self.triggered[-1] if self.triggered else {}}  # fmt: skip


@dataclass
class FakeRegistry:
    """MLflow aliases: champion v1 (MAE 80k); after the run, either v2 (MAE 70k) or challenger."""

    champion: str = "1"
    challenger: str | None = None

    def promote(self) -> None:
        self.champion = "2"

    def reject(self) -> None:
        self.challenger = "2"

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/registered-models/alias"):
            alias = request.url.params["alias"]
            version = self.champion if alias == CHAMPION else self.challenger
            if version is None:  # what MLflow 3 answers for a missing alias
                return httpx.Response(400, json={"error_code": "INVALID_PARAMETER_VALUE",
                    "message": f"Registered model alias {alias} not found."})  # fmt: skip
            tags = [{"key": "gate.reason", "value": "test MAE 90,000 does not beat 80,000"}]
            return httpx.Response(200, json={"model_version": {
                "name": MODEL_NAME, "version": version, "run_id": f"run{version}",
                "tags": tags if alias == CHALLENGER else []}})  # fmt: skip
        if path.endswith("/runs/get"):
            run_id = request.url.params["run_id"]
            mae = {"run1": 80_000.0, "run2": 70_000.0}[run_id]
            return httpx.Response(200, json={"run": {
                "info": {"run_id": run_id, "experiment_id": "1"},
                "data": {"metrics": [{"key": "test_mae", "value": mae},
                                     {"key": "test_r2", "value": 0.9}]}}})  # fmt: skip
        return httpx.Response(404, json={"message": "no route"})


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, fresh_caches: None) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("CARPRICE_DASHBOARD_AIRFLOW_PASSWORD", AIRFLOW_PASSWORD)
    monkeypatch.setenv("CARPRICE_DASHBOARD_PIPELINE_POLL_SECONDS", "0.01")
    yield monkeypatch


def wire(mp: pytest.MonkeyPatch, airflow, registry=None) -> str:  # noqa: ANN001
    """Point the page's cached clients at the fakes (password from settings, as in prod);
    return the fake Airflow's URL."""
    settings = get_dashboard_settings()
    airflow_url = serve(airflow).url
    af = AirflowClient(airflow_url, settings.airflow_user, settings.airflow_password)
    ml = MlflowClient(serve(registry or FakeRegistry()).url)
    mp.setattr(connections, "airflow_client", lambda: af)
    mp.setattr(connections, "mlflow_client", lambda: ml)
    return airflow_url


def all_text(at: AppTest) -> str:
    """Everything the page shows, widget labels and values included."""
    parts = []
    for kind in ("markdown", "error", "info", "warning", "success", "caption", "title",
                 "subheader", "text_input", "number_input"):  # fmt: skip
        for e in at.get(kind):
            parts += [str(getattr(e, "value", "")), str(getattr(e, "label", ""))]
    parts += [d.value.to_csv() for d in at.dataframe]
    return "\n".join(parts)


def retrain(at: AppTest, **params: object) -> AppTest:
    for name, value in params.items():
        widget = at.number_input(key=f"pipe_param_{name}") if isinstance(value, int) \
            else at.text_input(key=f"pipe_param_{name}")  # fmt: skip
        widget.set_value(value)
    return at.button(key="pipe_trigger").click().run()


LOCAL = {"requested_by": "local"}  # what every local-mode run's conf carries


def test_lists_dags_with_latest_runs(env) -> None:
    airflow = FakeAirflow()
    wire(env, airflow)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception, at.exception
    dags = at.dataframe[0].value
    assert list(dags["DAG"]) == [DAG, "lake_housekeeping"]
    assert list(dags["paused"]) == [False, True]
    assert set(dags["latest run"]) == {"—"}
    assert at.number_input(key="pipe_param_trials").value == 30
    assert at.text_input(key="pipe_param_data_uri").value == "s3://data/raw/car_details_v3.csv"
    assert at.number_input(key="pipe_param_max_rounds").value is None


def test_science_reads_the_page_but_gets_no_form(env) -> None:
    """The DAG table and the champion are there; retrain, approve and roll back are not."""
    configure_oidc(env)
    airflow = FakeAirflow()
    airflow.triggered.append({"trials": 3, "requested_by": "opal@corp.test"})  # an operator's
    wire(env, airflow, FakeRegistry(challenger="2"))
    at = signed_in(AppTest.from_file(PAGE, default_timeout=60), "science").run()
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value["DAG"]) == [DAG, "lake_housekeeping"]
    assert at.dataframe[0].value.set_index("DAG").loc[DAG, "requested by"] == "opal@corp.test"
    assert any("Retraining is for operators" in i.value for i in at.info)
    assert "Approving a challenger and rolling back are for operators." in all_text(at)
    keys = {b.key for b in at.button} if at.get("button") else set()
    assert not keys & {"pipe_trigger", "pipe_approve", "pipe_rollback"}
    assert not at.get("form") or not any(f.key == "pipe_retrain" for f in at.get("form"))
    assert "Requested by **opal@corp.test**" in all_text(at)  # the run it follows
    assert len(airflow.triggered) == 1  # nothing triggered by this session


def test_a_submit_from_a_role_that_may_not_retrain_triggers_nothing(env) -> None:
    """The form's absence is not the guard: the callback checks the role of the session that
    submits (here an operator's page, submitted after the user became science)."""
    configure_oidc(env)
    airflow = FakeAirflow()
    wire(env, airflow)
    at = signed_in(AppTest.from_file(PAGE, default_timeout=30), "operator").run()
    assert at.button(key="pipe_trigger")
    at.user = claims("science")
    at = at.button(key="pipe_trigger").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["Only operators can retrain: nothing was triggered."]
    assert airflow.triggered == []
    assert not any(r.method == "POST" and "dagRuns" in r.url.path for r in airflow.requests)


def test_a_signed_in_operators_run_records_who_asked(env) -> None:
    configure_oidc(env)
    airflow = FakeAirflow()
    wire(env, airflow)
    at = signed_in(AppTest.from_file(PAGE, default_timeout=60), "operator").run()
    assert "The run records that **opal@corp.test** asked for it." in all_text(at)
    at = retrain(at, trials=2)
    assert not at.exception, at.exception
    assert airflow.triggered == [{"trials": 2, "requested_by": "opal@corp.test"}]
    assert airflow.notes == ["Requested by opal@corp.test from the CarPrice dashboard"]
    page = all_text(at)
    assert "Requested by **opal@corp.test**" in page and "With trials=2" in page
    assert "requested_by=" not in page  # shown once, as who asked, not as a parameter
    assert at.dataframe[0].value.set_index("DAG").loc[DAG, "requested by"] == "opal@corp.test"
    assert PEOPLE["operator"][1] == "opal@corp.test"


def test_retrain_follows_the_run_and_reports_a_new_champion(env) -> None:
    airflow, registry = FakeAirflow(), FakeRegistry()
    airflow.on_success.append(registry.promote)  # the DAG's register task moved the alias
    wire(env, airflow, registry)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    at = retrain(at, trials=2, max_rounds=20)
    assert not at.exception, at.exception
    assert airflow.triggered == [{"trials": 2, "max_rounds": 20, **LOCAL}]  # no defaults sent
    assert airflow.polls >= len(TASKS)  # followed until the end, one task per poll
    page = all_text(at)
    for task in TASKS:
        assert f"`{task}` — success" in page
    assert "is success" in page
    success = [s.value for s in at.success]
    assert any("New champion v2 (was v1)" in s and "₹80,000 → ₹70,000 (-12.5%)" in s
               for s in success), success  # fmt: skip
    deltas = at.dataframe[-1].value.set_index("metric")
    assert list(deltas.loc["test_mae"]) == ["₹80,000", "₹70,000", "−₹10,000"]
    assert list(deltas.loc["test_r2"]) == ["0.9000", "0.9000", "0.0000"]
    dags = at.dataframe[0].value.set_index("DAG")
    assert dags.loc[DAG, "state"] == "success"  # the DAG table was refreshed at the end
    # Airflow credentials and token stay on the server: never on the page.
    for secret in (AIRFLOW_PASSWORD, TOKEN):
        assert secret not in page, "a secret was rendered on the page"

    # A rerun shows the finished outcome again without polling Airflow any more.
    polls = airflow.polls
    at = at.run()
    assert airflow.polls == polls
    assert any("New champion v2" in s.value for s in at.success)


def test_local_mode_retrains_as_local(env) -> None:
    """No identity provider: the one person at this machine is operator, recorded as local."""
    airflow = FakeAirflow()
    wire(env, airflow)
    at = retrain(AppTest.from_file(PAGE, default_timeout=60).run())
    assert not at.exception, at.exception
    assert airflow.triggered == [LOCAL]
    assert airflow.notes == ["Requested by local from the CarPrice dashboard"]
    assert "Requested by **local**" in all_text(at)
    assert not any(t.label == "Operator password" for t in at.text_input)


OUTCOME = {"model": MODEL_NAME, "version": "2", "promoted": False, "awaiting_approval": False,
           "previous_champion": "1", "candidate_mae": 69_382.0, "champion_mae": 70_000.0,
           "candidate_mape": 0.14, "champion_mape": 0.141,
           "reason": "gain ₹618 (0.9%) is within noise: 95% interval [−₹410, ₹1,650]"}  # fmt: skip


def test_another_session_sees_the_latest_run_and_its_outcome(env) -> None:
    """Operator A retrains; B opens Pipelines in its own session and sees the same run,
    followed to its end, with the outcome the run's promote task recorded in Airflow."""
    airflow = FakeAirflow(outcome=OUTCOME)
    wire(env, airflow)
    retrain(AppTest.from_file(PAGE, default_timeout=60).run())
    other = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not other.exception, other.exception
    page = all_text(other)
    assert "Latest retrain" in page and "Run `manual__1` is success" in page
    infos = " ".join(i.value for i in other.info)
    assert "Champion unchanged: v1 stays live. The new model is challenger v2." in infos
    assert "within noise" in infos
    deltas = other.dataframe[-1].value.set_index("metric")
    assert list(deltas.loc["gate_mae"]) == ["₹70,000", "₹69,382", "−₹618"]


def test_a_session_that_opens_during_a_run_follows_it(env) -> None:
    airflow = FakeAirflow()
    airflow.triggered.append({"trials": 3})  # started elsewhere (another session, the CLI)
    wire(env, airflow)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    assert airflow.polls >= len(TASKS)  # followed live to the end
    page = all_text(at)
    assert "With trials=3" in page and "is success" in page
    assert any("promote task recorded no outcome" in w.value for w in at.warning)


def test_rejected_model_keeps_the_champion(env) -> None:
    airflow, registry = FakeAirflow(), FakeRegistry()
    airflow.on_success.append(registry.reject)
    wire(env, airflow, registry)
    at = retrain(AppTest.from_file(PAGE, default_timeout=60).run())
    assert not at.exception, at.exception
    assert airflow.triggered == [LOCAL]
    infos = " ".join(i.value for i in at.info)
    assert "Champion unchanged: v1 stays live" in infos
    assert "challenger v2" in infos and "does not beat" in infos


def test_failed_run_is_reported(env) -> None:
    airflow = FakeAirflow(final_state="failed")
    wire(env, airflow)
    at = retrain(AppTest.from_file(PAGE, default_timeout=60).run())
    assert not at.exception, at.exception
    assert any("ended **failed**" in e.value for e in at.error)
    assert ":red[:material/cancel:] `register` — failed" in all_text(at)


def test_trigger_refused_shows_airflows_reason(env) -> None:
    airflow = FakeAirflow(refuse_trigger=(409, "DAG run manual__1 already exists"))
    wire(env, airflow)
    at = retrain(AppTest.from_file(PAGE, default_timeout=30).run())
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Airflow refused the run" in errors[0]
    assert "HTTP 409" in errors[0] and "already exists" in errors[0]
    assert "pipe_watch" not in at.session_state


def test_airflow_down_is_a_banner_on_this_page_only(env) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    airflow_url = wire(env, refuse)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "Airflow is not available" in at.error[0].value
    assert airflow_url in at.error[0].value
    assert "The other pages keep working" in at.error[0].value


def test_wrong_airflow_credentials_are_explained_not_shown(env) -> None:
    env.setenv("CARPRICE_DASHBOARD_AIRFLOW_PASSWORD", "stale-password-77")
    get_dashboard_settings.cache_clear()
    wire(env, FakeAirflow())
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "rejected the dashboard's credentials" in at.error[0].value
    assert "stale-password-77" not in all_text(at)


def test_a_run_started_elsewhere_says_so(env) -> None:
    """Runs not started from the dashboard (CLI, scheduler) have no requested_by."""
    airflow = FakeAirflow()
    airflow.triggered.append({"trials": 3})
    wire(env, airflow)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "Requested by **unknown (not started from the dashboard)**" in all_text(at)


def test_lost_contact_while_following(env) -> None:
    airflow = FakeAirflow()
    calls = {"n": 0}

    def flaky(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/dagRuns/manual__1"):
            calls["n"] += 1
            if calls["n"] > 2:
                raise httpx.ConnectError("connection refused", request=request)
        return airflow(request)

    wire(env, flaky)
    at = retrain(AppTest.from_file(PAGE, default_timeout=30).run())
    assert not at.exception
    assert any("Lost contact with Airflow" in e.value for e in at.error)


# --------------------------------------------------------------------------- approve, rollback


@pytest.fixture
def real_registry(env, mlflow_sqlite_server) -> tuple[str, str]:  # noqa: ANN001
    """A model on the real MLflow server: v1 then v2 went live through the gate, v3 waits as
    challenger for approval. Returns (MLflow URL, model name)."""
    import uuid

    from mlflow import MlflowClient as Library

    from carprice import registry

    url, model = mlflow_sqlite_server.url, f"dash_pipelines_{uuid.uuid4().hex[:8]}"
    client = Library(url, registry_uri=url)
    exp = client.create_experiment(model)
    client.create_registered_model(model)
    for _ in range(3):
        run = client.create_run(exp).info.run_id
        client.create_model_version(model, f"runs:/{run}/model", run_id=run)
    registry._make_champion(client, model, "1", "gate", "no champion yet", None)
    registry._make_champion(client, model, "2", "gate", "beats the champion beyond noise", "1")
    client.set_model_version_tag(model, "3", "gate.awaiting_approval", "true")
    client.set_model_version_tag(model, "3", "gate.reason", "beats the champion beyond noise: x")
    client.set_registered_model_alias(model, CHALLENGER, "3")
    env.setenv("CARPRICE_DASHBOARD_MODEL_NAME", model)
    get_dashboard_settings.cache_clear()
    settings = get_dashboard_settings()
    af = AirflowClient(serve(FakeAirflow()).url, settings.airflow_user, settings.airflow_password)
    ml = MlflowClient(url)
    env.setattr(connections, "airflow_client", lambda: af)
    env.setattr(connections, "mlflow_client", lambda: ml)
    return url, model


def _submit(at: AppTest, action: str, reason: str = "") -> AppTest:
    at.text_input(key=f"pipe_{action}_reason").input(reason)
    return at.button(key=f"pipe_{action}").click().run()


def test_operator_approves_the_challenger_then_rolls_back(real_registry) -> None:  # noqa: ANN001
    from mlflow import MlflowClient as Library

    url, model = real_registry
    client = Library(url, registry_uri=url)
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception, at.exception
    page = all_text(at)
    assert "Champion v2" in page and "replaced v1" in page
    assert "**Challenger v3** · waits for approval" in page

    at = _submit(at, "approve", "better on last month's sales")
    assert not at.exception, at.exception
    assert any("v3 is champion now (was v2)" in s.value for s in at.success)
    assert client.get_model_version_by_alias(model, CHAMPION).version == "3"
    tags = client.get_model_version(model, "3").tags
    assert tags["carprice.promotion"] == "approval" and tags["carprice.replaced"] == "2"
    assert tags["carprice.promotion_reason"] == "approved by local: better on last month's sales"
    assert not at.get("button") or all(b.key != "pipe_approve" for b in at.button)

    at = _submit(at, "rollback", "")  # a rollback needs a reason
    assert any("say why you roll back" in e.value for e in at.error)
    at = _submit(at, "rollback", "SUVs quoted 20% low")
    assert any("v2 is champion again (v3 off)" in s.value for s in at.success)
    assert client.get_model_version_by_alias(model, CHAMPION).version == "2"
    assert client.get_model_version(model, "3").tags["carprice.rolled_back"] == (
        "rollback by local: SUVs quoted 20% low"
    )
    assert "**Roll back** champion v2 to v1" in all_text(at)


def test_a_signed_in_operators_approval_names_them_and_science_changes_nothing(
    real_registry,  # noqa: ANN001
) -> None:
    from mlflow import MlflowClient as Library

    from tests.dashboard.identity import configure_oidc

    url, model = real_registry
    client = Library(url, registry_uri=url)
    with pytest.MonkeyPatch.context() as mp:
        configure_oidc(mp, MODEL_NAME=model)
        science = signed_in(AppTest.from_file(PAGE, default_timeout=60), "science").run()
        assert not science.exception, science.exception
        assert "**Challenger v3** · waits for approval" in all_text(science)
        assert not any(b.key in ("pipe_approve", "pipe_rollback") for b in science.button)

        at = signed_in(AppTest.from_file(PAGE, default_timeout=60), "operator").run()
        at.user = claims("science")  # demoted between render and submit: refused
        at = _submit(at, "approve", "sneaky")
        assert any("Only operators can approve: nothing changed." in e.value for e in at.error)
        assert client.get_model_version_by_alias(model, CHAMPION).version == "2"

        at.user = claims("operator")
        at = _submit(at.run(), "approve", "better on last month's sales")
        assert not at.exception, at.exception
        assert client.get_model_version_by_alias(model, CHAMPION).version == "3"
        reason = client.get_model_version(model, "3").tags["carprice.promotion_reason"]
        assert reason == "approved by opal@corp.test: better on last month's sales"

        at.user = claims("science")  # and a rollback from a science session changes nothing
        at = _submit(at, "rollback", "sneaky")
        assert any("Only operators can roll back: nothing changed." in e.value for e in at.error)
        assert client.get_model_version_by_alias(model, CHAMPION).version == "3"
