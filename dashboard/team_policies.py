"""The team page's parts for team scheduling: pool policies and fairness, limits, out of office.

Rendered inside the tabs of ``dashboard/screens/team.py``; every change goes through the services
(:mod:`booking_service.services.pool_policy`, :mod:`~booking_service.services.limits`,
:mod:`~booking_service.services.out_of_office`) in one write transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from booking_service.core.clock import utcnow
from booking_service.services import limits as limits_service
from booking_service.services import out_of_office, pool_policy, team
from booking_service.services.pool_policy import POLICIES, POLICY_NAMES
from dashboard import state, views

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

RECENT_DAYS = 90
#: The services' refusals a change on the team page shows in words.
_REFUSALS = (team.TeamError, pool_policy.PolicyError, limits_service.LimitError, out_of_office.OutOfOfficeError,
             *state.REFUSED)


def create_once(make: Callable[[Session], object], success: str, form: str, empty: dict[str, object]) -> Callable[[], None]:
    """What a button that adds something does, through :func:`state.one_at_a_time` (a double click adds one).

    ``make(session)`` runs in one write transaction. Returns the outcome for the page: on success
    the message, and the form's inputs set to ``empty`` for the next one; on refusal the service's
    message, shown under the form's button (:func:`views.show_refusal`), with what was typed kept.
    """
    try:
        with state.session(write=True) as s:
            make(s)
    except _REFUSALS as exc:
        return state.Refused(partial(views.refuse, form, str(exc)))
    state.data_changed()
    return partial(_created, success, empty)


def _created(success: str, empty: dict[str, object]) -> None:
    st.session_state.update(empty)
    views.flash(success)


def _apply(action, success: str) -> None:
    """Run ``action(session)`` in one write transaction; show the service's message on refusal."""
    try:
        with state.session(write=True) as s:
            action(s)
    except _REFUSALS as exc:
        st.error(str(exc))
        return
    state.data_changed()
    views.flash(success)
    st.rerun()


def _policy_label(policy: str | None, default: str) -> str:
    return f"organisation default ({POLICY_NAMES[default]})" if policy is None else POLICY_NAMES[policy]


def pools_section(me, pools: list) -> None:
    """Policy, panel size, weights and each member's share of recent bookings against their target."""
    with state.session() as s:
        default = pool_policy.organisation_policy(s)
        since = utcnow() - dt.timedelta(days=RECENT_DAYS)
        shares = pool_policy.pool_fairness(s, since=since)
        weights = {p.id: pool_policy.member_weights(s, [p.id]).get(p.id, {}) for p in pools}
    st.subheader("Who attends: assignment policies")
    st.caption(
        "Pooled: any free member, fewest meetings first. Strict round robin: only the member whose turn it "
        "is counts, skipping members off for the whole frame. Weighted: each member's share of bookings "
        "approaches their weight's share. A panel needs several members of the pool at once."
    )
    if pools:
        rows = []
        for p in pools:
            for m in p.members:
                w, prio = weights[p.id].get(str(m.id), (1, 0))
                share = shares[(shares["pool_id"] == str(p.id)) & (shares["member_id"] == str(m.id))]
                rows.append({
                    "Pool": p.name, "Policy": _policy_label(p.policy, default), "Panel": f"{p.panel_size} of {len(p.members)}",
                    "Member": m.name, "Weight": w, "Priority": prio,
                    f"Bookings ({RECENT_DAYS} days)": int(share["bookings"].sum()) if len(share) else 0,
                    "Share": f"{share['share'].iloc[0]:.0%}" if len(share) else "0%",
                    "Target": f"{share['target_share'].iloc[0]:.0%}" if len(share) else "—",
                    "Limits": limits_service.limits_of(m).describe(),
                })  # fmt: skip
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    with st.expander("Organisation default policy"):
        with st.form("team-default-policy"):
            chosen = st.selectbox("Default for pools without their own", POLICIES, index=POLICIES.index(default),
                                  format_func=POLICY_NAMES.get, key="team-default-policy-pick")  # fmt: skip
            if st.form_submit_button("Save default", type="primary"):
                _apply(lambda s: pool_policy.set_organisation_policy(s, chosen, by=me),
                       f"New pools follow {POLICY_NAMES[chosen]}.")  # fmt: skip
    if not pools:
        return
    with st.expander("Change a pool's policy, panel size and weights"):
        by_id = {p.id: p for p in pools}
        pool = by_id[st.selectbox("Pool", list(by_id), format_func=lambda i: by_id[i].name, key="policy-pool-pick")]
        options = ["", *POLICIES]
        with st.form(f"policy-{pool.id}"):
            policy = st.selectbox(
                "Policy", options, index=options.index(pool.policy or ""), key=f"policy-{pool.id}-policy",
                format_func=lambda o: _policy_label(o or None, default),
            )
            left, right = st.columns(2)
            panel = left.number_input("Members per meeting (panel size)", min_value=1, max_value=max(len(pool.members), 1),
                                      value=int(pool.panel_size), step=1, key=f"policy-{pool.id}-panel")  # fmt: skip
            compensate = right.checkbox("Give cancelled meetings back to the member who lost them",
                                        value=pool.compensate_removed, key=f"policy-{pool.id}-compensate")  # fmt: skip
            new_weights, new_priorities = {}, {}
            for m in pool.members:
                w, prio = weights[pool.id].get(str(m.id), (1, 0))
                a, b = st.columns(2)
                new_weights[m.id] = int(a.number_input(f"Weight of {m.name}", 0, 100, int(w), key=f"policy-{pool.id}-w-{m.id}"))
                new_priorities[m.id] = int(b.number_input(f"Priority of {m.name}", -100, 100, int(prio),
                                                          key=f"policy-{pool.id}-p-{m.id}"))  # fmt: skip
            if st.form_submit_button("Save policy", type="primary"):
                _apply(
                    lambda s, pid=pool.id: pool_policy.configure_pool(
                        s, pid, policy=policy, panel_size=int(panel), compensate_removed=compensate,
                        weights=new_weights, priorities=new_priorities, by=me,
                    ),
                    f"Saved the policy of {pool.name}.",
                )


def _minutes(text: str, what: str) -> int | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        hours = float(text.replace(",", "."))
    except ValueError:
        raise limits_service.LimitError(f"{what} must be a number of hours such as 5 or 4.5, got {text!r}") from None
    return round(hours * 60)


def limits_section(me, resources: list, what: str) -> None:
    """Limits of one member or room: meetings and hours per day and week (empty = no limit)."""
    by_id = {r.id: r for r in resources}
    chosen = by_id[st.selectbox(what, list(by_id), format_func=lambda i: by_id[i].name, key=f"limits-{what}-pick")]
    now = limits_service.limits_of(chosen)
    st.caption(f"{chosen.name}: {now.describe()} (days and weeks in {chosen.zone}).")
    with st.form(f"limits-{chosen.id}"):
        cols = st.columns(4)
        day_n = cols[0].text_input("Meetings a day", value="" if now.max_meetings_day is None else str(now.max_meetings_day),
                                   key=f"limits-{chosen.id}-dn")  # fmt: skip
        day_h = cols[1].text_input("Hours a day", value="" if now.max_minutes_day is None else f"{now.max_minutes_day / 60:g}",
                                   key=f"limits-{chosen.id}-dh")  # fmt: skip
        week_n = cols[2].text_input("Meetings a week", value="" if now.max_meetings_week is None else str(now.max_meetings_week),
                                    key=f"limits-{chosen.id}-wn")  # fmt: skip
        week_h = cols[3].text_input("Hours a week", value="" if now.max_minutes_week is None else f"{now.max_minutes_week / 60:g}",
                                    key=f"limits-{chosen.id}-wh")  # fmt: skip
        if st.form_submit_button("Save limits", type="primary"):
            def save(s, rid=chosen.id):
                def count(text: str, label: str) -> int | None:
                    text = text.strip()
                    if not text:
                        return None
                    if not text.isdigit():
                        raise limits_service.LimitError(f"{label} must be a whole number, got {text!r}")
                    return int(text)

                limits_service.set_limits(s, rid, limits_service.ResourceLimits(
                    count(day_n, "meetings a day"), _minutes(day_h, "hours a day"),
                    count(week_n, "meetings a week"), _minutes(week_h, "hours a week"),
                ), by=me)  # fmt: skip

            _apply(save, f"Saved the limits of {chosen.name}.")


@state.reads("ooo-member", "ooo-dates", "ooo-stand-in", "ooo-note")
def _mark_away(me, names: dict[int, str]) -> Callable[[], None]:
    """The Mark out of office button's action (:func:`state.one_at_a_time`): one absence however it is clicked."""
    typed = st.session_state
    member, dates, stand_in, note = typed["ooo-member"], typed["ooo-dates"], typed["ooo-stand-in"], typed["ooo-note"]
    if not isinstance(dates, tuple | list) or len(dates) != 2:
        return state.Refused(partial(views.refuse, "out-of-office", "Pick the last date away too."))
    first, last = dates
    return create_once(
        lambda s: out_of_office.mark_away(s, member, first, last, stand_in_id=stand_in or None, note=note, by=me),
        f"{names[member]} is out of office from {first:%d %b} to {last:%d %b %Y}.", "out-of-office", {"ooo-note": ""},
    )


@state.reads("ooo-remove-pick")
def _back_in_office(me, labels: dict[int, str]) -> Callable[[], None]:
    """The Remove these dates button's action: a double click removes once and says so once."""
    gone = st.session_state["ooo-remove-pick"]
    return create_once(lambda s: out_of_office.remove_absence(s, gone, by=me), f"Removed {labels[gone]}.",
                       "back-in-office", {})


def out_of_office_section(me, members: list) -> None:
    """Mark a member away for a range of dates (one action), with a stand-in; list and end absences."""
    active = {m.id: m for m in members if m.active}
    if not active:
        return
    today = utcnow().date()
    with state.session() as s:
        current = [(a.id, a.member.name, a.first_date, a.last_date, a.stand_in.name if a.stand_in else "—", a.note)
                   for a in out_of_office.absences(s, since=today)]  # fmt: skip
    if current:
        st.dataframe(pd.DataFrame(current, columns=["Id", "Member", "From", "To", "Stand-in", "Note"]).drop(columns="Id"),
                     hide_index=True)  # fmt: skip
    with st.form("out-of-office"):
        left, right = st.columns(2)
        left.selectbox("Member", list(active), format_func=lambda i: active[i].name, key="ooo-member")
        right.date_input("Dates away", value=(today, today + dt.timedelta(days=4)), key="ooo-dates")
        stand_ins = [0, *active]
        left.selectbox("Stand-in in their pools (optional)", stand_ins, key="ooo-stand-in",
                       format_func=lambda i: "nobody" if i == 0 else active[i].name)  # fmt: skip
        right.text_input("Note", key="ooo-note", placeholder="holiday")
        st.form_submit_button("Mark out of office", type="primary", on_click=state.one_at_a_time,
                              args=(_mark_away, me, {i: m.name for i, m in active.items()}))
        views.show_refusal("out-of-office")
    if current:
        with st.form("back-in-office"):
            labels = {a[0]: f"{a[1]}, {a[2]:%d %b} to {a[3]:%d %b %Y}" for a in current}
            st.selectbox("Absence", list(labels), format_func=labels.get, key="ooo-remove-pick")
            st.form_submit_button("Remove these dates", on_click=state.one_at_a_time, args=(_back_in_office, me, labels))
    views.show_refusal("back-in-office")  # also when the absence is gone from the list (removed by someone else)
