"""Pipelines: DAGs and their latest runs, champion and challenger (science and operators);
retrain, approve and roll back (operators only), then follow the run live."""

from __future__ import annotations

import time
from typing import Any

import streamlit as st

from dashboard import auth, banners, connections
from dashboard import pipeline_watch as pw
from dashboard.clients.airflow_client import AirflowAuthError, AirflowError, DagRun
from dashboard.clients.mlflow_client import MlflowError
from dashboard.config import get_dashboard_settings

who = auth.require_page("pipelines")  # before anything else: refused roles see nothing

settings = get_dashboard_settings()
DAG_ID = settings.pipeline_dag_id


@st.cache_data(ttl=settings.cache_ttl_seconds, show_spinner=False)
def load_overview(url: str) -> tuple[list[dict[str, Any]], dict[str, list[DagRun]]]:
    client = connections.airflow_client()
    dags = client.list_dags()
    return dags, {d["dag_id"]: client.latest_runs(d["dag_id"], limit=8) for d in dags}


@st.cache_data(ttl=settings.cache_ttl_seconds, show_spinner=False)
def load_fields(url: str, dag_id: str) -> list[dict[str, Any]]:
    return pw.param_fields(connections.airflow_client().dag_details(dag_id))


def param_input(field: dict[str, Any]) -> Any:
    """One trigger-form widget per DAG Param, typed from its JSON schema."""
    key, help_ = f"pipe_param_{field['name']}", field["description"] or None
    label = pw.param_label(field["name"])
    default, kind = field["default"], field["type"]
    if kind == "boolean":
        return st.checkbox(label, value=bool(default), key=key, help=help_)
    if kind in ("integer", "number"):
        cast = int if kind == "integer" else float
        return st.number_input(
            label,
            value=None if default is None else cast(default),
            placeholder="empty: the DAG's default" if default is None else None,
            min_value=None if field["minimum"] is None else cast(field["minimum"]),
            max_value=None if field["maximum"] is None else cast(field["maximum"]),
            step=cast(1) if kind == "integer" else None,
            key=key,
            help=help_,
        )
    if kind == "array":
        return st.text_area(
            label,
            value="\n".join(str(v) for v in default or []),
            key=key,
            help=help_,
            placeholder="one per line; empty: none",
        )
    return st.text_input(
        label,
        value="" if default is None else str(default),
        key=key,
        help=help_,
        placeholder="empty: the DAG's default" if default in (None, "") else None,
    )


def on_retrain(fields: list[dict[str, Any]]) -> None:
    """Submit callback: the role is checked again here (the form's absence is not the guard),
    and the run records who asked."""
    state = st.session_state
    asker = auth.current()
    if asker is None or not auth.can(asker.role, "retrain"):
        state["pipe_notice"] = "Only operators can retrain: nothing was triggered."
        return
    values = {f["name"]: state.get(f"pipe_param_{f['name']}") for f in fields}
    conf = pw.with_requester(pw.conf_from_form(fields, values), asker.requested_by)
    before, problem = pw.safe_snapshot(connections.mlflow_client(), settings.model_name)
    try:
        run = connections.airflow_client().trigger(
            DAG_ID, conf, note=pw.requested_note(asker.requested_by)
        )
    except AirflowError as exc:
        state["pipe_notice"] = f"Airflow refused the run: {exc}"
        return
    load_overview.clear()
    state["pipe_watch"] = pw.watch_for(run, before, problem)


def retrain_form(fields: list[dict[str, Any]]) -> None:
    """The DAG's Params as a form; the run is recorded as requested by the signed-in user."""
    with st.form(key="pipe_retrain"):
        for f in fields:
            param_input(f)
        st.caption(f"The run records that **{who.requested_by}** asked for it.")
        st.form_submit_button(
            "Retrain now", type="primary", key="pipe_trigger", on_click=on_retrain, args=(fields,)
        )


def on_registry_action(action: str, version: str) -> None:
    """Approve / rollback submit callback: role checked again, then MLflow, which records
    who did it on the versions."""
    state = st.session_state
    reason = (state.get(f"pipe_{action}_reason") or "").strip()
    asker = auth.current()
    if asker is None or not auth.can(asker.role, action):
        verb = "roll back" if action == "rollback" else action
        state["pipe_registry_notice"] = ("error", f"Only operators can {verb}: nothing changed.")
        return
    client = connections.mlflow_client()
    try:
        if action == "approve":
            done = client.approve(settings.model_name, reason, by=asker.requested_by)
            text = f"v{done['version']} is champion now (was v{done['previous'] or 'none'})."
        else:
            done = client.rollback(settings.model_name, reason, by=asker.requested_by)
            text = f"Rolled back: v{done['version']} is champion again (v{done['previous']} off)."
    except MlflowError as exc:
        state["pipe_registry_notice"] = ("error", f"Nothing changed: {exc}")
        return
    state[f"pipe_{action}_reason"] = ""
    state["pipe_registry_notice"] = ("success", text + " The API picks it up within a minute.")


def registry_actions() -> None:
    """Champion and challenger; approve the challenger, or roll the champion back."""
    st.subheader("Champion and challenger")
    try:
        reg = pw.registry_state(connections.mlflow_client(), settings.model_name)
    except MlflowError as exc:
        st.warning(f"MLflow could not be read, so approve and rollback are unavailable: {exc}")
        return
    for mv, alias in ((reg.champion, "champion"), (reg.challenger, "challenger")):
        if mv is not None:
            st.markdown(pw.version_line(mv, alias))
    if reg.champion is None and reg.challenger is None:
        st.info(f"No version of `{settings.model_name}` is registered yet.")
    notice = st.session_state.pop("pipe_registry_notice", None)
    if notice:
        (st.success if notice[0] == "success" else st.error)(notice[1])
    if not auth.can(who.role, "approve"):
        st.caption("Approving a challenger and rolling back are for operators.")
        return
    left, right = st.columns(2, gap="large")
    if reg.can_approve:
        assert reg.challenger is not None
        with left.form(key="pipe_approve_form"):
            st.markdown(f"**Approve challenger v{reg.challenger.version}** as champion")
            st.text_input("Why (recorded on the version)", key="pipe_approve_reason")
            st.form_submit_button(
                f"Approve v{reg.challenger.version}", key="pipe_approve",
                on_click=on_registry_action, args=("approve", reg.challenger.version),
            )  # fmt: skip
    target = reg.rollback_target
    if reg.champion is not None and target:
        with right.form(key="pipe_rollback_form"):
            st.markdown(f"**Roll back** champion v{reg.champion.version} to v{target}")
            st.text_input("Why (required, recorded on both versions)", key="pipe_rollback_reason")
            st.form_submit_button(
                f"Roll back to v{target}", key="pipe_rollback",
                on_click=on_registry_action, args=("rollback", reg.champion.version),
            )  # fmt: skip


def render_progress(run: DagRun, tasks: list, order: list[str]) -> None:
    icon = pw.STATE_ICONS.get(run.state, pw.STATE_ICONS[None])
    st.markdown(f"**{icon} Run `{run.run_id}` is {run.state or 'being created'}**")
    st.caption(f"Requested by **{pw.requester(run)}**")
    params = {k: v for k, v in run.conf.items() if k != pw.REQUESTED_BY}
    if params:
        st.caption("With " + ", ".join(f"{k}={v}" for k, v in params.items()))
    done = pw.progress(tasks)
    st.progress(done, text=f"{round(done * len(tasks))} of {len(tasks)} tasks finished")
    st.markdown("\n".join(f"- {pw.task_line(t)}" for t in pw.task_rows(tasks, order)))


def follow(watch: dict[str, Any]) -> None:
    """Poll Airflow until the run ends (resumes after any rerun), then show the outcome."""
    client = connections.airflow_client()
    if watch["final"] is None:
        box = st.empty()
        try:
            order = client.task_order(watch["dag_id"])
            while True:
                run = client.get_run(watch["dag_id"], watch["run_id"])
                tasks = client.task_states(watch["dag_id"], watch["run_id"])
                with box.container():
                    render_progress(run, tasks, order)
                if run.finished:
                    break
                if time.time() - watch["started"] > settings.pipeline_watch_timeout:
                    st.warning("Stopped following this run (time limit); it continues in Airflow.")
                    return
                time.sleep(settings.pipeline_poll_seconds)
        except AirflowError as exc:
            st.error(f"Lost contact with Airflow while following the run: {exc} Reload to resume.")
            return
        watch["final"] = (run, tasks, order)
        if run.state == "success" and watch["before"] is not None:
            after, problem = pw.safe_snapshot(connections.mlflow_client(), settings.model_name)
            watch["change"] = pw.compare(watch["before"], after) if after else None
            watch["mlflow_problem"] = problem
        elif run.state == "success":  # a run this session did not start: read its outcome
            try:
                outcome = client.xcom(run.dag_id, run.run_id, pw.OUTCOME_TASK)
            except AirflowError as exc:
                outcome, watch["mlflow_problem"] = None, f"Airflow: {exc}"
            watch["change"] = pw.outcome_change(outcome)
            if watch["change"] is None and not watch["mlflow_problem"]:
                watch["mlflow_problem"] = "the run's promote task recorded no outcome"
        load_overview.clear()
        st.rerun()  # once more from the top: the DAG table then shows the finished run
    run, tasks, order = watch["final"]
    render_progress(run, tasks, order)
    if run.state != "success":
        st.error(
            f"The run ended **{run.state}**. Open it in Airflow to read the failed task's log."
        )
        return
    st.success(f"The run succeeded in {run.duration or 0:.0f} s.")
    change = watch["change"]
    if change is None:
        st.warning(
            "Could not compare the champion before and after: "
            f"{watch['mlflow_problem'] or 'MLflow was not readable'}"
        )
        return
    (st.success if change.changed else st.info)(change.headline)
    if not change.deltas.empty:
        st.container(key="pipe_outcome").dataframe(
            pw.format_deltas(change.deltas), key="pipe_deltas", hide_index=True
        )


st.title("Pipelines")
st.caption(
    f"Airflow at {settings.airflow_url}. Lists refresh every {settings.cache_ttl_seconds:.0f} s."
)
banners.note_api_down()
airflow = connections.airflow_client()
try:
    airflow.health()
except AirflowError as exc:
    st.error(
        f"**Airflow is not available.** {exc}\n\nStart it (`make up`) or point "
        "`CARPRICE_DASHBOARD_AIRFLOW_URL` at it. The other pages keep working."
    )
    st.stop()
if not airflow.has_credentials:
    st.warning(
        "Airflow answers, but the dashboard has no Airflow credentials: set "
        "`CARPRICE_DASHBOARD_AIRFLOW_USER` and `CARPRICE_DASHBOARD_AIRFLOW_PASSWORD`."
    )
    st.stop()
try:
    dags, latest = load_overview(settings.airflow_url)
except AirflowAuthError as exc:
    st.error(f"{exc}")
    st.stop()
except AirflowError as exc:
    st.error(f"Airflow could not list the DAGs: {exc}")
    st.stop()

st.subheader("DAGs and their latest runs")
if st.button("Refresh", key="pipe_refresh"):
    load_overview.clear()
    dags, latest = load_overview(settings.airflow_url)
if dags:
    overview = pw.runs_overview(dags, latest)
    st.dataframe(
        overview.style.map(pw.state_style, subset=["state"]),
        key="pipe_dags",
        hide_index=True,
        column_config={
            "started": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm"),
            "took (s)": st.column_config.NumberColumn(format="%.1f"),
        },
    )
else:
    st.info("Airflow has no DAGs yet: check its DAGs folder.")

st.subheader("Retrain the price model")
if DAG_ID not in {d["dag_id"] for d in dags}:
    st.warning(f"DAG `{DAG_ID}` is not in Airflow: deploy `airflow/dags/` and refresh.")
elif not auth.can(who.role, "retrain"):
    st.info(
        "Retraining is for operators. You can follow runs here; ask an operator to start one.",
        icon=":material/lock:",
    )
else:
    try:
        retrain_form(load_fields(settings.airflow_url, DAG_ID))
    except AirflowError as exc:
        st.error(f"Airflow could not describe `{DAG_ID}`: {exc}")
if notice := st.session_state.pop("pipe_notice", None):  # on_retrain's refusal, whatever form
    st.error(notice)


registry_actions()


def current_watch() -> dict[str, Any] | None:
    """The retrain to show: the training DAG's latest run in Airflow, whoever started it (this
    session keeps its own before/after snapshot when it pressed *Retrain* for that run)."""
    watch = st.session_state.get("pipe_watch")
    try:
        runs = airflow.latest_runs(DAG_ID, limit=1)
    except AirflowError as exc:
        st.warning(f"Could not read the latest run of `{DAG_ID}`: {exc}")
        return watch
    if runs and (watch is None or watch["run_id"] != runs[0].run_id):
        watch = pw.watch_for(runs[0])
        st.session_state["pipe_watch"] = watch
    return watch


if DAG_ID in {d["dag_id"] for d in dags} and (watch := current_watch()):
    st.subheader("Latest retrain")
    follow(watch)
