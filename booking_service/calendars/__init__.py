"""Calendar connectors: the calendars people already keep, read as busy time and written to.

- :mod:`.ics` reads iCalendar data into busy intervals (no I/O);
- :mod:`.fetch` downloads ``.ics`` subscriptions with a timeout and a size limit;
- :mod:`.caldav_client` talks to CalDAV servers (time-range reads, event writes);
- :mod:`.connections` adds, changes and removes calendar connections;
- :mod:`.sync` replaces a connection's busy blocks in one transaction, and refreshes stale
  calendars when a customer opens a booking link;
- :mod:`.writeback` queues and delivers confirmed and cancelled meetings to CalDAV calendars;
- :mod:`.feeds` serves each member's and room's private iCalendar feed of Slotwise meetings.
"""
