"""Batch quotes (salespeople): upload a CSV, price every row through the API in chunks."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import banners, batch, charts, pricing
from dashboard.config import get_dashboard_settings

SETTINGS = get_dashboard_settings()
URL = SETTINGS.api_url
STYLE_MAX_ROWS = 2000  # row highlighting costs ~1 s per few thousand rows; beyond, use the flag


@st.cache_data(max_entries=8, show_spinner=False)
def split_upload(content: bytes, rows_per_chunk: int) -> list[batch.Chunk]:
    return batch.split(content, rows_per_chunk)


@st.cache_data(max_entries=8, show_spinner=False)
def preview_upload(content: bytes) -> pd.DataFrame:
    return batch.preview(content)


def highlight_errors(frame: pd.DataFrame) -> pd.DataFrame | pd.io.formats.style.Styler:
    if len(frame) > STYLE_MAX_ROWS or not frame["error"].astype(bool).any():
        return frame
    return frame.style.apply(
        lambda r: ["background-color: #fdecea" if r["error"] else ""] * len(r), axis=1
    )


def first_columns(frame: pd.DataFrame, first: list[str]) -> list[str]:
    """Show the answer (prices, reason) before the input columns."""
    return [c for c in first if c in frame] + [c for c in frame.columns if c not in first]


st.title("Batch quotes")
st.caption(
    f"Upload a CSV of cars. The name and use are enough (`{', '.join(batch.IDENTITY_COLUMNS)}`): "
    "specs left out are filled from the model's catalogue and named in *Specs assumed*. Clean "
    "columns (`brand, …, max_power_bhp`) and raw CarDekho listings (`…, mileage, engine, "
    "max_power, torque`) work too. Every row comes back priced or with the reason it could not be."
)
health = banners.require_api()
upload = st.file_uploader("CSV file", type=["csv"], key="batch_upload")
if upload is None:
    st.info(
        "Start from the template below, or try a file in `data_samples/`, e.g. "
        "`identity_only_cars.csv` (names only) or `raw_listings.csv`.",
        icon=":material/upload_file:",
    )
    st.download_button(
        "Download a template CSV", batch.template_csv(), "cars_template.csv", "text/csv",
        key="batch_template", on_click="ignore", icon=":material/download:",
    )  # fmt: skip
    st.stop()

content = upload.getvalue()
key = batch.digest(content)
try:
    chunks = split_upload(content, SETTINGS.batch_chunk_rows)
    head = preview_upload(content)
except (batch.UploadError, pd.errors.ParserError) as exc:
    st.error(f"**{upload.name} can't be read:** {exc}", icon=":material/block:")
    st.stop()
total = sum(c.rows for c in chunks)
st.subheader("Preview")
st.caption(f"{upload.name}: {total:,} rows · first {len(head)} shown")
st.dataframe(head, hide_index=True, key="batch_preview", height=220)

outcomes: dict[str, batch.BatchOutcome] = st.session_state.setdefault("batch_outcomes", {})
started = st.button(
    f"Price {total:,} cars", type="primary", key="batch_price", disabled=key in outcomes
)


def price(chunk: batch.Chunk) -> bytes:
    return pricing.price_chunk(URL, upload.name, chunk.content)


def priced_with_progress(outcome: batch.BatchOutcome | None) -> batch.BatchOutcome:
    bar = st.progress(0.0, text="Pricing…")
    result = batch.run(
        chunks, price, outcome,
        progress=lambda done, todo: bar.progress(done / todo, text=f"Priced {done}/{todo} chunks"),
    )  # fmt: skip
    bar.empty()
    return result


if started:
    outcomes.clear()  # keep only the current file's results in the session
    outcomes[key] = priced_with_progress(None)
if key not in outcomes:
    st.stop()
outcome = outcomes[key]
if outcome.failures:
    failed = ", ".join(
        f"{c.index + 1} (rows {c.first_row:,}–{c.first_row + c.rows - 1:,})"
        for c in chunks
        if c.index in outcome.failures
    )
    st.error(
        f"**{len(outcome.failures)} of {len(chunks)} chunks were not priced:** {failed}. "
        f"Reason: {next(iter(outcome.failures.values()))}. Their rows are kept below, marked "
        "'not priced'. Retry when the API is back.",
        icon=":material/warning:",
    )
    if st.button("Retry failed chunks", key="batch_retry"):
        priced_with_progress(outcome)
        st.rerun()

table = batch.combine(chunks, outcome)
errors = table[table["error"] != ""]
priced = table["predicted_price"].notna()
st.subheader("Priced cars")
cols = st.columns(4)
cols[0].metric("Rows", f"{len(table):,}")
cols[1].metric("Priced", f"{int(priced.sum()):,}")
cols[2].metric("With errors", f"{len(errors):,}")
cols[3].metric("Median price", charts.rupees(table.loc[priced, "predicted_price"].median()))
table.insert(1, "status", ["error" if e else "priced" for e in table["error"]])
assumed = int((priced & (table["filled"] != "")).sum())
if assumed:
    st.caption(
        f"{assumed:,} of {int(priced.sum()):,} priced cars had specs filled from the model's "
        "catalogue (the closest of variant, model line, model, brand): see *Specs assumed*."
    )
shown = table.assign(filled=batch.summarise_filled_column(table["filled"]))  # downloads: as is
with st.container(key="batch_result"):
    st.dataframe(
        highlight_errors(shown),
        hide_index=True,
        key="batch_table",
        height=420 if len(table) > 12 else "auto",
        column_order=first_columns(
            shown, ["row", "status", *batch.PRICE_COLUMNS, "filled", "error"]
        ),
        column_config={
            "predicted_price": st.column_config.NumberColumn("Price (₹)", format="%,d"),
            "price_low": st.column_config.NumberColumn("Low (₹)", format="%,d"),
            "price_high": st.column_config.NumberColumn("High (₹)", format="%,d"),
            "filled": st.column_config.TextColumn(
                "Specs assumed", help="Specs the file left out, filled from this catalogue level."
            ),
            "error": st.column_config.TextColumn(
                "Reason not priced", width="large" if len(errors) else "small"
            ),
        },
    )
a, b, _ = st.columns([1, 1, 3])
stem = upload.name.rsplit(".", 1)[0]
a.download_button(
    "Download CSV", lambda: batch.to_csv(table), f"{stem}_priced.csv", "text/csv",
    key="batch_download_csv", on_click="ignore",
)  # fmt: skip
b.download_button(
    "Download Excel", lambda: batch.to_excel(table), f"{stem}_priced.xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    key="batch_download_xlsx", on_click="ignore",
)  # fmt: skip

if not errors.empty:
    st.subheader(f"Rows that could not be priced ({len(errors):,})")
    failed = errors.drop(columns=["status", *batch.PRICE_COLUMNS, "filled"], errors="ignore")
    failed = failed.head(500)
    st.dataframe(
        failed.style.apply(lambda r: ["background-color: #fdecea"] * len(r), axis=1),
        hide_index=True,
        key="batch_errors",
        column_order=first_columns(failed, ["row", "error"]),
        column_config={"error": st.column_config.TextColumn("Reason", width="large")},
    )

if priced.any():
    good = table[priced].assign(brand=batch.brands(table[priced]))
    a, b = st.columns(2)
    a.plotly_chart(charts.price_histogram(good["predicted_price"]), key="batch_hist")
    b.plotly_chart(charts.price_by_brand(good), key="batch_by_brand")
