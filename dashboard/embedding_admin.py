"""The team page's "Embedding" tab: which other sites may show the customer's booking pages in a frame.

Admins only (the tab is not drawn for anyone else, and the service refuses them all the same).
The list is the organisation's (:mod:`booking_service.services.embedding`); the deployment's
``EMBED_ALLOWED_ORIGINS`` is shown beside it, read-only, because it applies as well.
"""

from __future__ import annotations

import streamlit as st

from booking_service.services import embedding
from booking_service.services.permissions import PermissionDenied
from dashboard import state, views


def embedding_section(me) -> None:
    """The organisation's allowed origins, editable; the deployment's, for reference."""
    with state.session() as s:
        current = embedding.organisation_origins(s)
    deployment = state.settings().embed_allowed_origins
    st.subheader("Sites that may embed the booking pages")
    st.caption(
        "A site listed here may show the customer's booking, reschedule and cancel pages in a frame "
        "(an iframe on its own pages); no other site can. Write each site as its origin: https://, the host "
        "and an optional port, nothing after it. A change applies to the next page a customer opens."
    )
    if deployment:
        st.caption("Allowed for the whole installation as well (EMBED_ALLOWED_ORIGINS, set by whoever runs it): "
                   + ", ".join(deployment))
    with st.form("embed-origins-form"):
        text = st.text_area("Allowed sites, one per line", value="\n".join(current), key="embed-origins",
                            placeholder="https://www.example.com")
        if st.form_submit_button("Save sites", type="primary"):
            try:
                with state.session(write=True) as s:
                    saved = embedding.set_organisation_origins(s, text, by=me)
            except (embedding.EmbeddingError, PermissionDenied) as exc:
                st.error(str(exc))
                return
            st.session_state.pop("embed-origins", None)  # show the list as stored
            views.flash(f"{len(saved)} site{'s' if len(saved) != 1 else ''} may embed the booking pages."
                        if saved else "No site may embed the booking pages"
                        + (" beyond the installation's." if deployment else "."))
            st.rerun()
