"""Profile, Outbox and Calendars pages: what they list, empty states, and the profile form."""

from __future__ import annotations

import datetime as dt

from booking_service.store.db import session_scope
from booking_service.store.models import CalendarConnection, OutboxMessage, User

from .conftest import open_page

T0 = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def test_every_page_renders_without_error(org):
    for page in ("invite", "invitations", "meetings", "team", "calendars", "profile", "capacity", "outbox"):
        at = open_page(org, page)
        assert at.title, page


def test_profile_saves_zone_and_confirmation_settings(org, engine):
    at = open_page(org, "profile")
    assert at.selectbox(key="profile-zone").value == "Europe/London"
    at.selectbox(key="profile-zone").select("America/St_Johns")
    at.checkbox(key="profile-attach-invite").uncheck()
    at.button(key=f"FormSubmitter:profile-{org.admin_id}-Save profile").click().run()
    assert not at.exception
    assert "Profile saved." in [s.value for s in at.success]
    with session_scope(engine) as s:
        user = s.get(User, org.admin_id)
        assert (user.zone, user.send_confirmation, user.attach_invite) == ("America/St_Johns", True, False)


def test_profile_refuses_an_empty_name(org, engine):
    at = open_page(org, "profile")
    at.text_input(key="profile-name").input("  ")
    at.button(key=f"FormSubmitter:profile-{org.admin_id}-Save profile").click().run()
    assert len(at.error) == 1 and "name" in at.error[0].value
    with session_scope(engine) as s:
        assert s.get(User, org.admin_id).name == "Sam Scheduler"


def test_outbox_shows_messages_as_the_customer_reads_them(org, engine):
    at = open_page(org, "outbox")
    assert "No messages here yet" in at.info[0].value
    with session_scope(engine) as s:
        s.add_all(
            [
                OutboxMessage(kind="invitation", to_addr="ada@example.com", subject="Please pick a time: Intro",
                              body_text="Hello Ada,\nplain", body_html="<p>Hello <b>Ada</b></p>", created_at=T0),
                OutboxMessage(kind="cancellation", to_addr="bo@example.com", subject="Cancelled: Demo",
                              body_text="Sorry", status="failed", attempts=8, last_error="550 no such user",
                              ics="BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", created_at=T0 + dt.timedelta(hours=1)),
            ]
        )
    at.run()
    table = at.dataframe[0].value
    assert list(table["Subject"]) == ["Cancelled: Demo", "Please pick a time: Intro"]
    assert list(table["Status"]) == ["failed", "waiting"]
    assert table.loc[0, "Last error"] == "550 no such user"
    assert at.text[0].value == "Sorry"  # the first (newest) message is open, plain text tab
    at.selectbox(key="outbox-message").select_index(1).run()
    assert "<b>Ada</b>" in at.get("html")[0].proto.body
    at.segmented_control(key="outbox-status").set_value("Failed").run()
    assert list(at.dataframe[0].value["Subject"]) == ["Cancelled: Demo"]


def test_outbox_says_what_happened_to_mail_and_how_to_configure_smtp(org, engine, tmp_path, monkeypatch):
    monkeypatch.delenv("SMTP_URL", raising=False)
    with session_scope(engine) as s:
        s.add_all(
            [
                OutboxMessage(kind="invitation", to_addr="ada@example.com", subject="Written", body_text="a",
                              status="sent", delivered_via="file", sent_at=T0, created_at=T0),
                OutboxMessage(kind="invitation", to_addr="bo@example.com", subject="Sent", body_text="b",
                              status="sent", delivered_via="smtp", sent_at=T0, created_at=T0 + dt.timedelta(hours=1)),
            ]
        )
    at = open_page(org, "outbox")
    outbox = tmp_path / "var" / "outbox"
    banner = at.warning[0].value
    assert banner.startswith("**No SMTP is configured, so no email reaches anyone.**")
    assert f"`{outbox}`" in banner and "set `SMTP_URL`" in banner
    table = at.dataframe[0].value
    assert dict(zip(table["Subject"], table["Status"], strict=True)) == {
        "Written": f"written to {outbox} (no SMTP configured)", "Sent": "sent"}
    # With SMTP configured the banner goes; what was written stays said as it happened.
    monkeypatch.setenv("SMTP_URL", "smtp://127.0.0.1:2525")
    at.run()
    assert not [w for w in at.warning if "No SMTP" in w.value]
    assert dict(zip(at.dataframe[0].value["Subject"], at.dataframe[0].value["Status"], strict=True))["Written"] == (
        f"written to {outbox} (no SMTP configured)")


def test_calendars_list_status_and_last_error(org, engine):
    at = open_page(org, "calendars")
    assert "No calendars connected yet" in at.info[0].value
    with session_scope(engine) as s:
        s.add_all(
            [
                CalendarConnection(resource_id=org.ada, kind="ics_url", name="Ada work", url="https://cal.test/a.ics",
                                   last_synced_at=T0, last_status="ok"),
                CalendarConnection(resource_id=org.bob, kind="caldav", name="Bob CalDAV",
                                   last_status="error", last_error="401 Unauthorized"),
            ]
        )
    at.run()
    table = at.dataframe[0].value
    assert list(table["Member or room"]) == ["Ada", "Bob"]
    assert list(table["Status"]) == ["ok", "error"]
    assert table.loc[1, "Last error"] == "401 Unauthorized"
    assert table.loc[0, "Last sync (Europe/London)"] == "Tue 01 Dec 09:00"
    assert "1 calendar(s) failed at their last sync" in at.warning[0].value



def test_profile_changes_name_zone_and_password(org, engine):
    from booking_service.services import accounts

    with session_scope(engine) as s:
        accounts.reset_password(s, "sam@example.com", "the old password 1")
    at = open_page(org, "profile")
    at.text_input(key="profile-name").input("Samantha Scheduler")
    at.selectbox(key="profile-zone").select("Asia/Kolkata")
    at.button(key=f"FormSubmitter:profile-{org.admin_id}-Save profile").click().run()
    assert "Profile saved." in [s.value for s in at.success]

    # A wrong current password changes nothing and says so.
    at.text_input(key="profile-password-current").input("not the password")
    at.text_input(key="profile-password-new").input("the new password 2")
    at.text_input(key="profile-password-again").input("the new password 2")
    at.button(key=f"FormSubmitter:profile-password-{org.admin_id}-Change password").click().run()
    assert [e.value for e in at.error] == ["The current password is not right; nothing was changed."]
    # Two different new passwords: nothing is changed either.
    at.text_input(key="profile-password-current").input("the old password 1")
    at.text_input(key="profile-password-new").input("the new password 2")
    at.text_input(key="profile-password-again").input("the new password 3")
    at.button(key=f"FormSubmitter:profile-password-{org.admin_id}-Change password").click().run()
    assert [e.value for e in at.error] == ["The two new passwords differ; nothing was changed. Type the new one twice."]

    at.text_input(key="profile-password-current").input("the old password 1")
    at.text_input(key="profile-password-new").input("the new password 2")
    at.text_input(key="profile-password-again").input("the new password 2")
    at.button(key=f"FormSubmitter:profile-password-{org.admin_id}-Change password").click().run()
    assert not at.exception, at.exception
    assert "Password changed. Every other sign-in of your account has ended; use the new password next time." in [s.value for s in at.success]
    # The typed passwords do not stay in the server's session state.
    assert all(at.session_state[f"profile-password-{k}"] == "" for k in ("current", "new", "again"))
    with session_scope(engine) as s:
        user = s.get(User, org.admin_id)
        assert (user.name, user.zone) == ("Samantha Scheduler", "Asia/Kolkata")
        assert accounts.verify_password(user.password_hash, "the new password 2")
        assert not accounts.verify_password(user.password_hash, "the old password 1")
