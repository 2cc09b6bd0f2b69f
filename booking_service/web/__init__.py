"""The web layer: the Flask app factory and one blueprint per user-facing flow.

- :mod:`.app`: ``create_app(config=None)``, error pages, security headers, Server-Timing;
- :mod:`.extensions`: what the factory and the blueprints share (CSRF, the rate limiter, the
  request's database session, the settings);
- :mod:`.booking`: the customer's booking pages; :mod:`.feeds`: private calendar feeds;
  :mod:`.health`: liveness for load balancers.

Views parse and validate, call one service function, then render or redirect. Templates live in
``templates/<blueprint>/`` and extend ``templates/base.html``.

May import :mod:`booking_service.calendars`, :mod:`booking_service.services`,
:mod:`booking_service.store` and :mod:`booking_service.core`; never :mod:`booking_service.delivery`.
"""

from .app import create_app

__all__ = ["create_app"]
