"""Pieces behind the Pipelines page: Airflow client auth, operator check, trigger conf."""

from __future__ import annotations

import json

import httpx
import pytest
from pydantic import SecretStr

from dashboard import pipeline_watch as pw
from dashboard.clients.airflow_client import (
    AirflowAuthError,
    AirflowClient,
    AirflowUnavailable,
    topological,
)

PASSWORD = "very-Secret-pw1"


def _client(handler) -> AirflowClient:  # noqa: ANN001
    return AirflowClient("http://af.test", "admin", SecretStr(PASSWORD),
                         transport=httpx.MockTransport(handler))  # fmt: skip


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
        return httpx.Response(200, json={"dags": [{"dag_id": "d"}], "total_entries": 1})

    client = _client(handler)
    assert client.list_dags() == [{"dag_id": "d"}]
    assert client.list_dags() == [{"dag_id": "d"}]
    assert issued == ["t1", "t2"]  # one refresh, then the token is reused


def test_secrets_stay_out_of_repr_and_errors() -> None:
    client = _client(lambda r: httpx.Response(401, json={"detail": "Invalid credentials"}))
    assert PASSWORD not in repr(client)
    with pytest.raises(AirflowAuthError) as err:
        client.list_dags()
    assert PASSWORD not in str(err.value)


def test_unreachable_airflow_is_a_clear_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(AirflowUnavailable, match="unreachable at http://af.test"):
        _client(refuse).health()


def test_missing_credentials_never_call_airflow() -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    client = AirflowClient("http://af.test", "admin", None, transport=httpx.MockTransport(fail))
    assert not client.has_credentials
    with pytest.raises(AirflowAuthError, match="not configured"):
        client.list_dags()


def test_operator_password_check() -> None:
    secret = SecretStr("op-pass")
    assert pw.operator_ok("op-pass", secret)
    assert not pw.operator_ok("op-pas", secret)
    assert not pw.operator_ok("", secret)
    assert not pw.operator_ok("", SecretStr(""))  # an empty configured password never matches
    assert not pw.operator_ok("anything", None)


def test_conf_sends_only_changed_params() -> None:
    fields = pw.param_fields(
        {
            "params": {
                "trials": {"value": 30, "schema": {"type": "integer"}},
                "data_uri": {"value": None, "schema": {"type": ["null", "string"]}},
                "fast": {"value": False, "schema": {}},
            }
        }  # fmt: skip
    )
    assert [f["type"] for f in fields] == ["integer", "string", "boolean"]
    assert pw.conf_from_form(fields, {"trials": 30, "data_uri": "  ", "fast": False}) == {}
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
