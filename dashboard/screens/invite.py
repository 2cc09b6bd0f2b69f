"""Invite to self-schedule: the guided flow from the customer to the sent invitation.

Who → Step 1 meeting details → Step 2 time frame (live slot count and heatmap) → Step 3
notifications (email preview, promoted slots) → Invite. Every check is the invitation
service's (:func:`booking_service.services.invitations.validate_draft`); the page shows its messages next to
the step whose field they name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from booking_service.core import display, i18n
from booking_service.core.clock import utcnow
from booking_service.services import invitations as service
from booking_service.services import pool_policy, queries
from dashboard import state, views

STEPS = ("Who", "1 · Meeting details", "2 · Time frame", "3 · Notifications")
STEP_KEY = "inv-step"
DONE_KEY = "inv-done"
#: Which step owns each field of the draft (the service names the field in its errors).
FIELD_STEP = {
    "customer_name": 0, "customer_email": 0, "customer_zone": 0, "language": 0,
    "subject": 1, "members": 1, "pools": 1, "rooms": 1, "description": 1, "conferencing": 1, "min_capacity": 1,
    "pool_policy": 1,
    "frame_start": 2, "frame_end": 2, "zone": 2, "duration_minutes": 2, "slot_interval_minutes": 2,
    "buffer_before_minutes": 2, "buffer_after_minutes": 2, "minimum_notice_minutes": 2,
    "change_cutoff_hours": 2, "max_reschedules": 2,
    "promote": 3, "promote_count": 3, "promoted_starts": 3,
}
ERROR_KEY = "inv-error"
SAME_ZONE = "Same as the meeting's zone"
BROWSER_LANGUAGE = "Their browser's language"
DURATIONS = (15, 20, 30, 45, 60, 90, 120, 180, 240)
INTERVALS = (5, 10, 15, 20, 30, 45, 60, 90, 120)


def defaults(zone: str, today: dt.date) -> dict[str, object]:
    """Initial values of the wizard's inputs (a new invitation)."""
    return {
        "inv-name": "", "inv-email": "", "inv-customer-zone": SAME_ZONE, "inv-language": BROWSER_LANGUAGE,
        "inv-subject": "", "inv-members": [], "inv-pools": [], "inv-rooms": [], "inv-policy": "",
        "inv-description": "", "inv-conferencing": "", "inv-capacity": 2,
        "inv-frame": (today + dt.timedelta(days=1), today + dt.timedelta(days=14)),
        "inv-zone": zone, "inv-duration": 30, "inv-interval": 15,
        "inv-before": 0, "inv-after": 0, "inv-notice": 4,
        "inv-promote": False, "inv-k": 3,
    }


def keep_inputs(initial: dict[str, object]) -> None:
    """Keep every input's value while its step is not shown (Streamlit forgets unrendered widgets)."""
    for key, value in initial.items():
        st.session_state[key] = st.session_state.get(key, value)


def reset(initial: dict[str, object]) -> None:
    for key in [*initial, STEP_KEY, ERROR_KEY]:
        st.session_state.pop(key, None)
    for key in [k for k in st.session_state if str(k).startswith("inv-pick-")]:
        del st.session_state[key]


def frame_dates() -> tuple[dt.date, dt.date] | None:
    value = st.session_state["inv-frame"]
    if isinstance(value, tuple | list) and len(value) == 2 and all(value):
        return value[0], value[1]
    return None


def current_draft(promoted_starts: tuple[dt.datetime, ...] | None = None) -> service.InvitationDraft:
    """The draft as the inputs say now."""
    ss = st.session_state
    first, last = frame_dates() or (ss["inv-frame"][0], ss["inv-frame"][0])
    return service.InvitationDraft(
        customer_name=ss["inv-name"],
        customer_email=ss["inv-email"],
        subject=ss["inv-subject"],
        duration_minutes=int(ss["inv-duration"]),
        frame_start=first,
        frame_end=last,
        members=tuple(ss["inv-members"]),
        pools=tuple(ss["inv-pools"]),
        pool_policy=ss.get("inv-policy") or None,
        rooms=tuple(ss["inv-rooms"]),
        description=ss["inv-description"],
        conferencing=ss["inv-conferencing"],
        buffer_before_minutes=int(ss["inv-before"]),
        buffer_after_minutes=int(ss["inv-after"]),
        minimum_notice_minutes=int(ss["inv-notice"] * 60),
        slot_interval_minutes=int(ss["inv-interval"]),
        min_capacity=int(ss["inv-capacity"]),
        zone=ss["inv-zone"],
        customer_zone=None if ss["inv-customer-zone"] == SAME_ZONE else ss["inv-customer-zone"],
        language=None if ss.get("inv-language", BROWSER_LANGUAGE) == BROWSER_LANGUAGE else ss["inv-language"],
        promote=bool(ss["inv-promote"]),
        promote_count=int(ss["inv-k"]),
        promoted_starts=promoted_starts,
        # The installation's defaults stay defaults (None) unless the scheduler changed them.
        change_cutoff_hours=None if ss["inv-cutoff"] == settings.change_cutoff_hours else int(ss["inv-cutoff"]),
        max_reschedules=None if ss["inv-moves"] == settings.max_reschedules else int(ss["inv-moves"]),
    )


def check(draft: service.InvitationDraft, up_to: int) -> service.InvitationError | None:
    """The service's verdict on the fields of steps ``0..up_to`` (later steps' errors are not shown yet)."""
    try:
        with state.session() as s:
            service.validate_draft(s, draft, by=me, now=utcnow(), default_zone=settings.default_zone)
    except service.InvitationError as exc:
        if FIELD_STEP.get(exc.field, 3) <= up_to:
            return exc
    return None


def go(step: int) -> None:
    st.session_state[STEP_KEY] = step
    st.rerun()


def step_header(step: int) -> None:
    st.caption("  →  ".join(f"**{name}**" if i == step else name for i, name in enumerate(STEPS)))
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(error)


def nav(step: int, *, can_continue: bool = True) -> tuple[bool, bool]:
    back_col, next_col, _ = st.columns([1, 1, 4])
    back = step > 0 and back_col.button("Back", key=f"inv-back-{step}", width="stretch")
    forward = next_col.button("Continue", key=f"inv-next-{step}", type="primary", width="stretch", disabled=not can_continue)
    return back, forward


def continue_if_valid(step: int) -> None:
    """Check the fields up to ``step`` with the service; go on, or back to the step at fault."""
    error = check(current_draft(), step)
    if error is None:
        go(step + 1)
    owner = FIELD_STEP.get(error.field, step)
    if owner != step:
        st.session_state[ERROR_KEY] = str(error)
        go(owner)
    st.error(str(error))


def send(draft: service.InvitationDraft, delivery: str, initial: dict[str, object]) -> Callable[[], None] | None:
    """The Invite button's action (through :func:`state.one_at_a_time`): create the invitation the page showed, once.

    A second click waits for the first and does not send again; one handled later finds the
    invitation already sent and does nothing. Once the invitation exists, the page is changed only
    through the returned outcome, so a run stopped by a click still shows the link.
    """
    if st.session_state.get(DONE_KEY):
        return None
    settings = state.settings()
    me = state.current_user()
    try:
        with state.session(write=True) as s:
            created = service.create_invitation(
                s, draft, by=me, public_url=settings.public_url, secret_key=settings.secret_key,
                default_zone=settings.default_zone, deliver=delivery,
            )
            link, slots, invitation_id = created.link, created.slot_count, created.invitation.id
            link_zone = created.invitation.customer_zone or created.invitation.zone
            slot_links = [(views.when(start, end, link_zone), url) for start, end, url in created.slot_links]
    except service.InvitationError as exc:
        return state.Refused(partial(refused, str(exc), FIELD_STEP.get(exc.field, 3)))
    except state.REFUSED as exc:
        return state.Refused(partial(refused, str(exc), None))
    state.data_changed()
    done = {
        "customer": draft.customer_name.strip(), "email": draft.customer_email.strip(),
        "link": link, "slots": slots, "delivery": delivery, "slot_links": slot_links,
    }
    return partial(sent, invitation_id, done, initial)


def refused(message: str, step: int | None) -> None:
    st.session_state[ERROR_KEY] = message
    if step is not None:
        st.session_state[STEP_KEY] = step


def sent(invitation_id: int, done: dict[str, object], initial: dict[str, object]) -> None:
    st.session_state.setdefault(state.LINKS_KEY, {})[invitation_id] = done["link"]
    st.session_state[DONE_KEY] = done
    reset(initial)


# --- page ---------------------------------------------------------------------------------------

st.title("Invite to self-schedule")
settings = state.settings()
me = state.current_user()
profile_zone = state.user_zone()
today = utcnow().astimezone(ZoneInfo(profile_zone)).date()
initial = defaults(profile_zone, today) | {
    "inv-cutoff": settings.change_cutoff_hours, "inv-moves": settings.max_reschedules,
}

done = st.session_state.get(DONE_KEY)
if done:
    if done.get("delivery", "email") == "email":
        st.success(f"Invitation sent to {done['customer']} ({done['email']}). The email is in the outbox.")
        st.caption("Booking link (it is shown only now):")
        views.copyable(done["link"], key="inv-done-link")
    else:
        st.success(
            f"Invitation for {done['customer']} ({done['email']}) created. No email was sent: copy the "
            "links below into your own message (they are shown only now)."
        )
        st.caption("The customer's link (all available times):")
        views.copyable(done["link"], key="inv-done-link")
        for n, (when_text, url) in enumerate(done.get("slot_links", [])):
            st.caption(f"Book {when_text} directly:")
            views.copyable(url, key=f"inv-done-slot-{n}")
    st.caption(f"{done['slots']} slot(s) available when it was sent.")
    sent_col, again_col, _ = st.columns([1, 2, 3])
    # Sent once: the Invite button stays in view but cannot send the same invitation again.
    sent_col.button("Invite", key="inv-invite-sent", type="primary", width="stretch", disabled=True,
                    help="This invitation is sent. Start the next one with “Invite someone else”.")
    if again_col.button("Invite someone else", key="inv-again", width="stretch"):
        del st.session_state[DONE_KEY]
        reset(initial)
        st.rerun()
    st.stop()

keep_inputs(initial)
step = st.session_state.setdefault(STEP_KEY, 0)
step_header(step)

with state.session() as s:
    members = queries.team_members(s)
    pools = queries.pools(s)
    rooms = queries.rooms(s)
member_names = {m.id: f"{m.name} ({m.zone})" for m in members}
pool_names = {p.id: f"{p.name} ({len(p.members)} members)" for p in pools}
room_names = {r.id: f"{r.name} ({r.capacity} seats)" for r in rooms}

if step == 0:
    st.subheader("Who are you inviting?")
    st.text_input("Participant name", key="inv-name", placeholder="Ada Lovelace")
    st.text_input("Email", key="inv-email", placeholder="ada@example.com")
    st.selectbox(
        "Their zone, if you know it", (SAME_ZONE, *display.zone_names()), key="inv-customer-zone",
        help="The email shows times in this zone, and the promoted slots favour its business hours.",
    )
    st.selectbox(
        "Their language", (BROWSER_LANGUAGE, *i18n.LANGUAGES), key="inv-language",
        format_func=lambda code: code if code == BROWSER_LANGUAGE else i18n.language_name(code),
        help="The invitation email and the booking pages speak it; by default the pages follow the "
             "customer's browser, and the customer can switch on the page.",
    )
    _, forward = nav(0)
    if forward:
        continue_if_valid(0)

elif step == 1:
    st.subheader("Step 1 · Meeting details")
    st.text_input("Subject", key="inv-subject", placeholder="Introduction call")
    if not members:
        st.warning("There are no team members yet: add them under **Team and rooms** first.")
    left, right = st.columns(2)
    left.multiselect(
        "Team members (all attend)", list(member_names), format_func=member_names.get, key="inv-members",
    )
    right.multiselect(
        "Resource pools (any one member attends)", list(pool_names), format_func=pool_names.get, key="inv-pools",
    )
    if st.session_state["inv-pools"]:
        right.selectbox(
            "Who attends from the pools", ["", *pool_policy.POLICIES], key="inv-policy",
            format_func=lambda p: pool_policy.POLICY_NAMES.get(p, "each pool's own policy"),
        )
    st.text_area("Description", key="inv-description", height=100)
    st.text_area(
        "Conferencing information", key="inv-conferencing", height=70,
        placeholder="https://meet.example.com/intro or a dial-in number",
    )
    left, right = st.columns([3, 1])
    left.multiselect(
        "Rooms (one of them is reserved; leave empty for an online meeting)", list(room_names),
        format_func=room_names.get, key="inv-rooms",
    )
    right.number_input("Seats needed", min_value=1, max_value=500, step=1, key="inv-capacity")
    back, forward = nav(1)
    if back:
        go(0)
    if forward:
        continue_if_valid(1)

elif step == 2:

    @st.fragment
    def time_frame_step() -> None:
        """Step 2 reruns on its own while its fields change: the count is all that must update."""
        st.subheader("Step 2 · Time frame")
        views.commit_while_typing()  # the count follows typed dates and numbers as they are typed
        zones = display.zone_names()
        left, right = st.columns([2, 1])
        left.date_input("Dates (first and last day)", key="inv-frame", min_value=today)
        right.selectbox("Zone", zones, key="inv-zone", help="The frame's dates and the slot grid are in this zone.")
        c1, c2, c3, c4, c5 = st.columns(5)
        c1.selectbox("Duration (minutes)", DURATIONS, key="inv-duration")
        c2.selectbox("Slot interval (minutes)", INTERVALS, key="inv-interval")
        c3.number_input("Buffer before (min)", min_value=0, max_value=240, step=5, key="inv-before")
        c4.number_input("Buffer after (min)", min_value=0, max_value=240, step=5, key="inv-after")
        c5.number_input("Minimum notice (hours)", min_value=0, max_value=24 * 30, step=1, key="inv-notice")
        c6, c7 = st.columns(2)
        c6.number_input("Customer may reschedule or cancel until (hours before)", min_value=0, max_value=24 * 366,
                        step=1, key="inv-cutoff")
        c7.number_input("Reschedules allowed", min_value=0, max_value=100, step=1, key="inv-moves")

        if frame_dates() is None:
            st.info("Pick the last day of the frame too.")
        else:
            error = check(current_draft(), 2)
            if error is not None:
                st.error(str(error))
            else:
                with st.spinner("Looking for free time…"):
                    view = state.live_view(current_draft(), me, utcnow())
                st.metric("Available slots", view.count)
                st.caption(f"Counted in {view.count_ms:.1f} ms on the organisation's availability grid.")
                if view.policy:
                    effect = ""
                    if view.count_without is not None and view.count_without != view.count:
                        effect = (f" It leaves {view.count} of the {view.count_without} slots that any free pool "
                                  "member, without limits, would give.")
                    st.caption(f"Who attends: {view.policy}.{effect}")
                if view.count:
                    zone = st.session_state["inv-zone"]
                    data, spec = views.slot_heatmap(view.starts, zone, frame=frame_dates())
                    st.caption(f"Where the slots are: start times by day and hour ({zone}).")
                    st.vega_lite_chart(data, spec, width="stretch", height=spec["height"])
                else:
                    st.warning(
                        "**No slots in this frame.** " + view.why
                        + "\n\nWhat helps: widen the frame, shorten the meeting, lower the buffers or the minimum "
                        "notice, or change the team members (a pool instead of one person, fewer room constraints)."
                    )
        back, forward = nav(2, can_continue=frame_dates() is not None)
        if back:
            go(1)
        if forward:
            continue_if_valid(2)

    time_frame_step()

else:
    st.subheader("Step 3 · External participant notifications")
    draft = current_draft()
    error = check(draft, 3)
    if error is not None:
        st.session_state[ERROR_KEY] = str(error)
        go(FIELD_STEP.get(error.field, 2))
    now = utcnow()
    view = state.live_view(draft, me, now)
    zone = st.session_state["inv-zone"]

    st.checkbox("Promote specific time slots in the email", key="inv-promote")
    chosen: list[pd.Timestamp] = []
    if st.session_state["inv-promote"] and view.count:
        most = min(10, view.count)
        st.session_state["inv-k"] = min(st.session_state["inv-k"], most)  # the frame may have shrunk
        st.number_input("How many slots to promote", min_value=1, max_value=most, step=1, key="inv-k")
        with st.spinner("Choosing the best slots…"):
            picks = state.promoted_picks(current_draft(), me, now)
        options = list(view.starts)
        labels = {t: display.format_when(t, t + pd.Timedelta(minutes=draft.duration_minutes), zone) for t in options}
        st.caption("The optimizer's picks and why; swap any of them for another available slot.")
        for rank, row in enumerate(picks.itertuples(index=False), start=1):
            left, right = st.columns([2, 3])
            key, base = f"inv-pick-{rank}", f"inv-pick-{rank}-was"
            # A new set of picks (other k, frame or team) replaces earlier swaps.
            if st.session_state.get(base) != row.start or st.session_state.get(key) not in labels:
                st.session_state[key] = st.session_state[base] = row.start
            picked = left.selectbox(f"Slot {rank}", options, format_func=labels.get, key=key)
            right.caption(
                f"Optimizer's pick: {labels.get(row.start, row.start)} — {row.reason}"
                if picked == row.start else f"Chosen by you instead of {labels.get(row.start, row.start)}."
            )
            chosen.append(picked)
        if len(set(chosen)) != len(chosen):
            st.warning("The same slot is promoted twice; pick different slots.")

    distinct = len(set(chosen)) == len(chosen)
    draft = current_draft(tuple(t.to_pydatetime() for t in chosen) if chosen and distinct else None)
    st.markdown("**Preview of the email**")
    with st.container(border=True):
        preview = state.preview_mail(draft, me)
        st.markdown(f"**Subject:** {preview.subject}  \n**To:** {draft.customer_name} <{draft.customer_email}>")
        st.html(preview.html)

    reason = None
    if not view.count:
        reason = "No slot is available in this frame, so the customer could not pick a time. " + view.why.split("\n\n")[0]
    elif not distinct:
        reason = "The same slot is promoted twice."
    delivery = st.radio(
        "Delivery",
        ["email", "links"],
        format_func={"email": "Slotwise sends the personalized email",
                     "links": "I'll copy the links and send them myself"}.get,
        key="inv-delivery",
        horizontal=True,
    )
    back_col, invite_col, _ = st.columns([1, 1, 4])
    if back_col.button("Back", key="inv-back-3", width="stretch"):
        go(2)
    invite_col.button(
        "Invite", key="inv-invite", type="primary", width="stretch", disabled=reason is not None, help=reason,
        on_click=state.one_at_a_time, args=(send, draft, delivery, initial),
    )
    if reason:
        st.caption(f"Invite is disabled: {reason}")
