"""Slotwise scheduler dashboard: ``slotwise dashboard`` serves it through ``dashboard/server.py``.

A slim router: the page configuration, the sign-in gate, what button actions stopped by a later click
did (``state.apply_outcomes``), then ``st.navigation`` over the page scripts in ``dashboard/screens/``. The database comes from the settings (``DATABASE_URL``). It lives inside the
package so that an installed wheel carries it; ``streamlit_app.py`` at the repository root runs it.
"""

import streamlit as st

st.set_page_config(page_title="Slotwise", page_icon=":material/event_available:", layout="wide")

# --- sign-in gate (dashboard/auth.py): nothing below renders until a user has signed in ----------
from dashboard.auth import admin_pages, require_sign_in  # noqa: E402 - set_page_config must come first

user = require_sign_in()
# -------------------------------------------------------------------------------------------------

from dashboard.navigation import pages  # noqa: E402 - set_page_config must come first
from dashboard.state import apply_outcomes  # noqa: E402

apply_outcomes()  # what a button did in a run that a later click stopped (state.one_at_a_time)

st.navigation(pages() | admin_pages(user)).run()
