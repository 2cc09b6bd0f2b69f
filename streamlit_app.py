"""Slotwise scheduler dashboard from a checkout: ``streamlit run streamlit_app.py``.

The router itself is :mod:`dashboard.streamlit_app`, inside the package, so that an installed wheel
has it too (``slotwise dashboard`` runs that file). Streamlit re-runs this script on every
interaction, and ``runpy`` runs the router afresh each time.
"""

import runpy

runpy.run_module("dashboard.streamlit_app", run_name="__main__")
