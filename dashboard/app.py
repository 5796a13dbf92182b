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


def _disable_pages_folder_mode() -> None:
    """Streamlit treats a `pages/` folder next to the entry point as the legacy multipage
    layout and then runs a deep-linked page (`/batch_quotes`) on its own, skipping this script.
    `st.navigation` is the only navigation here, so switch that mode off for this process.
    (Private flag; harmless if it disappears. The lasting fix is a folder not named `pages`.)
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - future Streamlit
        return
    PagesManager.uses_pages_directory = False


_disable_pages_folder_mode()

_PAGES = Path(__file__).resolve().parent / "pages"

st.set_page_config(page_title="CarPrice", page_icon=":material/directions_car:", layout="wide")

navigation = st.navigation(
    {
        "Sales": [
            st.Page(_PAGES / "quote.py", title="Quote", icon=":material/sell:", default=True),
            st.Page(_PAGES / "batch_quotes.py", title="Batch quotes", icon=":material/table_view:"),
        ],
        "Model": [
            st.Page(_PAGES / "model.py", title="Model", icon=":material/insights:"),
            st.Page(_PAGES / "experiments.py", title="Experiments", icon=":material/science:"),
        ],
        "Operations": [
            st.Page(_PAGES / "pipelines.py", title="Pipelines", icon=":material/settings:"),
        ],
    }
)
sidebar_status()
navigation.run()
