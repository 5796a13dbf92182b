"""Pieces behind the Pipelines page: Airflow client auth, trigger conf and who asked.

The Airflow client is apache-airflow-client underneath; Airflow is faked by a handler served
on a loopback port (tests/dashboard/fake_http.py).
"""

from __future__ import annotations

import json
import re
import time

import httpx
import pytest
from pydantic import SecretStr

from dashboard import pipeline_watch as pw
from dashboard.clients.airflow_client import (
    AirflowAuthError,
    AirflowClient,
    AirflowError,
    AirflowUnavailable,
    DagRun,
    topological,
)
from tests.dashboard.fake_http import serve
from tests.dashboard.test_pipelines import AIRFLOW_PASSWORD, DAG, TOKEN, FakeAirflow, dag_json
from tests.servers import free_port

PASSWORD = "very-Secret-pw1"


def _client(handler, timeout: float = 30.0) -> AirflowClient:  # noqa: ANN001
    return AirflowClient(serve(handler).url, "admin", SecretStr(PASSWORD), timeout=timeout)


def test_token_is_fetched_once_and_refreshed_after_401() -> None:
    tokens = iter(["t1", "t2"])
    issued: list[str] = []
    valid = {"t2"}  # t1 "expires" before its first use

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            assert json.loads(request.content) == {"username": "admin", "password": PASSWORD}
            issued.append(next(tokens))
            return httpx.Response(201, json={"access_token": issued[-1]})
        if request.headers["authorization"].removeprefix("Bearer ") not in valid:
            return httpx.Response(401, json={"detail": "expired"})
        return httpx.Response(200, json={"dags": [dag_json("d", False)], "total_entries": 1})

    client = _client(handler)
    assert [d["dag_id"] for d in client.list_dags()] == ["d"]
    assert [d["dag_id"] for d in client.list_dags()] == ["d"]
    assert issued == ["t1", "t2"]  # one refresh, then the token is reused


def test_secrets_stay_out_of_repr_and_errors() -> None:
    client = _client(lambda r: httpx.Response(401, json={"detail": "Invalid credentials"}))
    assert PASSWORD not in repr(client)
    with pytest.raises(AirflowAuthError) as err:
        client.list_dags()
    assert PASSWORD not in str(err.value)


def test_unreachable_airflow_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    client = AirflowClient(url, "admin", SecretStr(PASSWORD))
    with pytest.raises(AirflowUnavailable, match=f"unreachable at {re.escape(url)}"):
        client.health()


def test_missing_credentials_never_call_airflow() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    client = AirflowClient(serve(fail).url, "admin", None)
    assert not client.has_credentials
    with pytest.raises(AirflowAuthError, match="not configured"):
        client.list_dags()


def test_trigger_sends_logical_date_null_and_reads_the_run() -> None:
    """Airflow 3 requires the `logical_date` key; the generated model must not drop it."""
    airflow = FakeAirflow()
    client = AirflowClient(serve(airflow).url, "admin", SecretStr(AIRFLOW_PASSWORD))
    run = client.trigger(DAG, {"trials": 2}, note="from a test")
    post = next(r for r in airflow.requests if r.method == "POST" and "dagRuns" in r.url.path)
    body = json.loads(post.content)
    assert body == {"logical_date": None, "conf": {"trials": 2}, "note": "from a test"}
    assert post.headers["authorization"] == f"Bearer {TOKEN}"
    assert (run.dag_id, run.run_id, run.state, run.run_type) == (DAG, "manual__1", "queued",
                                                                  "manual")  # fmt: skip
    assert f"{run.state} {run.run_type}" == "queued manual"  # plain text, not DagRunState.…
    assert run.start_date is not None and run.start_date.startswith("2026-11-26T10:00:00")
    states = client.task_states(DAG, "manual__1")
    assert [(t.task_id, t.state) for t in states][:2] == [("ingest", "running"), ("clean", None)]
    assert f"{states[0].state}" == "running"


def test_refusals_keep_airflows_reason() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "t"})
        return httpx.Response(409, json={"detail": "DAG run manual__1 already exists"})

    with pytest.raises(AirflowError) as err:
        _client(refuse).trigger("d", {})
    assert str(err.value) == (
        "Airflow refused POST /api/v2/dags/d/dagRuns (HTTP 409): DAG run manual__1 already exists"
    )
    assert err.value.status == 409


def test_a_slow_airflow_times_out_without_retrying() -> None:
    calls: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        time.sleep(2.0)
        return httpx.Response(200, json={})

    started = time.monotonic()
    with pytest.raises(AirflowUnavailable, match="did not answer in time"):
        _client(slow, timeout=0.5).health()
    assert time.monotonic() - started < 1.8
    assert calls == ["/api/v2/monitor/health"]  # asked once: no retries


def test_a_dropped_connection_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nor routed through a proxy from the environment (the client talks to Airflow directly)."""
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{free_port()}")
    calls: list[str] = []

    def drop(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        raise httpx.RemoteProtocolError("gone")

    server = serve(drop)
    with pytest.raises(AirflowUnavailable, match=f"unreachable at {re.escape(server.url)}"):
        AirflowClient(server.url, "admin", SecretStr(PASSWORD)).health()
    assert calls == ["/api/v2/monitor/health"]


def test_an_answer_that_is_not_airflows_api_is_an_airflow_error() -> None:
    def odd(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "t"})
        return httpx.Response(200, json={"dags": [{"dag_id": "d"}]})  # fields missing

    with pytest.raises(AirflowError, match="cannot read"):
        _client(odd).list_dags()


def test_who_asked_for_a_run() -> None:
    conf = pw.with_requester({"trials": 3, "requested_by": "typed-in-a-form"}, "ana@corp.test")
    assert conf == {"trials": 3, "requested_by": "ana@corp.test"}  # the form can't override it
    assert pw.requested_note("local") == "Requested by local from the CarPrice dashboard"

    def run(conf: dict, run_type: str = "manual") -> DagRun:
        return DagRun(DAG, "r1", "success", run_type, None, None, None, conf)

    assert pw.requester(run(conf)) == "ana@corp.test"
    assert pw.requester(run({}, "scheduled")) == "the schedule"
    assert pw.requester(run({"requested_by": ""})) == "unknown (not started from the dashboard)"
    overview = pw.runs_overview([{"dag_id": DAG, "is_paused": False}], {DAG: [run(conf)]})
    assert overview.loc[0, "requested by"] == "ana@corp.test"


def test_conf_sends_only_changed_params() -> None:
    fields = pw.param_fields(
        {
            "params": {
                "trials": {"value": 30, "schema": {"type": "integer"}},
                "data_uri": {"value": None, "schema": {"type": ["null", "string"]}},
                "fast": {"value": False, "schema": {}},
                "extra_data": {"value": [], "schema": {"type": "array"}},
            }
        }  # fmt: skip
    )
    assert [f["type"] for f in fields] == ["integer", "string", "boolean", "array"]
    assert pw.conf_from_form(fields, {"trials": 30, "data_uri": "  ", "fast": False}) == {}
    # A list Param is typed one item per line: left empty it is not sent, filled it is a list.
    assert pw.conf_from_form(fields, {"extra_data": ""}) == {}
    assert pw.conf_from_form(fields, {"extra_data": " s3://d/a.csv \n\ns3://d/b.csv"}) == {
        "extra_data": ["s3://d/a.csv", "s3://d/b.csv"]
    }
    assert pw.conf_from_form(fields, {"trials": 2, "data_uri": " s3://d/x.csv ", "fast": True}) == {
        "trials": 2,
        "data_uri": "s3://d/x.csv",
        "fast": True,
    }


def test_tasks_in_dependency_order() -> None:
    graph = {
        "register": [],
        "ingest": ["clean"],
        "clean": ["tune", "profile"],
        "tune": ["register"],
        "profile": [],
    }
    assert topological(graph) == ["ingest", "clean", "profile", "tune", "register"]
    # The smallest ready name next, even one that just became ready: a before c, b after a.
    assert topological({"c": [], "a": ["b"], "b": []}) == ["a", "b", "c"]
    assert topological({}) == []


def test_champion_comparison_without_a_previous_champion() -> None:
    before = pw.ChampionSnapshot(None)
    after = pw.ChampionSnapshot("1", "r1", {"test_mae": 75_000.0})
    change = pw.compare(before, after)
    assert change.changed and change.headline.startswith("New champion v1 (was none).")
    assert change.deltas.loc[0, "after"] == 75_000.0 and change.deltas["change"].isna().all()


def test_param_labels() -> None:
    assert pw.param_label("data_uri") == "Data URI"
    assert pw.param_label("max_rounds") == "Max rounds"
    assert pw.param_label("trials") == "Trials"


def test_a_new_champion_is_compared_on_the_frozen_set_first() -> None:
    before = pw.ChampionSnapshot("1", "r1", {"frozen_mae": 70_000.0, "test_mae": 66_000.0})
    after = pw.ChampionSnapshot("2", "r2", {"frozen_mae": 68_000.0, "test_mae": 69_000.0})
    change = pw.compare(before, after)
    assert "Frozen-set MAE ₹70,000 → ₹68,000 (-2.9%)" in change.headline
    assert list(change.deltas["metric"])[:2] == ["frozen_mae", "test_mae"]


def test_outcome_from_the_promote_task_reads_as_words() -> None:
    waiting = {"version": "5", "promoted": False, "awaiting_approval": True,
               "previous_champion": "4", "reason": "beats the champion beyond noise: x",
               "candidate_mae": 66_000.0, "champion_mae": 68_000.0}  # fmt: skip
    change = pw.outcome_change(waiting)
    assert change is not None and not change.changed
    assert change.headline.startswith("v5 waits as challenger for an operator's approval.")
    promoted = pw.outcome_change({**waiting, "promoted": True, "awaiting_approval": False})
    assert promoted.changed and promoted.headline.startswith("New champion v5 (was v4).")
    assert pw.outcome_change(None) is None and pw.outcome_change({"x": 1}) is None
