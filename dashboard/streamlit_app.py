"""Slotwise scheduler dashboard: ``slotwise dashboard`` serves it through ``dashboard/server.py``.

A slim router: the page configuration, the sign-in gate, then ``st.navigation`` over the page scripts in
``dashboard/screens/``. The database comes from the settings (``DATABASE_URL``). It lives inside the
package so that an installed wheel carries it; ``streamlit_app.py`` at the repository root runs it.
"""

import streamlit as st

st.set_page_config(page_title="Slotwise", page_icon=":material/event_available:", layout="wide")

# --- sign-in gate (dashboard/auth.py): nothing below renders until a user has signed in ----------
from dashboard.auth import admin_pages, require_sign_in  # noqa: E402 - set_page_config must come first

user = require_sign_in()
# -------------------------------------------------------------------------------------------------

from dashboard.navigation import pages  # noqa: E402 - set_page_config must come first

st.navigation(pages() | admin_pages(user)).run()
