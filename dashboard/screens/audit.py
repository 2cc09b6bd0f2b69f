"""Audit log (admins only): every change users made, who made it and when."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from booking_service.services import accounts, audit
from booking_service.services.permissions import PermissionDenied, require_admin
from dashboard import state, views

ALL = ""

st.title("Audit log")
me = state.current_user()
try:
    require_admin(me, "read the audit log")
except PermissionDenied as exc:
    st.error(str(exc))
    st.stop()
zone = state.user_zone()

with state.session() as s:
    users = accounts.list_users(s)
user_names = {0: "Everyone", **{u.id: f"{u.name} <{u.email}>" for u in users}}
left, right = st.columns(2)
action = left.selectbox("Action", [ALL, *audit.ACTIONS],
                        format_func=lambda a: "All actions" if a == ALL else f"{a} — {audit.ACTIONS[a]}",
                        key="audit-action")
user_id = right.selectbox("Who", list(user_names), format_func=user_names.get, key="audit-user")

try:
    with state.session() as s:
        rows = audit.entry_rows(
            audit.entries(s, viewer=s.get(type(me), me.id) if me else None,
                          action=action or None, user_id=user_id or None),
            session=s,
        )
except PermissionDenied as exc:
    st.error(str(exc))
    st.stop()

if not rows:
    st.info("Nothing recorded yet for this choice. Changes appear here as users make them.")
    st.stop()
table = pd.DataFrame(rows)
table["at"] = [views.short_when(t, zone) for t in table["at"]]
table = table.rename(columns={"at": f"When ({zone})", "who": "Who", "what": "What", "target": "Target",
                              "details": "Details"}).drop(columns=["action"])
st.caption(f"The newest {len(table)} entries.")
st.dataframe(
    table, hide_index=True, width="stretch",
    column_config={"Details": st.column_config.TextColumn(width="large"), "Who": st.column_config.TextColumn(width="medium")},
)
