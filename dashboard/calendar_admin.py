"""Calendar management on the Calendars page: connect, sync and remove calendars; private feeds.

Admins only (the services refuse everyone else too). Every action calls one service of
:mod:`booking_service.calendars` and reports its outcome as a flash message (a refused connection
under its form):

- connect an ``.ics`` subscription link, an uploaded ``.ics`` file or a CalDAV calendar (once,
  however the button is clicked), and sync it at once so its busy time counts from now on;
- sync a calendar now, or remove it with its busy blocks;
- give a team member or room a new private feed URL (the old one stops working), or revoke it;
- queue failed meeting writes again (after fixing a password, say).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import streamlit as st

from booking_service.calendars.connections import (
    add_caldav_connection,
    add_ics_file_connection,
    add_ics_url_connection,
    remove_connection,
)
from booking_service.calendars.feeds import feed_url, issue_feed_token, revoke_feed_token
from booking_service.calendars.sync import SyncResult, sync_connection
from booking_service.calendars.writeback import retry_failed_writes, writeback_problems
from booking_service.services import queries
from booking_service.services.permissions import PermissionDenied, is_admin
from dashboard import state, views

if TYPE_CHECKING:
    from booking_service.store.models import CalendarConnection, Resource, User


KINDS = {"ics_url": "Subscription link", "ics_file": ".ics file", "caldav": "CalDAV"}
FEED_URL_KEY = "calendar-feed-url"
#: ``st.session_state`` key of the calendar just connected whose first sync is still to run: (id, name).
SYNC_PENDING = "calendar-sync-pending"


def _sync_message(name: str, result: SyncResult) -> tuple[str, str]:
    if result.ok:
        return "success", f"Synced {name}: {result.blocks} busy block(s)."
    return "warning", f"{name} could not be synced: {result.error}"


def _run(action: Callable, done: Callable[[object], None]) -> None:
    """Run ``action(session)`` in one transaction; on refusal show the service's message."""
    try:
        with state.session() as s:
            outcome = action(s)
    except (ValueError, PermissionDenied) as exc:
        st.error(str(exc))
        return
    done(outcome)
    state.data_changed()
    st.rerun()


def _sync_and_report(connection_id: int, name: str, prefix: str = "") -> None:
    settings = state.settings()
    kind, message = _sync_message(name, sync_connection(state.engine(), connection_id, secret_key=settings.secret_key,
                                                         deadline=settings.calendar_deadline_seconds))
    views.flash(prefix + message, kind)


def _confirmed(action: Callable, message: str) -> None:
    """A confirmed action (from a dialog): run it in one transaction; say what happened after the rerun."""
    try:
        with state.session() as s:
            action(s)
    except (ValueError, PermissionDenied) as exc:
        views.flash(str(exc), "error")
        return
    state.data_changed()
    views.flash(message)


#: The Connect form's inputs of each kind of calendar, beside the kind, the owner and the name.
_KIND_INPUTS = {
    "ics_url": ("connect-url",),
    "ics_file": ("connect-file",),
    "caldav": ("connect-caldav-url", "connect-username", "connect-password", "connect-write-back"),
}


def _connect_inputs() -> tuple[str, ...]:
    kind = st.session_state.get("connect-kind")
    return ("connect-kind", "connect-resource", "connect-name", *_KIND_INPUTS.get(kind, ()))


@state.reads(_connect_inputs)
def _connect(me: User, secret_key: str, max_mb: int) -> Callable[[], None] | None:
    """The Connect and sync button's action (:func:`state.one_at_a_time`): one connection however
    it is clicked. The first sync runs in the page, with a spinner (:func:`_sync_connected`); a
    click while it runs finds it pending and does nothing."""
    typed = st.session_state
    if typed.get(SYNC_PENDING):
        return None
    kind, resource_id, name = typed["connect-kind"], typed["connect-resource"], typed["connect-name"]
    try:
        with state.session(write=True) as s:
            if kind == "ics_url":
                connection = add_ics_url_connection(s, resource_id, name, typed["connect-url"], by=me)
            elif kind == "ics_file":
                upload = typed.get("connect-file")
                if upload is None:
                    raise ValueError("choose the .ics file to upload")
                connection = add_ics_file_connection(s, resource_id, name, upload.getvalue(), by=me, max_mb=max_mb)
            else:
                connection = add_caldav_connection(
                    s, resource_id, name, typed["connect-caldav-url"], typed["connect-username"],
                    typed["connect-password"], secret_key=secret_key, write_back=typed["connect-write-back"], by=me,
                )
            connected = (connection.id, connection.name)
    except (ValueError, *state.REFUSED) as exc:
        return state.Refused(partial(views.refuse, "connect", str(exc)))
    state.data_changed()
    return partial(st.session_state.__setitem__, SYNC_PENDING, connected)


def _new_feed(resource_id: int) -> Callable[[], None]:
    """The New feed URL button's action (:func:`state.one_at_a_time`): one new URL however it is
    clicked (each new URL revokes the one before, so a second would leave the first shown dead)."""
    try:
        with state.session(write=True) as s:
            link = feed_url(state.settings().public_url, issue_feed_token(s, queries.resource(s, resource_id)))
    except (ValueError, *state.REFUSED) as exc:
        return state.Refused(partial(views.flash, str(exc), "error"))
    state.data_changed()
    return partial(st.session_state.__setitem__, FEED_URL_KEY, (resource_id, link))


def _sync_connected() -> None:
    """Run the first sync of a calendar just connected (:func:`_connect`), then say how it went."""
    pending = st.session_state.get(SYNC_PENDING)
    if pending is None:
        return
    connection_id, name = pending
    with st.spinner(f"Connected {name}; reading the calendar…"):
        _sync_and_report(connection_id, name, f"Connected {name}. ")
    del st.session_state[SYNC_PENDING]
    state.data_changed()
    st.rerun()


def render(me: User | None) -> None:
    """Draw the management forms (nothing but a note for non-admins)."""
    if not is_admin(me):
        st.caption("Only an admin can connect, sync or remove calendars.")
        return
    with state.session() as s:
        resources: list[Resource] = [*queries.team_members(s), *queries.rooms(s)]
        connections: list[CalendarConnection] = queries.calendar_connections(s)
    if not resources:
        return
    _sync_connected()
    labels = {r.id: f"{r.name} ({'room' if r.kind == 'room' else 'team member'})" for r in resources}
    secret_key = state.settings().secret_key
    max_mb = state.settings().calendar_max_mb

    with st.expander("Connect a calendar", expanded=not connections):
        kind = st.radio("Kind", list(KINDS), format_func=KINDS.get, horizontal=True, key="connect-kind")
        with st.form("connect-calendar"):
            st.selectbox("Team member or room", list(labels), format_func=labels.get, key="connect-resource")
            st.text_input("Name", value="Work calendar", key="connect-name")
            if kind == "ics_url":
                st.text_input("Subscription link (https:// or webcal://)", key="connect-url")
            elif kind == "ics_file":
                st.file_uploader(f"Calendar file (.ics, up to {max_mb} MB)", type=["ics"],
                                 max_upload_size=max_mb, key="connect-file")
            else:
                st.text_input("CalDAV URL (the calendar's, or the server's)", key="connect-caldav-url")
                st.text_input("User name", key="connect-username")
                st.text_input("Password", type="password", key="connect-password")
                st.checkbox("Write booked meetings into this calendar", value=True, key="connect-write-back")
            st.form_submit_button("Connect and sync", type="primary", on_click=state.one_at_a_time,
                                  args=(_connect, me, secret_key, max_mb))
        views.show_refusal("connect")

    if connections:
        by_id = {c.id: c for c in connections}
        with st.expander("Sync or remove a calendar"):
            chosen = st.selectbox("Calendar", list(by_id), key="manage-connection", index=None,
                                  placeholder="Pick a calendar",
                                  format_func=lambda i: f"{by_id[i].resource.name}: {by_id[i].name}")
            picked = by_id.get(chosen)
            sync_column, remove_column = st.columns(2)
            # The buttons' keys name the calendar they were drawn for: a click counts only for it.
            if sync_column.button("Sync now", key=f"sync-connection-{chosen}", disabled=picked is None):
                with st.spinner(f"Reading {picked.name}…"):
                    _sync_and_report(picked.id, picked.name)
                st.rerun()
            remove_column.button(
                "Remove…", key=f"remove-connection-{chosen}", disabled=picked is None,
                on_click=views.ask_to_confirm,
                args=("remove-calendar", {"id": picked.id, "name": picked.name,
                                          "owner": picked.resource.name}) if picked else None,
            )
        views.confirm_dialog(
            "remove-calendar", "Remove this calendar?",
            lambda p: (f"Remove **{p['name']}** of {p['owner']}? Its busy time stops counting at once, so "
                       f"{p['owner']} may be offered for times this calendar had as busy. Nobody is emailed."),
            "Remove calendar", lambda p: _confirmed(lambda s: remove_connection(s, queries.calendar_connection(s, p["id"]), by=me),
                                                     f"Removed {p['name']} and its busy time."),
            busy="Removing…",
        )

    with st.expander("Private calendar feeds"):
        st.caption("A feed lists a team member's or room's Slotwise meetings for calendar apps that "
                   "subscribe to it. Anyone with the URL can read it: a new URL revokes the old one.")
        feed_resource = st.selectbox("Team member or room", list(labels), format_func=labels.get, key="feed-resource",
                                     index=None, placeholder="Pick a team member or room")
        new_column, revoke_column = st.columns(2)
        new_column.button("New feed URL", key=f"feed-new-{feed_resource}", disabled=feed_resource is None,
                          on_click=state.one_at_a_time, args=(_new_feed, feed_resource))
        revoke_column.button(
            "Revoke feed…", key=f"feed-revoke-{feed_resource}", disabled=feed_resource is None,
            on_click=views.ask_to_confirm,
            args=("revoke-feed", {"id": feed_resource, "label": labels.get(feed_resource)}),
        )
        views.confirm_dialog(
            "revoke-feed", "Revoke this feed?",
            lambda p: (f"Revoke the private calendar feed of **{p['label']}**? Calendar apps subscribed to it "
                       "stop receiving its meetings; nobody is emailed."),
            "Revoke feed", lambda p: _confirmed(lambda s: revoke_feed_token(s, queries.resource(s, p["id"])),
                                                f"The feed of {p['label']} is revoked."),
        )
        shown = st.session_state.get(FEED_URL_KEY)
        if shown and shown[0] == feed_resource:
            st.code(shown[1], language=None)

    with state.session() as s:
        gave_up = any(p.status == "failed" for p in writeback_problems(s, me))
    if gave_up and st.button("Retry failed calendar writes", key="retry-writes"):
        _run(lambda s: retry_failed_writes(s), lambda n: views.flash(f"{n} calendar write(s) queued again."))
