"""What Batch quotes shows: the upload as read, the column mapping to check, and the priced
lot (summary, table, downloads). The page script (views/batch_quotes.py) only runs the flow.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import streamlit as st
from pandas.io.formats.style import Styler

from carprice.sheets import Table
from dashboard import batch, batch_files, batch_store, charts

LOT = "batch_lot"  # session key of the last priced lot
LOT_ID = "batch_lot_id"  # session key of its id in dashboard.batch_store (and the URL)
STYLE_MAX_ROWS = 2000  # row highlighting costs ~1 s per few thousand rows; beyond, use the flag
STYLE_MAX_CELLS = 120_000  # prices written by a Styler (stay sortable numbers) up to this size
PREVIEW_ROWS = 10
_SHOWN = {  # result column → on-page header
    "row": "Row",
    "status": "Status",
    "predicted_price": "Price",
    "price_low": "Low",
    "price_high": "High",
    "filled": "Specs assumed",
    "error": "Reason not priced",
    "model_version": "Model version",
    "quote_id": "Quote id",
}
_NOT_PRICED_STYLE = "background-color: #fdecea"


def preview(table: Table, file_name: str) -> None:
    """The first rows as split, what was read (dialect) and anything to know about it."""
    st.subheader("Preview")
    st.caption(
        f"**{file_name}**: {len(table.rows):,} cars · read as {table.dialect.describe()} · "
        f"first {min(PREVIEW_ROWS, len(table.rows))} shown"
    )
    for note in table.dialect.notes:
        st.info(note, icon=":material/info:")
    if table.problems:
        first, why = next(iter(sorted(table.problems.items())))
        st.warning(
            f"**{len(table.problems):,} line(s) don't have one cell per column** (first: row "
            f"{first + 1}, {why}). They come back not priced, with the reason; fix them in the "
            "file to price them.",
            icon=":material/warning:",
        )
    head = table.frame.head(PREVIEW_ROWS)
    head.columns = batch.unique_names(table.headers)
    st.dataframe(head, hide_index=True, key="batch_preview", height="auto")


def mapping_editor(table: Table, key: str) -> batch.MappingCheck:
    """Which field each uploaded column feeds (guessed from the headers), editable; returns
    the mapping and whether it can be priced."""
    st.subheader("Columns")
    st.caption(
        "Which of your columns feeds which field, guessed from the headers. Change any that's "
        "wrong. Columns marked *not used* still come back in the download, as they are."
    )
    rows = batch.mapping_rows(table)
    edited = st.data_editor(
        rows,
        key=key,
        hide_index=True,
        num_rows="fixed",
        disabled=["column", "example"],
        height=min(36 * (len(rows) + 1) + 3, 600),
        column_config={
            "column": st.column_config.TextColumn("Your column"),
            "example": st.column_config.TextColumn("First value"),
            "field": st.column_config.SelectboxColumn(
                "Used as",
                options=batch.FIELD_CHOICES,
                format_func=lambda f: batch.FIELD_WORDS.get(f, f),
                required=True,
                width="large",
            ),
        },
    )
    choices = dict(zip(edited["column"], edited["field"], strict=True))
    return batch.check_mapping(table.headers, batch.chosen_mapping(table.headers, choices))


def refusal(reason: str, status: int | None) -> str:
    """The API refused the file or the mapping: its reason and what to change."""
    if status in (401, 403):
        return f"**The pricing API refused the dashboard's key.** {reason}"
    if status == 413:
        return (
            f"**A part of this file is larger than the pricing API accepts.** {reason} Split "
            "the file, or lower CARPRICE_DASHBOARD_BATCH_CHUNK_ROWS."
        )
    return (
        f"**The pricing API refused this file:** {reason}\n\nChange the column choices under "
        "*Columns* (or fix the file) and press Price again."
    )


def keep(lot: batch.Lot) -> None:
    """The session's last lot from now on, kept on the server under a new id that the URL
    carries, so a reload finds it (it replaces the session's previous lot there too)."""
    store = batch_store.lot_store()
    store.drop(st.session_state.get(LOT_ID))
    lot_id = store.put(lot)
    st.session_state[LOT] = lot
    st.session_state[LOT_ID] = lot_id
    st.query_params[batch_store.PARAM] = lot_id


def last_lot() -> batch.Lot | None:
    """The session's last lot; in a new session (a reload), the lot the URL names if the
    server still keeps it, else a note saying it is gone (and the URL loses the id)."""
    lot: batch.Lot | None = st.session_state.get(LOT)
    wanted = st.query_params.get(batch_store.PARAM)
    if lot is not None:
        lot_id = st.session_state.get(LOT_ID)
        if lot_id and wanted != lot_id:  # back from another page: the URL names it again
            st.query_params[batch_store.PARAM] = lot_id
        return lot
    if not wanted:
        return None
    lot = batch_store.lot_store().get(wanted)
    if lot is None:
        del st.query_params[batch_store.PARAM]
        st.info(
            "**The priced lot in this link is no longer kept.** The dashboard keeps only the "
            f"lots priced most recently ({batch_store.lot_store().limit} at most), and none "
            "after a restart. Upload the file again to price it.",
            icon=":material/history:",
        )
        return None
    st.session_state[LOT] = lot
    st.session_state[LOT_ID] = wanted
    return lot


def forget() -> None:
    """Clear: the lot leaves the session, the server's store and the URL."""
    batch_store.lot_store().drop(st.session_state.pop(LOT_ID, None))
    st.session_state.pop(LOT, None)
    st.query_params.pop(batch_store.PARAM, None)


def clear_button(key: str = "batch_clear") -> None:
    """Forget the last priced lot (the uploaded file, if any, stays)."""
    st.button(
        "Clear", key=key, icon=":material/delete:", help="Forget the priced lot on this page.",
        on_click=forget,
    )  # fmt: skip


def downloads(lot: batch.Lot, results: pd.DataFrame, prefix: str = "batch") -> None:
    """CSV (the upload's own dialect) and Excel; both built only when clicked."""
    sheet = batch_files.priced_sheet(lot.table, results)
    a, b, c = st.columns([1, 1, 3])
    a.download_button(
        "Download CSV", lambda: batch_files.to_csv(sheet, lot.table.dialect),
        f"{lot.stem}_priced.csv", "text/csv", key=f"{prefix}_download_csv", on_click="ignore",
        icon=":material/download:",
    )  # fmt: skip
    b.download_button(
        "Download Excel", lambda: batch_files.to_excel(sheet), f"{lot.stem}_priced.xlsx",
        batch_files.XLSX_TYPE, key=f"{prefix}_download_xlsx", on_click="ignore",
        icon=":material/download:",
    )  # fmt: skip
    with c:
        clear_button()


def compact(lot: batch.Lot) -> None:
    """The last lot in one line with its downloads, while another file is being looked at."""
    results = lot.results
    summary = batch.summarise(results)
    st.info(
        f"**Last priced lot: {lot.file_name}** — {summary.priced:,} of {summary.rows:,} cars "
        f"priced, {charts.rupees(summary.total)} in all. It stays here until you price "
        "another file or clear it.",
        icon=":material/history:",
    )
    downloads(lot, results, prefix="batch_last")


def lot_summary(lot: batch.Lot, results: pd.DataFrame) -> None:
    """Rows priced, the lot's value with its range (and the assumption behind it), by brand."""
    s = batch.summarise(results)
    level = f"{lot.level:.0%}"
    cols = st.columns([1, 2, 1])
    cols[0].metric("Cars priced", f"{s.priced:,} of {s.rows:,}")
    spread = f"{level} range {charts.rupee_range(s.low, s.high)}"
    cols[1].metric(
        "Lot value", charts.rupees(s.total), delta=spread, delta_color="off", delta_arrow="off"
    )
    cols[2].metric("Not priced", f"{s.rows - s.priced:,}")
    if s.priced:
        st.caption(
            f"Lot value = the sum of the {s.priced:,} prices. The {level} range assumes each "
            f"car's error is independent of the others (each car's own {level} range, "
            "combined as the root of the sum of squares). Cars that the model misjudges "
            "together (same model, same year) make it wider; at the extreme, every car at its "
            f"low or its high gives {charts.rupee_range(s.floor, s.ceiling)}."
        )
    brand = batch.brands(lot.table.rows, lot.fields)
    counts = batch.brand_counts(brand, results)
    with st.expander(f"By brand ({len(counts):,})", expanded=len(counts) <= 12):
        st.dataframe(
            charts.rupee_styler(counts, ["value"]),
            hide_index=True,
            key="batch_brands",
            column_config={
                "brand": st.column_config.TextColumn("Brand"),
                "cars": st.column_config.NumberColumn("Cars"),
                "priced": st.column_config.NumberColumn("Priced"),
                "value": st.column_config.NumberColumn("Value"),
            },
        )


def lot_table(lot: batch.Lot, results: pd.DataFrame) -> None:
    """Every row: the answer first (price, range, reason), then the dealer's columns."""
    shown = results.assign(
        row=range(1, len(results) + 1),
        status=["not priced" if e else "priced" for e in results["error"]],
        filled=batch.summarise_filled_column(results["filled"]),
    )
    own = lot.table.rows.copy()
    own.columns = batch.unique_names(lot.table.headers, taken=list(_SHOWN))
    own.index = shown.index
    first = list(_SHOWN)
    frame = pd.concat([shown[first], own], axis=1)
    failed = (results["error"] != "").to_numpy()
    with st.container(key="batch_result"):
        if frame.size > STYLE_MAX_CELLS:
            st.caption(
                "A large lot: its prices are shown as text to keep the page quick, so sorting "
                "the table by a price column sorts them as text. The downloads hold them as "
                "numbers."
            )
        st.dataframe(
            table_data(frame, failed),
            hide_index=True,
            key="batch_table",
            height=420 if len(frame) > 12 else "auto",
            column_config={
                **{c: st.column_config.TextColumn(label) for c, label in _SHOWN.items()},
                "row": st.column_config.NumberColumn("Row"),
                **{
                    c: st.column_config.NumberColumn(_SHOWN[c])
                    if frame.size <= STYLE_MAX_CELLS
                    else st.column_config.TextColumn(_SHOWN[c], alignment="right")
                    for c in batch.PRICE_COLUMNS
                },
                "error": st.column_config.TextColumn(
                    "Reason not priced", width="large" if failed.any() else "small"
                ),
            },
        )


def table_data(frame: pd.DataFrame, failed: np.ndarray) -> pd.DataFrame | Styler:
    """The lot's table with its prices in Indian grouping (₹10,06,500). Up to STYLE_MAX_CELLS
    cells through a Styler, so the prices stay numbers and sort as numbers (not-priced rows
    tinted, up to STYLE_MAX_ROWS); a larger lot gets the prices as text instead, since a
    Styler costs about a second per 100,000 cells on every rerun."""
    if frame.size > STYLE_MAX_CELLS:
        written = {c: frame[c].map(partial(charts.rupees, exact=True)) for c in batch.PRICE_COLUMNS}
        return frame.assign(**{c: v.replace("—", "") for c, v in written.items()})
    styler = charts.rupee_styler(frame, batch.PRICE_COLUMNS)
    if failed.any() and len(frame) <= STYLE_MAX_ROWS:
        styler = styler.apply(
            lambda r: [_NOT_PRICED_STYLE if failed[r.name] else ""] * len(r), axis=1
        )
    return styler


def failed_chunks(lot: batch.Lot) -> bool:
    """Chunks the service didn't price (down, slow, garbled answer): named, with a Retry
    button; True when it was pressed."""
    failures = lot.outcome.failures
    named = ", ".join(
        f"{c.index + 1} (rows {c.first_row:,}–{c.last_row:,})"
        for c in lot.chunks
        if c.index in failures
    )
    st.error(
        f"**{len(failures)} of {len(lot.chunks)} parts of the file were not priced:** "
        f"{named}. Reason: {next(iter(failures.values()))}. Their rows are kept below, "
        "marked *not priced*; retry once the pricing API is back.",
        icon=":material/warning:",
    )
    return st.button("Retry failed chunks", key="batch_retry", icon=":material/refresh:")


def not_priced_rows(lot: batch.Lot, results: pd.DataFrame) -> None:
    """The rows that weren't priced, with the reason first (at most 500)."""
    failed = results["error"] != ""
    if not failed.any():
        return
    st.subheader(f"Rows that could not be priced ({int(failed.sum()):,})")
    own = lot.table.rows.copy()
    own.columns = batch.unique_names(lot.table.headers, taken=["Row", "Reason"])
    own.insert(0, "Reason", results["error"].to_numpy())
    own.insert(0, "Row", range(1, len(own) + 1))
    st.dataframe(
        own[failed.to_numpy()].head(500),
        hide_index=True,
        key="batch_errors",
        column_config={"Reason": st.column_config.TextColumn("Reason", width="large")},
    )


def lot_charts(lot: batch.Lot, results: pd.DataFrame) -> None:
    """Price distribution and median price by brand of the priced cars."""
    priced = results["predicted_price"].notna()
    if not priced.any():
        return
    brand = batch.brands(lot.table.rows, lot.fields)
    good = pd.DataFrame(
        {
            "brand": brand[priced.to_numpy()].to_numpy(),
            "predicted_price": results.loc[priced, "predicted_price"].to_numpy(),
        }
    )
    a, b = st.columns(2)
    a.plotly_chart(charts.price_histogram(good["predicted_price"]), key="batch_hist")
    b.plotly_chart(charts.price_by_brand(good), key="batch_by_brand")
