"""Adding calendar connections: input checks and stored values."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking_service.calendars.connections import (
    add_caldav_connection,
    add_ics_file_connection,
    add_ics_url_connection,
    caldav_account,
    remove_connection,
    replace_ics_file,
    set_caldav_password,
)
from booking_service.calendars.ics import CalendarParseError, decode_calendar
from booking_service.core.crypto import SecretDecryptionError
from booking_service.store.models import AuditEntry, BusyBlock, CalendarConnection

from .helpers import SECRET_KEY, UNDEFINED_ZONE_ICS, add_member, admin, ics, utc, vevent


def test_subscription_url_is_normalised(session):
    member = add_member(session)
    conn = add_ics_url_connection(
        session, member.id, " Google ", "webcal://calendar.example/ada.ics", by=admin(session)
    )
    assert (conn.kind, conn.name, conn.url) == ("ics_url", "Google", "https://calendar.example/ada.ics")


@pytest.mark.parametrize(
    ("name", "url", "message"),
    [
        ("Work", "ftp://x/a.ics", "not an http"),
        ("", "https://x/a.ics", "needs a name"),
        ("x" * 201, "https://x/a.ics", "longer than 200"),
    ],
)
def test_subscription_input_is_checked(session, name, url, message):
    member = add_member(session)
    with pytest.raises(ValueError, match=message):
        add_ics_url_connection(session, member.id, name, url, by=admin(session))


def test_unknown_resource_is_named(session):
    with pytest.raises(ValueError, match="no team member or room with id 4242"):
        add_ics_url_connection(session, 4242, "Work", "https://x/a.ics", by=admin(session))


def test_uploaded_file_is_checked_and_stored(session):
    member = add_member(session)
    data = ics(vevent("a", utc(2030, 1, 7, 9), utc(2030, 1, 7, 10))).encode()
    conn = add_ics_file_connection(session, member.id, "Export", data, by=admin(session))
    assert conn.kind == "ics_file" and "UID:a" in conn.ics_data
    with pytest.raises(CalendarParseError, match="not iCalendar data"):
        add_ics_file_connection(session, member.id, "Photo", b"\x89PNG\r\n", by=admin(session))
    with pytest.raises(CalendarParseError, match="never closed"):
        replace_ics_file(session, conn, "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\n", by=admin(session))


def test_caldav_password_is_encrypted_and_decrypted_with_the_secret_key(session):
    member = add_member(session)
    conn = add_caldav_connection(
        session,
        member.id,
        "Work",
        "https://dav.example/ada/",
        "ada",
        "pa55word",
        secret_key=SECRET_KEY,
        by=admin(session),
    )
    assert conn.password_encrypted and "pa55word" not in conn.password_encrypted
    assert conn.write_back is True
    account = caldav_account(conn, SECRET_KEY)
    assert (account.url, account.username, account.password) == (
        "https://dav.example/ada/",
        "ada",
        "pa55word",
    )
    with pytest.raises(SecretDecryptionError):
        caldav_account(conn, "other-key")
    set_caldav_password(session, conn, "new-one", secret_key=SECRET_KEY, by=admin(session))
    assert caldav_account(conn, SECRET_KEY).password == "new-one"


def test_caldav_refuses_a_subscription_link(session):
    member = add_member(session)
    with pytest.raises(ValueError, match="subscription link"):
        add_caldav_connection(
            session, member.id, "Work", "webcal://x/a.ics", "u", "p", secret_key=SECRET_KEY, by=admin(session)
        )


def test_remove_connection_removes_its_busy_blocks(session):
    member = add_member(session)
    conn = add_ics_url_connection(session, member.id, "Work", "https://x/a.ics", by=admin(session))
    session.add(
        BusyBlock(connection_id=conn.id, resource_id=member.id, start=utc(2030, 1, 1), end=utc(2030, 1, 2))
    )
    session.commit()
    remove_connection(session, conn, by=admin(session))
    session.commit()
    assert session.scalars(select(BusyBlock)).all() == []
    assert session.scalars(select(CalendarConnection)).all() == []


def test_only_admins_connect_calendars_and_changes_are_audited(session):
    from booking_service.services.permissions import PermissionDenied
    from booking_service.store.models import AuditEntry, User

    member = add_member(session)
    scheduler = User(email="sched@example.com", name="Sched", zone="UTC", role="scheduler")
    session.add(scheduler)
    session.flush()
    for by in (scheduler, None):
        with pytest.raises(PermissionDenied, match="only an admin may connect calendars"):
            add_ics_url_connection(session, member.id, "Work", "https://x/a.ics", by=by)

    conn = add_ics_url_connection(session, member.id, "Work", "https://x/a.ics", by=admin(session))
    with pytest.raises(PermissionDenied):
        remove_connection(session, conn, by=scheduler)
    remove_connection(session, conn, by=admin(session))
    actions = [
        (e.action, e.target_type, e.details.get("name"))
        for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
    ]
    assert actions == [("calendar.created", "calendar", "Work"), ("calendar.deleted", "calendar", "Work")]


def test_upload_is_refused_as_the_first_sync_would_refuse_it_and_nothing_is_stored(session):
    member = add_member(session)
    session.commit()
    with pytest.raises(CalendarParseError) as caught:
        add_ics_file_connection(session, member.id, "Exchange", UNDEFINED_ZONE_ICS.read_bytes(), by=admin(session))
    assert (caught.value.line, caught.value.property) == (60, "DTSTART")
    assert str(caught.value).startswith("line 60, DTSTART: TZID 'Customized Time Zone' is neither defined")
    session.rollback()
    assert session.scalars(select(CalendarConnection)).all() == []
    assert session.scalars(select(AuditEntry)).all() == []


def test_replacing_a_file_with_a_bad_one_keeps_the_old_one(session):
    member = add_member(session)
    good = ics(vevent("a", utc(2030, 1, 7, 9), utc(2030, 1, 7, 10)))
    conn = add_ics_file_connection(session, member.id, "Export", good, by=admin(session))
    with pytest.raises(CalendarParseError, match="this is not iCalendar data .* it is an HTML page"):
        replace_ics_file(session, conn, b"<html><body>Please sign in</body></html>", by=admin(session))
    assert conn.ics_data == good


@pytest.mark.parametrize("max_mb", [1, 2])
def test_upload_over_the_size_limit_is_refused_with_the_limit(session, max_mb):
    member = add_member(session)
    padding = "X-FILLER:" + "x" * 60
    data = ics(*[vevent(f"e{n}", utc(2030, 1, 7, 9), utc(2030, 1, 7, 10), padding) for n in range(8_000 * max_mb)])
    with pytest.raises(ValueError) as caught:
        add_ics_file_connection(session, member.id, "Big", data, by=admin(session), max_mb=max_mb)
    assert f"calendar files up to {max_mb} MB can be uploaded (CALENDAR_MAX_MB)" in str(caught.value)
    assert str(caught.value).startswith("the file is ")


@pytest.mark.parametrize("encoding", ["utf-16", "cp1252"])
def test_upload_keeps_the_characters_the_reader_reads(session, encoding):
    member = add_member(session)
    data = ics(vevent("a", utc(2030, 1, 7, 9), utc(2030, 1, 7, 10), "SUMMARY:Café with Müller")).encode(encoding)
    conn = add_ics_file_connection(session, member.id, "Export", data, by=admin(session))
    assert "SUMMARY:Café with Müller" in conn.ics_data
    assert conn.ics_data == decode_calendar(data)
