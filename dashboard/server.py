"""The dashboard's server: Streamlit's own (``st.App``) plus the sign-in routes of :mod:`dashboard.web`.

``slotwise dashboard`` runs ``streamlit run dashboard/server.py``; Streamlit finds ``app`` below and
serves ``dashboard/streamlit_app.py`` with the routes and middleware added. Started as
``streamlit run streamlit_app.py`` instead, the dashboard has no sign-in form and says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st
from starlette.middleware import Middleware

# Importing the sign-in routes decorates the dashboard's caches before Streamlit's runtime exists,
# and Streamlit then warns once per cache that it checked the cache's settings against an
# in-memory store. The caches use the runtime's store when called: the warning is only noise at
# every start, so it is kept quiet for the import alone.
_caching = logging.getLogger("streamlit.runtime.caching.cache_data_api")
_level = _caching.level
_caching.setLevel(logging.ERROR)
try:
    from dashboard import web
finally:
    _caching.setLevel(_level)

app = st.App(
    Path(__file__).resolve().parent / "streamlit_app.py",
    routes=web.routes(),
    middleware=[Middleware(web.SignInRequired)],
)
