"""Recording what quoted cars sold for, on the Quote and Monitoring pages: one sale by its quote
id (a 409 "already sold" offers the correction, sent with PUT), or a sales CSV.

Each outcome is kept in the session under the form's key (and the quote id or the file's
digest), so it stays on screen across reruns and nothing is posted twice: the API is called
only when a button is pressed. A recorded sale bumps `SALES_RECORDED`, which the Monitoring
page passes to its cached summary, so the next figures include it.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import Any

import streamlit as st

from dashboard import monitoring_view as view
from dashboard import pricing
from dashboard.clients.api_client import ApiError

SALES_RECORDED = "sales_recorded"  # session counter: sales recorded in this session
TEMPLATE = b"quote_id,sale_price,sold_on\n"


def _today() -> date:
    return datetime.now(UTC).date()


def _recorded() -> None:
    st.session_state[SALES_RECORDED] = st.session_state.get(SALES_RECORDED, 0) + 1


def _send(key: str, method: str, quote_id: str, price: float, sold_on: date) -> None:
    """POST (record) or PUT (correct) one sale; the outcome goes to the session."""
    client = pricing.api_client()
    call = client.record_sale if method == "POST" else client.correct_sale
    sale = {"quote_id": quote_id, "price": price, "sold_on": sold_on}
    try:
        answer = call(quote_id, price, sold_on)
    except ApiError as exc:
        if exc.status == 409:
            outcome = {"kind": "conflict", "text": str(exc), **sale}
        else:
            outcome = {"kind": "error", "text": str(exc), **sale}
    else:
        outcome = {"kind": "ok", "text": view.sale_words(answer), **sale}
        _recorded()
    st.session_state[f"{key}_outcome"] = outcome


def _show(key: str, quote_id: str | None) -> None:
    """The last outcome of this form (only for the quote it was about, when one is given)."""
    outcome = st.session_state.get(f"{key}_outcome")
    if not outcome or (quote_id is not None and outcome["quote_id"] != quote_id):
        return
    with st.container(key=f"{key}_answer"):
        if outcome["kind"] == "ok":
            st.success(outcome["text"], icon=":material/check_circle:")
        elif outcome["kind"] == "error":
            st.error(f"**The sale was not recorded:** {outcome['text']}", icon=":material/error:")
        else:
            st.warning(
                f"**This quote already has a sale.** Correct it to "
                f"{view.rupees(outcome['price'], exact=True)} sold on {outcome['sold_on']}? "
                "The earlier value is kept in its history.",
                icon=":material/edit:",
            )
            if st.button("Correct the recorded sale", key=f"{key}_correct"):
                _send(key, "PUT", outcome["quote_id"], outcome["price"], outcome["sold_on"])
                st.rerun()


def sale_form(
    key: str,
    quote_id: str | None = None,
    price_hint: float | None = None,
    rerun_on_success: bool = False,
) -> None:
    """Price and date (and the quote id unless given) → POST /quotes/{id}/sale; the answer or
    the API's reason below it; on 409 a button that sends the correction (PUT).
    `rerun_on_success`: rerun the page after a recorded sale, so figures above include it."""
    with st.form(key=f"{key}_form", border=False):
        typed_id = None
        if quote_id is None:
            typed_id = st.text_input(
                "Quote id", key=f"{key}_quote_id", placeholder="e.g. 3f2b…, from the quote"
            )
        left, right = st.columns(2)
        price = left.number_input(
            "Sale price (₹)",
            min_value=1,
            max_value=100_000_000,
            value=None,
            step=1000,
            key=f"{key}_price",
            placeholder=f"e.g. {round(price_hint)}" if price_hint else "e.g. 450000",
            help="What the car really sold for, in rupees.",
        )
        sold_on = right.date_input(
            "Sold on", value=_today(), max_value=_today(), key=f"{key}_sold_on", format="YYYY-MM-DD"
        )
        sent = st.form_submit_button("Record the sale", key=f"{key}_submit", type="primary")
    target = quote_id if quote_id is not None else (typed_id or "").strip()
    if sent:
        if not target:
            st.session_state.pop(f"{key}_outcome", None)
            st.error("Enter the quote id shown under the quote's price.", icon=":material/error:")
        elif price is None:
            st.session_state.pop(f"{key}_outcome", None)
            st.error("Enter the price the car sold for.", icon=":material/error:")
        else:
            _send(key, "POST", target, float(price), sold_on)
            if rerun_on_success and st.session_state[f"{key}_outcome"]["kind"] == "ok":
                st.rerun()
    _show(key, quote_id)


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def upload_form(key: str, rerun_on_success: bool = False) -> dict[str, Any] | None:
    """A sales CSV (quote_id, sale_price, sold_on) → POST /quotes/sales when the button is
    pressed; the answer, kept for this file's bytes, is returned (None before)."""
    upload = st.file_uploader(
        "Sales file (CSV or .xlsx: quote_id, sale_price, sold_on)",
        type=["csv", "txt", "tsv", "xlsx"],
        key=f"{key}_file",
    )
    st.download_button(
        "Template",
        TEMPLATE,
        file_name="sales_template.csv",
        mime="text/csv",
        key=f"{key}_template",
        icon=":material/download:",
    )
    if upload is None:
        return None
    content = upload.getvalue()
    digest = _digest(content)
    kept = st.session_state.get(f"{key}_result")
    if kept is None or kept["digest"] != digest:
        if st.button("Record these sales", key=f"{key}_send", type="primary"):
            try:
                answer = pricing.api_client().upload_sales(upload.name, content)
            except ApiError as exc:
                st.error(f"**The file was not recorded:** {exc}", icon=":material/error:")
                return None
            st.session_state[f"{key}_result"] = kept = {"digest": digest, "answer": answer}
            if answer.get("recorded"):
                _recorded()
                if rerun_on_success:
                    st.rerun()
        else:
            return None
    return kept["answer"]
