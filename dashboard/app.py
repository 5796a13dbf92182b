"""CarPrice dashboard: `streamlit run dashboard/app.py --server.port 8501`.

The entry point only lays out navigation and the service status; each page is its own
script under dashboard/views/ and talks to the API, MLflow and Airflow over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.banners import sidebar_status

_VIEWS = Path(__file__).resolve().parent / "views"
# Pages live in views/, not pages/: a `pages/` folder next to this script would switch
# Streamlit into its legacy multipage mode, where deep links bypass this shell.

st.set_page_config(page_title="CarPrice", page_icon=":material/directions_car:", layout="wide")

navigation = st.navigation(
    {
        "Sales": [
            st.Page(_VIEWS / "quote.py", title="Quote", icon=":material/sell:", default=True),
            st.Page(_VIEWS / "batch_quotes.py", title="Batch quotes", icon=":material/table_view:"),
        ],
        "Model": [
            st.Page(_VIEWS / "model.py", title="Model", icon=":material/insights:"),
            st.Page(_VIEWS / "experiments.py", title="Experiments", icon=":material/science:"),
            st.Page(_VIEWS / "monitoring.py", title="Monitoring", icon=":material/monitoring:"),
        ],
        "Operations": [
            st.Page(_VIEWS / "pipelines.py", title="Pipelines", icon=":material/settings:"),
        ],
    }
)
sidebar_status()
navigation.run()
