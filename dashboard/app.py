"""CarPrice dashboard: `streamlit run dashboard/app.py --server.port 8501`.

The entry point only lays out navigation and the service status; each page is its own
script under dashboard/pages/ and talks to the API, MLflow and Airflow over HTTP.
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

_PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="CarPrice", page_icon="🚗", layout="wide")

navigation = st.navigation(
    {
        "Sales": [
            st.Page(_PAGES / "quote.py", title="Quote", icon="💰", default=True),
            st.Page(_PAGES / "batch_quotes.py", title="Batch quotes", icon="📄"),
        ],
        "Model": [
            st.Page(_PAGES / "model.py", title="Model", icon="📊"),
            st.Page(_PAGES / "experiments.py", title="Experiments", icon="🧪"),
        ],
        "Operations": [
            st.Page(_PAGES / "pipelines.py", title="Pipelines", icon="⚙️"),
        ],
    }
)
sidebar_status()
navigation.run()
