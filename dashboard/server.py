"""The dashboard's server: Streamlit's own (``st.App``) plus the sign-in routes of :mod:`dashboard.web`.

``slotwise dashboard`` runs ``streamlit run dashboard/server.py``; Streamlit finds ``app`` below and
serves ``dashboard/streamlit_app.py`` with the routes and middleware added. Started as
``streamlit run streamlit_app.py`` instead, the dashboard has no sign-in form and says so.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

from dashboard import web

app = st.App(
    Path(__file__).resolve().parent / "streamlit_app.py",
    routes=web.routes(),
    middleware=[Middleware(web.SignInRequired)],
)
