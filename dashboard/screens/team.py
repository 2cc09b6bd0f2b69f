"""Team and rooms: team members (zone, working hours), rooms (capacity, opening hours), pools; for
admins, the sites that may embed the booking pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from booking_service.core import display
from booking_service.services import queries, team
from booking_service.services.permissions import PermissionDenied, is_admin
from dashboard import embedding_admin, state, team_policies, views

if TYPE_CHECKING:
    from booking_service.store.models import User

DEFAULT_HOURS = {d: ("09:00-17:00" if d < 5 else "") for d in range(7)}


def read_hours(text: str) -> tuple[str | None, str | None]:
    """How the hours service reads ``text``: ``(reading, None)`` or ``(None, its message)``."""
    try:
        return team.format_hours(team.parse_hours(text)) or "closed", None
    except team.TeamError as exc:
        return None, str(exc)


def hours_inputs(prefix: str, current: dict[int, list[tuple[int, int]]] | None) -> tuple[dict[int, str], list[str]]:
    """One text input per weekday, each with how it was read beneath it.

    Returns the typed text per weekday (0 = Monday) and the problems, one message per day that
    cannot be read; nothing should be saved while there are any.
    """
    st.caption(
        "Hours per weekday, wall clock in the zone above: `09:00-17:00`, `9-5`, `9am-5pm`, "
        "`9-12, 13:00-17:30`; `closed` or empty = off; a shift past midnight: `22:00-02:00 (next day)`."
    )
    columns = st.columns(7)
    typed, problems = {}, []
    for day, column in enumerate(columns):
        key = f"{prefix}-hours-{day}"
        if key not in st.session_state:
            st.session_state[key] = team.format_hours(current[day]) if current is not None else DEFAULT_HOURS[day]
        typed[day] = column.text_input(team.WEEKDAYS[day], key=key)
        reading, problem = read_hours(typed[day])
        if problem is None:
            column.caption(f"Read as **{reading}**")
        else:
            column.caption(":red[Not saved: see below]")
            problems.append(f"{team.WEEKDAYS[day]}: {problem}")
    for problem in problems:
        st.error(problem)
    return typed, problems


def zone_select(label: str, value: str, key: str) -> str:
    zones = display.zone_names()
    return st.selectbox(label, zones, index=zones.index(value) if value in zones else 0, key=key)


def apply(action, success: str, forget: str | None = None) -> None:
    """Run ``action(session)`` in one transaction; show the service's message on refusal.

    ``forget``: prefix of the inputs to start afresh after success (they then show what was
    stored, as the service normalised it: ``9-5`` comes back as ``09:00-17:00``).
    """
    try:
        with state.session() as s:
            action(s)
    except (team.TeamError, PermissionDenied) as exc:
        st.error(str(exc))
        return
    state.data_changed()
    if forget:
        for key in [k for k in st.session_state if str(k).startswith(forget)]:
            del st.session_state[key]
    views.flash(success)
    st.rerun()


def _empty_hours(prefix: str) -> dict[str, str]:
    return {f"{prefix}-hours-{day}": hours for day, hours in DEFAULT_HOURS.items()}


@state.reads("add-member-name", "add-member-email", "add-member-zone", *_empty_hours("add-member"))
def _add_member(me: User) -> Callable[[], None]:
    """The Add team member button's action; the inputs are read as they were when it was clicked."""
    typed = st.session_state
    name, email, zone = typed["add-member-name"], typed["add-member-email"], typed["add-member-zone"]
    hours = {day: typed[f"add-member-hours-{day}"] for day in range(7)}
    return team_policies.create_once(
        lambda s: team.create_member(s, name, zone, email=email, hours=hours, by=me), f"Added {name.strip()}.",
        "add-member", {"add-member-name": "", "add-member-email": "", **_empty_hours("add-member")},
    )


@state.reads("add-room-name", "add-room-capacity", "add-room-zone", *_empty_hours("add-room"))
def _add_room(me: User) -> Callable[[], None]:
    """The Add room button's action."""
    typed = st.session_state
    name, capacity, zone = typed["add-room-name"], int(typed["add-room-capacity"]), typed["add-room-zone"]
    hours = {day: typed[f"add-room-hours-{day}"] for day in range(7)}
    return team_policies.create_once(
        lambda s: team.create_room(s, name, zone, capacity, hours=hours, by=me), f"Added {name.strip()}.",
        "add-room", {"add-room-name": "", "add-room-capacity": 4, **_empty_hours("add-room")},
    )


@state.reads("add-pool-name", "add-pool-members", "add-pool-description")
def _add_pool(me: User) -> Callable[[], None]:
    """The Create pool button's action."""
    typed = st.session_state
    name, member_ids, description = typed["add-pool-name"], typed["add-pool-members"], typed["add-pool-description"]
    return team_policies.create_once(
        lambda s: team.create_pool(s, name, member_ids, description, by=me), f"Created pool {name.strip()}.",
        "add-pool", {"add-pool-name": "", "add-pool-members": [], "add-pool-description": ""},
    )


def _delete_pool(pool_id: int, name: str) -> None:
    try:
        with state.session() as s:
            team.delete_pool(s, pool_id, by=state.current_user())
    except (team.TeamError, PermissionDenied) as exc:
        views.flash(str(exc), "error")
        return
    state.data_changed()
    views.flash(f"Deleted pool {name}.")


def date_hours_editor(prefix: str, resources: list, what: str) -> None:
    """Days off and special days of one member or room (per-date hours replace the weekly pattern)."""
    by_id = {r.id: r for r in resources}
    chosen = by_id[
        st.selectbox(what, list(by_id), format_func=lambda i: by_id[i].name, key=f"{prefix}-dates-pick")
    ]
    special = team.date_hours(chosen)
    if special:
        st.dataframe(
            pd.DataFrame(
                [{"Date": day, "Hours": team.format_hours(hours) or "unavailable"} for day, hours in special.items()]
            ),
            hide_index=True,
        )
    else:
        st.caption(f"{chosen.name} follows the weekly pattern on every date.")
    with st.container(border=True):
        left, middle, right = st.columns([1, 2, 2])
        day = left.date_input("Date", key=f"{prefix}-dates-{chosen.id}-day")
        hours = middle.text_input(
            f"Hours ({chosen.zone})", key=f"{prefix}-dates-{chosen.id}-hours",
            placeholder="empty = unavailable all day; or e.g. 12:00-20:00",
        )
        reading, problem = read_hours(hours)
        if problem is None:
            middle.caption(f"Read as **{reading if reading != 'closed' else 'unavailable all day'}**")
        else:
            st.error(problem)
        note = right.text_input("Note", key=f"{prefix}-dates-{chosen.id}-note", placeholder="public holiday")
        save, clear = st.columns(2)
        if save.button("Save this date", key=f"{prefix}-dates-{chosen.id}-save", type="primary",
                       disabled=problem is not None):
            apply(
                lambda s, rid=chosen.id: team.set_date_hours(s, rid, day, hours, note=note, by=me),
                f"Saved {day:%d %b %Y} for {chosen.name}.",
            )
        if clear.button("Back to the weekly pattern on this date", key=f"{prefix}-dates-{chosen.id}-clear"):
            apply(
                lambda s, rid=chosen.id: team.clear_date_hours(s, rid, day, by=me),
                f"{chosen.name} follows the weekly pattern on {day:%d %b %Y} again.",
            )


def hours_columns(resource) -> dict[str, str]:
    weekly = team.weekly_hours(resource)
    return {team.WEEKDAYS[d][:3]: team.format_hours(weekly[d]) or "—" for d in range(7)}


st.title("Team and rooms")
views.show_flash()
me = state.current_user()
default_zone = state.user_zone()
if not is_admin(me):
    st.caption("Only an admin can change the team, rooms and pools.")

with state.session() as s:
    members = queries.team_members(s, include_inactive=True)
    rooms = queries.rooms(s, include_inactive=True)
    pools = queries.pools(s)

tab_names = ["Team members", "Rooms", "Resource pools"]
if is_admin(me):
    tab_names.append("Embedding")  # the organisation's setting: admins only
# Keyed, so that the tab in use stays open when a change reruns the page with its message above.
tab_members, tab_rooms, tab_pools, *tab_admin = st.tabs(tab_names, key="team-tab")

with tab_members:
    if not members:
        st.info("No team members yet: add the people who attend meetings below.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "Name": m.name,
                        "Email": m.email or "",
                        "Zone": m.zone,
                        **hours_columns(m),
                        "Pools": views.names(m.pools),
                        "Calendars": len(m.connections),
                        "Active": m.active,
                    }
                    for m in members
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    with st.expander("Add a team member", expanded=not members):
        with st.container(border=True):
            st.text_input("Name", key="add-member-name")
            st.text_input("Email", key="add-member-email")
            zone_select("Zone", default_zone, "add-member-zone")
            _typed, problems = hours_inputs("add-member", None)
            st.button("Add team member", key="add-member-save", type="primary", disabled=bool(problems),
                      on_click=state.one_at_a_time, args=(_add_member, me))
            views.show_refusal("add-member")
    if members:
        with st.expander("Edit a team member"):
            by_id = {m.id: m for m in members}
            chosen = by_id[
                st.selectbox(
                    "Team member", list(by_id), format_func=lambda i: f"{by_id[i].name} ({by_id[i].zone})",
                    key="edit-member-pick",
                )
            ]
            with st.container(border=True):
                name = st.text_input("Name", value=chosen.name, key=f"edit-member-{chosen.id}-name")
                email = st.text_input("Email", value=chosen.email or "", key=f"edit-member-{chosen.id}-email")
                zone = zone_select("Zone", chosen.zone, f"edit-member-{chosen.id}-zone")
                active = st.checkbox("Can be booked", value=chosen.active, key=f"edit-member-{chosen.id}-active")
                typed, problems = hours_inputs(f"edit-member-{chosen.id}", team.weekly_hours(chosen))

                def save_member(s, member_id=chosen.id):
                    team.update_member(s, member_id, name=name, email=email, zone=zone, active=active, by=me)
                    team.set_weekly_hours(s, member_id, typed, by=me)

                if st.button("Save team member", key=f"edit-member-{chosen.id}-save", type="primary",
                             disabled=bool(problems)):
                    apply(save_member, f"Saved {name.strip()}.", forget=f"edit-member-{chosen.id}-")

    if members:
        with st.expander("Days off and special hours"):
            date_hours_editor("member", members, "Team member")
        with st.expander("Out of office"):
            team_policies.out_of_office_section(me, members)
        with st.expander("Limits: meetings and hours a day and a week"):
            team_policies.limits_section(me, members, "Team member")

with tab_rooms:
    if not rooms:
        st.info("No rooms yet: meetings can still be booked without a room; add rooms below.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {"Room": r.name, "Capacity": r.capacity, "Zone": r.zone, **hours_columns(r), "Active": r.active}
                    for r in rooms
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    with st.expander("Add a room", expanded=not rooms):
        with st.container(border=True):
            st.text_input("Name", key="add-room-name")
            st.session_state.setdefault("add-room-capacity", 4)  # set here, not as a default: the outcome resets it
            st.number_input("Capacity (seats)", min_value=1, step=1, key="add-room-capacity")
            zone_select("Zone", default_zone, "add-room-zone")
            _typed, problems = hours_inputs("add-room", None)
            st.button("Add room", key="add-room-save", type="primary", disabled=bool(problems),
                      on_click=state.one_at_a_time, args=(_add_room, me))
            views.show_refusal("add-room")
    if rooms:
        with st.expander("Edit a room"):
            rooms_by_id = {r.id: r for r in rooms}
            chosen_room = rooms_by_id[
                st.selectbox(
                    "Room", list(rooms_by_id),
                    format_func=lambda i: f"{rooms_by_id[i].name} ({rooms_by_id[i].capacity} seats)",
                    key="edit-room-pick",
                )
            ]
            rid = chosen_room.id
            with st.container(border=True):
                name = st.text_input("Name", value=chosen_room.name, key=f"edit-room-{rid}-name")
                capacity = st.number_input(
                    "Capacity (seats)", min_value=1, value=chosen_room.capacity, step=1, key=f"edit-room-{rid}-cap"
                )
                zone = zone_select("Zone", chosen_room.zone, f"edit-room-{rid}-zone")
                active = st.checkbox("Can be booked", value=chosen_room.active, key=f"edit-room-{rid}-active")
                typed, problems = hours_inputs(f"edit-room-{rid}", team.weekly_hours(chosen_room))

                def save_room(s, room_id=rid):
                    team.update_room(s, room_id, name=name, zone=zone, capacity=int(capacity), active=active, by=me)
                    team.set_weekly_hours(s, room_id, typed, by=me)

                if st.button("Save room", key=f"edit-room-{rid}-save", type="primary", disabled=bool(problems)):
                    apply(save_room, f"Saved {name.strip()}.", forget=f"edit-room-{rid}-")

    if rooms:
        with st.expander("Closed days and special opening hours"):
            date_hours_editor("room", rooms, "Room")
        with st.expander("Limits: meetings and hours a day and a week"):
            team_policies.limits_section(me, rooms, "Room")

with tab_pools:
    st.caption("A resource pool is a set of team members of whom one (or a panel of several) attends a meeting.")
    if not pools:
        st.info("No resource pools yet: group team members who can stand in for each other below.")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {"Pool": p.name, "Members": views.names(p.members), "Size": len(p.members), "Description": p.description}
                    for p in pools
                ]
            ),
            hide_index=True,
            width="stretch",
        )
    member_ids = [m.id for m in members if m.active]
    member_names = {m.id: m.name for m in members}
    with st.expander("Create a pool", expanded=not pools and bool(members)):
        with st.form("add-pool"):
            st.text_input("Name", key="add-pool-name")
            st.multiselect("Members", member_ids, format_func=member_names.get, key="add-pool-members")
            st.text_input("Description", key="add-pool-description")
            st.form_submit_button("Create pool", type="primary", on_click=state.one_at_a_time, args=(_add_pool, me))
            views.show_refusal("add-pool")
    if pools:
        with st.expander("Edit a pool"):
            pools_by_id = {p.id: p for p in pools}
            pool = pools_by_id[
                st.selectbox("Pool", list(pools_by_id), format_func=lambda i: pools_by_id[i].name, key="edit-pool-pick")
            ]
            with st.form(f"edit-pool-{pool.id}"):
                name = st.text_input("Name", value=pool.name, key=f"edit-pool-{pool.id}-name")
                chosen_ids = st.multiselect(
                    "Members",
                    sorted(set(member_ids) | {m.id for m in pool.members}),
                    default=[m.id for m in pool.members],
                    format_func=member_names.get,
                    key=f"edit-pool-{pool.id}-members",
                )
                description = st.text_input("Description", value=pool.description, key=f"edit-pool-{pool.id}-desc")
                if st.form_submit_button("Save pool", type="primary"):
                    apply(
                        lambda s, pid=pool.id: team.update_pool(
                            s, pid, name=name, member_ids=chosen_ids, description=description, by=me
                        ),
                        f"Saved pool {name.strip()}.",
                    )
            st.button(
                "Delete pool…", key=f"delete-pool-{pool.id}", on_click=views.ask_to_confirm,
                args=("delete-pool", {"id": pool.id, "name": pool.name, "members": views.names(pool.members)}),
            )
        views.confirm_dialog(
            "delete-pool", "Delete this pool?",
            lambda p: (f"Delete the pool **{p['name']}** ({p['members'] or 'no members'})? Its members stay on the "
                       "team; new invitations can no longer choose the pool. Nobody is emailed."),
            "Delete pool", lambda p: _delete_pool(p["id"], p["name"]), busy="Deleting…",
        )
    team_policies.pools_section(me, pools)

for tab_embedding in tab_admin:
    with tab_embedding:
        embedding_admin.embedding_section(me)
