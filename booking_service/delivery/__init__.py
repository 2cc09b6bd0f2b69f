"""Delivery: the background worker and the sending of what the services queued.

Services write outgoing work as rows in the same transaction as the change it reports; this room
sends it later with leases and retries (mail over SMTP or to ``.eml`` files) and runs the
``slotwise worker`` pass.

May import :mod:`booking_service.calendars`, :mod:`booking_service.services`,
:mod:`booking_service.store` and :mod:`booking_service.core`; never the web layer.
"""
