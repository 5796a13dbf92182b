"""CarPrice dashboard: `streamlit run dashboard/app.py --server.port 8501`.

The entry point only lays out navigation and the service status; each page is its own
script under dashboard/views/ and talks to the API, MLflow and Airflow over HTTP.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run dashboard/app.py` puts dashboard/ on sys.path, not the repo root.
_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from dashboard.banners import sidebar_status  # noqa: E402

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
        ],
        "Operations": [
            st.Page(_VIEWS / "pipelines.py", title="Pipelines", icon=":material/settings:"),
        ],
    }
)
sidebar_status()
navigation.run()
