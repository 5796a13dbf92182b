"""CarPrice dashboard: `python -m dashboard.serve --server.port 8501`.

The entry point only checks who is here (dashboard.auth), lays out the navigation that role
may use, and shows the service status; each page is its own script under dashboard/views/ and
talks to the API, MLflow and Airflow over HTTP.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import auth
from dashboard.banners import sidebar_status

_VIEWS = Path(__file__).resolve().parent / "views"
# Pages live in views/, not pages/: a `pages/` folder next to this script would switch
# Streamlit into its legacy multipage mode, where deep links bypass this shell.
_SECTIONS = {
    "Sales": [
        ("quote", "Quote", ":material/sell:"),
        ("batch_quotes", "Batch quotes", ":material/table_view:"),
    ],
    "Model": [
        ("model", "Model", ":material/insights:"),
        ("experiments", "Experiments", ":material/science:"),
        ("monitoring", "Monitoring", ":material/monitoring:"),
    ],
    "Operations": [("pipelines", "Pipelines", ":material/settings:")],
}

st.set_page_config(page_title="CarPrice", page_icon=":material/directions_car:", layout="wide")
who = auth.gate()
# Only the pages this role may open exist for this session: others are neither listed nor
# reachable by URL (each page also refuses on its own, see auth.require_page).
sections = {
    section: [
        st.Page(_VIEWS / f"{stem}.py", title=title, icon=icon, default=stem == "quote")
        for stem, title, icon in pages
        if auth.can_open(who.role, stem)
    ]
    for section, pages in _SECTIONS.items()
}
navigation = st.navigation({name: pages for name, pages in sections.items() if pages})
auth.sidebar(who)
sidebar_status()
navigation.run()
