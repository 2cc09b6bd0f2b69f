"""Slotwise scheduler dashboard in a checkout; ``slotwise dashboard`` serves it with its sign-in form.

The router itself is :mod:`dashboard.streamlit_app`, inside the package, so that an installed wheel
has it too (``slotwise dashboard`` serves it through ``dashboard/server.py``, which adds the
sign-in form; started as ``streamlit run streamlit_app.py`` the dashboard has no form and says so). Streamlit re-runs this script on every
interaction, and ``runpy`` runs the router afresh each time.
"""

import runpy

runpy.run_module("dashboard.streamlit_app", run_name="__main__")
