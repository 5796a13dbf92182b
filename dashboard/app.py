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
    """While dashboard/pages/ exists, switch Streamlit's legacy pages-folder mode off once this
    script has run (private flag; harmless if it disappears, and moot once pages/ is gone)."""
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # pragma: no cover - future Streamlit
        return
    PagesManager.uses_pages_directory = False


_disable_pages_folder_mode()

_HERE = Path(__file__).resolve().parent
_VIEWS = _HERE / "views"
# A `pages/` folder next to this script switches Streamlit into its legacy multipage mode,
# where a deep link to a page named like a file there runs that file alone, without this
# shell (and, on a fresh server, without the repo on sys.path). Pages live in views/;
# pages/ remains only until the Experiments and Pipelines scripts move to views/ as well.
_LEGACY = _HERE / "pages"


def _page(name: str) -> Path:
    return _VIEWS / name if (_VIEWS / name).exists() else _LEGACY / name


st.set_page_config(page_title="CarPrice", page_icon=":material/directions_car:", layout="wide")

navigation = st.navigation(
    {
        "Sales": [
            st.Page(_page("quote.py"), title="Quote", icon=":material/sell:", default=True),
            st.Page(_page("batch_quotes.py"), title="Batch quotes", icon=":material/table_view:"),
        ],
        "Model": [
            st.Page(_page("model.py"), title="Model", icon=":material/insights:"),
            st.Page(_page("experiments.py"), title="Experiments", icon=":material/science:"),
        ],
        "Operations": [
            st.Page(_page("pipelines.py"), title="Pipelines", icon=":material/settings:"),
        ],
    }
)
sidebar_status()
navigation.run()
