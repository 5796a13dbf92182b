"""Batch quotes (salespeople): upload a dealer's spreadsheet (CSV in any common dialect, or
Excel), check which column feeds which field, price every row through the API in chunks, and
download it back priced. The last priced lot stays until the user clears it: in the session
across pages, and across a browser reload through its id in the URL (dashboard.batch_store).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import streamlit as st

from carprice.sheets import Table, TableError, read_table
from dashboard import auth, banners, batch, batch_files, pricing
from dashboard import batch_view as view
from dashboard.clients.api_client import ApiError
from dashboard.config import get_dashboard_settings

auth.require_page("batch_quotes")  # before anything else: refused roles see nothing

log = logging.getLogger("dashboard.batch_quotes")
SETTINGS = get_dashboard_settings()
URL = SETTINGS.api_url
# .xls is accepted to be told how to save it as .xlsx (a refused extension is only a red
# line in the uploader); .xlsm workbooks read like .xlsx.
FILE_TYPES = ["csv", "txt", "tsv", "xlsx", "xlsm", "xls"]


@st.cache_data(max_entries=8, show_spinner=False)
def read_upload(content: bytes, file_name: str) -> Table:
    """The upload as a table; keyed on its bytes, so a rerun doesn't read it again."""
    return read_table(content, file_name)


def intro() -> None:
    """Title, what a file may look like, and the template (offered with or without a file)."""
    st.title("Batch quotes")
    st.caption(
        "Upload a spreadsheet of cars: CSV (comma, semicolon, tab or pipe; any Excel save "
        "option) or an Excel workbook. The name and use are enough (name, year, km, fuel, "
        "seller type, transmission, owner): specs left out are filled from the model's "
        "catalogue and named in *Specs assumed*. Every row comes back priced or with the "
        "reason it could not be."
    )
    st.download_button(
        "Download a template CSV", batch_files.template_csv(), "cars_template.csv", "text/csv",
        key="batch_template", on_click="ignore", icon=":material/download:",
        help="The columns a file needs, with two example cars.",
    )  # fmt: skip


def pricer(lot: batch.Lot) -> Callable[[batch.Chunk], bytes]:
    """Posts a chunk with the lot's mapping; a 4xx becomes batch.Refused (no retry)."""
    name = f"{lot.stem}.csv"  # what is sent is CSV, whatever was uploaded
    mapping = batch.mapping_json(lot.mapping)

    def price(chunk: batch.Chunk) -> bytes:
        try:
            return pricing.price_chunk(URL, name, chunk.content, mapping)
        except ApiError as exc:
            if batch.is_refusal(exc.status):
                raise batch.Refused(view.refusal(str(exc), exc.status)) from exc
            raise

    return price


def price_with_progress(lot: batch.Lot) -> None:
    """Price the lot's chunks not yet priced, with a progress bar."""
    bar = st.progress(0.0, text="Pricing…")
    batch.run(
        lot.chunks, pricer(lot), lot.outcome,
        progress=lambda done, todo: bar.progress(done / todo, text=f"Priced part {done} of {todo}"),
    )  # fmt: skip
    bar.empty()


def interval_level(version: str | None) -> float:
    """The served model's interval level, for naming the lot's range (80% if unknown)."""
    try:
        return float(pricing.model_info(URL, version).get("interval_level") or 0.8)
    except (ApiError, TypeError, ValueError):
        return 0.8


def new_lot(
    key: str, file_name: str, table: Table, check: batch.MappingCheck, level: float
) -> batch.Lot:
    """A lot ready to price: the table in chunks, with the checked mapping."""
    return batch.Lot(
        key=key, file_name=file_name, table=table, mapping=check.mapping,
        fields=check.fields or [], chunks=batch.build_chunks(table, SETTINGS.batch_chunk_rows),
        outcome=batch.BatchOutcome(), level=level,
    )  # fmt: skip


def show_lot(lot: batch.Lot) -> None:
    """The priced lot: refusal or failures first, then summary, table, downloads, charts."""
    st.subheader(f"Priced lot: {lot.file_name}")
    outcome = lot.outcome
    if outcome.refused:
        st.error(outcome.refused, icon=":material/block:")
        if not outcome.parts:
            view.clear_button()
            return
    elif outcome.failures and view.failed_chunks(lot):
        price_with_progress(lot)
        st.rerun()
    results = lot.results
    view.lot_summary(lot, results)
    view.lot_table(lot, results)
    view.downloads(lot, results)
    view.not_priced_rows(lot, results)
    view.lot_charts(lot, results)


def main() -> None:
    """Upload → preview → columns → price; the last lot is shown whole when it is this file
    with this mapping, in one line while another file is looked at, whole with no file."""
    intro()
    health = banners.require_api()
    upload = st.file_uploader("Spreadsheet of cars", type=FILE_TYPES, key="batch_upload")
    lot = view.last_lot()
    if upload is None:
        if lot is None:
            st.info(
                "Upload a file to price, or start from the template above.",
                icon=":material/upload_file:",
            )
        else:
            show_lot(lot)
        return
    content = upload.getvalue()
    try:
        table = read_upload(content, upload.name)
    except TableError as exc:
        st.error(f"**{upload.name} can't be read.** {exc}", icon=":material/block:")
        if lot is not None:
            view.compact(lot)
        return
    view.preview(table, upload.name)
    check = view.mapping_editor(table, key=f"batch_mapping_{batch.digest(content)}")
    if check.problem:
        st.error(f"**Can't price this file yet.** {check.problem}", icon=":material/block:")
        if lot is not None:
            view.compact(lot)
        return
    key = batch.digest(content, batch.mapping_json(check.mapping))
    current = lot is not None and lot.key == key
    if st.button(
        f"Price {len(table.rows):,} cars", type="primary", key="batch_price", disabled=current
    ):
        lot = new_lot(key, upload.name, table, check, interval_level(health.get("model_version")))
        price_with_progress(lot)
        view.keep(lot)
        st.rerun()  # drawn again from the session: the button now shows the lot is priced
    if current:
        show_lot(lot)
    elif lot is not None:
        view.compact(lot)


try:
    main()
except Exception as exc:  # noqa: BLE001 - the page's last guard: a reason, never a traceback
    log.exception("Batch quotes failed")
    st.error(
        f"**Something went wrong on this page** ({type(exc).__name__}: {str(exc)[:200]}). "
        "Your last priced lot is kept. Try again; if it happens again, press Clear and upload "
        "the file again, or send the file to the team that runs CarPrice.",
        icon=":material/error:",
    )
    view.clear_button(key="batch_clear_after_error")
