"""The scheduler dashboard (Streamlit): pages for scheduling, the activity stream, team and capacity.

``streamlit_app.py`` at the repository root is the entry point; it routes to the page scripts in
:mod:`dashboard.screens`. Pages hold no SQL and no business rules: they call the services in
``booking_service`` and the ``planner`` API, through the cached helpers in :mod:`dashboard.state`.
"""
