"""Domain services: one module per concept, each the one place for its rules.

Every function takes a ``session`` and leaves the transaction to its caller, so the same function
serves a Flask request, a Streamlit callback, a CLI command and a test. What leaves the system
(mail, calendar writes) is only *queued* here, as rows in the caller's transaction; the worker in
:mod:`booking_service.delivery` sends it later.

May import :mod:`booking_service.store`, :mod:`booking_service.core` and :mod:`planner`.
"""
