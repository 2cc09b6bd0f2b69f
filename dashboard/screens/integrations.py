"""API keys and webhooks: connect the tools a team already uses (CRM, helpdesk) to Slotwise.

A key is shown once, when it is made; afterwards only its first characters. Making a key or adding a
webhook goes through :func:`dashboard.state.one_at_a_time`, so a double click makes one. Webhook
subscriptions receive the events of what the signed-in user may see; each has its delivery log
and a "send test event" button. The rules are in :mod:`booking_service.services.api_keys` and
:mod:`booking_service.services.webhooks`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from booking_service.core import display
from booking_service.services import api_keys, webhooks
from dashboard import state, views

if TYPE_CHECKING:
    from booking_service.core.config import Settings
    from booking_service.store.models import User

NEW_KEY = "integrations-new-key"
NEW_SECRET = "integrations-new-secret"


def _remember(key: str, value: str) -> None:
    st.session_state[key] = value


@state.reads("api-key-name", "api-key-scopes")
def _make_key(user: User) -> Callable[[], None]:
    """The Make key button's action (:func:`state.one_at_a_time`): the key reaches the page in the outcome."""
    name, scopes = st.session_state["api-key-name"], st.session_state["api-key-scopes"]
    try:
        with state.session(write=True) as s:
            secret = api_keys.create_key(s, s.merge(user), name, scopes).secret
    except api_keys.ApiKeyError as exc:
        return state.Refused(partial(views.flash, str(exc), "error"))
    return partial(_remember, NEW_KEY, secret)


@state.reads("webhook-url", "webhook-events", "webhook-description")
def _add_webhook(user: User, settings: Settings) -> Callable[[], None]:
    """The Add webhook button's action (:func:`state.one_at_a_time`): the secret reaches the page in the outcome."""
    url, events = st.session_state["webhook-url"], st.session_state["webhook-events"]
    description = st.session_state["webhook-description"]
    try:
        with state.session(write=True) as s:
            secret = webhooks.create_subscription(
                s, s.merge(user), url, events, description=description, secret_key=settings.secret_key,
                allowed=webhooks.parse_networks(settings.webhook_allowed_networks),
            ).secret
    except webhooks.WebhookError as exc:
        return state.Refused(partial(views.flash, str(exc), "error"))
    return partial(_remember, NEW_SECRET, secret)


st.title("API keys and webhooks")
views.show_flash()
user = state.current_user()
if user is None:
    st.info("Sign in to make API keys and webhooks.")
    st.stop()
zone = state.user_zone()
settings = state.settings()


def when(value) -> str:
    return display.local(value, zone).strftime("%Y-%m-%d %H:%M") if value else "—"


st.caption(f"The API is at `{settings.public_url}/api/v1` (documentation: `{settings.public_url}/api/v1/docs`). "
           f"A key acts as {user.email}, with your permissions.")

st.subheader("API keys")
if NEW_KEY in st.session_state:
    st.success("Copy the key now: it is not shown again.")
    st.code(st.session_state.pop(NEW_KEY), language=None)
with st.form("api-key-new"):
    st.text_input("Name", placeholder="CRM sync", key="api-key-name")
    st.multiselect("Scopes", list(api_keys.API_KEY_SCOPES), default=["read"], key="api-key-scopes",
                   help="read: every GET; write: create, resend, cancel; webhooks: manage subscriptions")
    st.form_submit_button("Make key", type="primary", on_click=state.one_at_a_time, args=(_make_key, user))

with state.session() as s:
    keys = api_keys.list_keys(s, s.merge(user))
    rows = [{"id": k.id, "name": k.name, "key": f"{k.prefix}…", "scopes": ", ".join(k.scopes),
             "made": when(k.created_at), "last used": when(k.last_used_at),
             "revoked": when(k.revoked_at)} for k in keys]
if rows:
    st.dataframe(pd.DataFrame(rows).set_index("id"), key="api-keys-table")
    live = {r["id"]: f"{r['name']} ({r['key']})" for r in rows if r["revoked"] == "—"}
    if live:
        chosen = st.selectbox("Key to revoke", list(live), format_func=live.get, key="api-key-revoke-choice")
        if st.button("Revoke key", key="api-key-revoke"):
            with state.session(write=True) as s:
                api_keys.revoke_key(s, s.merge(user), chosen)
            views.flash("Key revoked: it opens nothing any more.")
            st.rerun()
else:
    st.info("No API keys yet.")

st.subheader("Webhooks")
if NEW_SECRET in st.session_state:
    st.success("Copy the signing secret now: it is not shown again.")
    st.code(st.session_state.pop(NEW_SECRET), language=None)
with st.form("webhook-new"):
    st.text_input("URL", placeholder="https://crm.example.com/hooks/slotwise", key="webhook-url")
    st.multiselect("Events", list(webhooks.EVENTS), default=["meeting.confirmed", "meeting.cancelled"],
                   key="webhook-events")
    st.text_input("Description", key="webhook-description")
    st.form_submit_button("Add webhook", type="primary", on_click=state.one_at_a_time,
                          args=(_add_webhook, user, settings))

with state.session() as s:
    subscriptions = [(w.id, w.url, list(w.events), w.description) for w in webhooks.subscriptions(s, user)]
if not subscriptions:
    st.info("No webhooks yet.")
for sub_id, sub_url, sub_events, sub_description in subscriptions:
    with st.expander(f"{sub_url} — {', '.join(sub_events)}", expanded=len(subscriptions) == 1):
        if sub_description:
            st.caption(sub_description)
        left, right = st.columns(2)
        if left.button("Send test event", key=f"webhook-test-{sub_id}"):
            with state.session(write=True) as s:
                webhooks.queue_test_event(s, user, sub_id)
            views.flash("Test event queued; the worker sends it within seconds.")
            st.rerun()
        if right.button("Remove webhook", key=f"webhook-delete-{sub_id}"):
            with state.session(write=True) as s:
                webhooks.delete_subscription(s, s.merge(user), sub_id)
            views.flash("Webhook removed.")
            st.rerun()
        with state.session() as s:
            log = [{"event": d.event_type, "status": d.status, "attempts": d.attempts,
                    "answer": d.response_status, "error": d.last_error or "", "queued": when(d.created_at),
                    "delivered": when(d.delivered_at), "webhook-id": d.event_id}
                   for d in webhooks.deliveries(s, user, sub_id)]
        if log:
            st.dataframe(pd.DataFrame(log), key=f"webhook-log-{sub_id}", hide_index=True)
        else:
            st.caption("Nothing delivered yet.")
