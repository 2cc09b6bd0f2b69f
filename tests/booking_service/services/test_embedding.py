"""The organisation's list of sites that may frame the customer's pages: admins set it, checked and audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from booking_service.core.config import Settings
from booking_service.services import audit, embedding
from booking_service.services.embedding import EmbeddingError
from booking_service.services.permissions import PermissionDenied
from booking_service.store.models import AuditEntry, TeamSettings, User


def _user(session, email: str, role: str) -> User:
    user = User(email=email, name=email.split("@")[0].title(), zone="Europe/London", role=role)
    session.add(user)
    session.flush()
    return user


@pytest.fixture
def admin(session) -> User:
    return _user(session, "root@example.com", "admin")


def test_none_until_an_admin_adds_some(session):
    assert embedding.organisation_origins(session) == ()
    assert embedding.allowed_origins(session, Settings()) == ()


def test_an_admin_sets_the_list_checked_and_written_as_origins(session, admin):
    stored = embedding.set_organisation_origins(
        session, "https://WWW.Example.com/, https://shop.example.com:8443\nhttps://www.example.com", by=admin)
    assert stored == ("https://www.example.com", "https://shop.example.com:8443")
    session.commit()
    assert embedding.organisation_origins(session) == stored
    assert session.get(TeamSettings, 1).default_pool_policy == "pooled"  # the row is created with its defaults
    assert embedding.set_organisation_origins(session, ["https://a.example.com"], by=admin) == ("https://a.example.com",)
    assert embedding.set_organisation_origins(session, "", by=admin) == ()
    assert embedding.organisation_origins(session) == ()


def test_the_deployments_origins_come_first_then_the_organisations(session, admin):
    embedding.set_organisation_origins(session, "https://shop.example.com https://www.example.com", by=admin)
    settings = Settings(embed_allowed_origins=("https://www.example.com", "https://partner.example.org"))
    assert embedding.allowed_origins(session, settings) == (
        "https://www.example.com", "https://partner.example.org", "https://shop.example.com")


@pytest.mark.parametrize("bad", [
    "https://www.example.com/booking", "www.example.com", "ftp://example.com", "https://*.example.com",
    "https://example.com;script-src", "https://example.com:70000", "https://example.com?embed=1",
])
def test_a_bad_origin_is_named_with_an_example_and_nothing_is_saved(session, admin, bad):
    embedding.set_organisation_origins(session, "https://www.example.com", by=admin)
    with pytest.raises(EmbeddingError) as raised:
        embedding.set_organisation_origins(session, f"https://ok.example.com {bad}", by=admin)
    assert str(raised.value) == (
        f"allowed origin {bad!r} is not a web origin; write it as http(s)://host with an optional port and "
        "nothing after it, e.g. https://www.example.com or https://example.com:8443")
    assert embedding.organisation_origins(session) == ("https://www.example.com",)


def test_too_many_origins_are_refused(session, admin):
    many = " ".join(f"https://s{i}.example.com" for i in range(embedding.MAX_ORIGINS + 1))
    with pytest.raises(EmbeddingError, match=f"51 origins is more than the {embedding.MAX_ORIGINS} allowed"):
        embedding.set_organisation_origins(session, many, by=admin)


@pytest.mark.parametrize("role", ["scheduler", "disabled admin", None])
def test_only_an_active_admin_may_change_it(session, role):
    user = None
    if role is not None:
        user = _user(session, "someone@example.com", "admin" if role == "disabled admin" else role)
        user.active = role != "disabled admin"
    with pytest.raises(PermissionDenied, match="only an admin may change which sites may embed the booking pages"):
        embedding.set_organisation_origins(session, "https://www.example.com", by=user)
    assert embedding.organisation_origins(session) == ()


def test_a_change_is_audited_with_the_old_and_new_list_and_a_save_without_change_is_not(session, admin):
    embedding.set_organisation_origins(session, "https://www.example.com", by=admin)
    embedding.set_organisation_origins(session, "https://www.example.com/", by=admin)  # the same list
    embedding.set_organisation_origins(session, "https://shop.example.com", by=admin)
    session.commit()
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "team.embed_origins")
                              .order_by(AuditEntry.id)).all()
    assert [(e.user_id, e.target_type, e.target_id, e.details) for e in entries] == [
        (admin.id, "organisation", None, {"origins": ["https://www.example.com"], "before": []}),
        (admin.id, "organisation", None, {"origins": ["https://shop.example.com"], "before": ["https://www.example.com"]}),
    ]
    rows = audit.entry_rows(audit.entries(session, viewer=admin, action="team.embed_origins"), session=session)
    assert [(r["what"], r["target"], r["details"]) for r in rows][0] == (
        "changed the sites that may embed the booking pages", "organisation",
        "origins: https://shop.example.com; before: https://www.example.com")
