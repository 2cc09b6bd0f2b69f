"""Calendar connectors: the calendars people already keep, read as busy time and written to.

- :mod:`.ics` reads iCalendar data into busy intervals (no I/O);
- :mod:`.sandbox` runs that reading in a child process, with limits on memory and time;
- :mod:`.fetch` downloads ``.ics`` subscriptions with a timeout and a size limit;
- :mod:`.caldav_client` talks to CalDAV servers (time-range reads, event writes);
- :mod:`.connections` adds, changes and removes calendar connections;
- :mod:`.sync` replaces a connection's busy blocks in one transaction, and refreshes stale
  calendars when a customer opens a booking link;
- :mod:`.writeback` delivers the queued writes of confirmed and cancelled meetings to CalDAV
  calendars (the booking queues them through :mod:`booking_service.services.calendar_writes`);
- :mod:`.feeds` serves each member's and room's private iCalendar feed of Slotwise meetings;
- :mod:`.command` is the work of ``slotwise sync-calendars``.

May import :mod:`booking_service.services`, :mod:`booking_service.store` and
:mod:`booking_service.core`; the web layer and the worker use it.
"""
