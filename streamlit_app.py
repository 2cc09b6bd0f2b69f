"""Slotwise scheduler dashboard: ``streamlit run streamlit_app.py`` (or ``slotwise dashboard``).

A slim router: the page configuration, then ``st.navigation`` over the page scripts in
``dashboard/pages/``. The database comes from the settings (``DATABASE_URL``).
"""

import streamlit as st

st.set_page_config(page_title="Slotwise", page_icon=":material/event_available:", layout="wide")

from dashboard.navigation import pages  # noqa: E402 - set_page_config must come first

st.navigation(pages()).run()
