"""Demo data: a realistic organisation to explore Slotwise with.

The organisation comes from the planner's synthetic generator (the same one the benchmarks use),
so the demo, the benchmarks and the notebooks speak of the same kind of company: members in
London, Berlin, New York and Kolkata (+5:30), two pools, five rooms of different sizes, and eight
weeks of calendars with stand-ups, lunches, meetings and all-day absences. It is deterministic
for a seed and a start date.

It also creates the installation's first admin (:func:`booking_service.services.accounts.create_first_admin`)
with a freshly generated password, which the summary prints once: no default password is ever
shared between installations.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from planner.synthetic import generate_organisation

from .core.config import check_zone
from .services.accounts import create_first_admin
from .store.models import (
    Base,
    BusyBlock,
    CalendarConnection,
    HoursOverride,
    ResourcePool,
    Room,
    TeamMember,
    WorkingHours,
    pool_members,
)

DEMO_MEMBER_ZONES = ("Europe/London", "Europe/Berlin", "America/New_York", "Asia/Kolkata")
DEMO_ROOM_ZONES = ("Europe/London", "Europe/Berlin")
DEMO_DAYS = 56


class DatabaseNotEmpty(RuntimeError):
    """The database already holds data; seeding would mix demo and real data."""


@dataclass
class SeedSummary:
    """What the demo seed created."""

    members: int = 0
    rooms: int = 0
    pools: int = 0
    busy_blocks: int = 0
    zones: list[str] = field(default_factory=list)
    invitations: int = 0
    meetings: int = 0
    lines: list[str] = field(default_factory=list)
    admin_email: str | None = None
    #: The first admin's generated password: printed once by ``describe()``, never stored in clear.
    admin_password: str | None = field(default=None, repr=False)

    def describe(self) -> str:
        """A few lines for the terminal."""
        head = (
            f"Demo organisation: {self.members} team members in {len(self.zones)} zones "
            f"({', '.join(self.zones)}), {self.pools} pools, {self.rooms} rooms, "
            f"{self.busy_blocks} busy blocks over {DEMO_DAYS // 7} weeks, "
            f"{self.invitations} active invitations, {self.meetings} confirmed meetings."
        )
        lines = [head, *self.lines]
        if self.admin_email and self.admin_password:
            lines += [
                "",
                "Dashboard sign-in (shown this once; keep it safe):",
                f"  email:    {self.admin_email}",
                f"  password: {self.admin_password}",
                "Change it with `slotwise reset-password --email " + self.admin_email + "`.",
            ]
        return "\n".join(lines)


def database_is_empty(session: Session) -> bool:
    """True when no table holds a row (ignoring Alembic's version table)."""
    for table in Base.metadata.sorted_tables:
        if session.execute(select(func.count()).select_from(table)).scalar_one():
            return False
    return True


def clear_database(session: Session) -> None:
    """Delete every row of every Slotwise table (children first), in the caller's transaction."""
    for table in reversed(Base.metadata.sorted_tables):
        session.execute(delete(table))


def seed_demo(
    session: Session,
    *,
    seed: int = 7,
    today: dt.date | None = None,
    reset: bool = False,
    public_url: str = "http://127.0.0.1:5000",
    secret_key: str,
) -> SeedSummary:
    """Create the demo organisation in the caller's transaction.

    Parameters
    ----------
    seed : int
        Random seed; the same seed and ``today`` give the same rows.
    today : datetime.date, optional
        First day of the eight weeks of calendars (default: today, UTC).
    reset : bool
        Delete all existing data first. Without it, a database that holds data is refused.
    public_url : str
        Base URL of the booking service, for the links of the demo invitations.
    secret_key : str
        The installation's ``SECRET_KEY``, which encrypts the demo's queued mails.

    Raises
    ------
    DatabaseNotEmpty
        When the database holds data and ``reset`` is false.
    """
    if not database_is_empty(session):
        if not reset:
            raise DatabaseNotEmpty(
                "the database already holds data; seed-demo only fills an empty database. "
                "Use --reset to delete everything and seed again."
            )
        clear_database(session)
    for zone in (*DEMO_MEMBER_ZONES, *DEMO_ROOM_ZONES):
        check_zone(zone, "seed data zone")
    # The first admin, with a password generated for this installation (printed once).
    admin, admin_password = create_first_admin(session, zone=DEMO_MEMBER_ZONES[0])
    today = today or dt.datetime.now(dt.UTC).date()
    org = generate_organisation(
        n_members=14,
        n_rooms=5,
        start_date=today,
        days=DEMO_DAYS,
        seed=seed,
        zones=DEMO_MEMBER_ZONES,
        room_zones=DEMO_ROOM_ZONES,
    )

    ids = _add_resources(session, org.resources)
    _add_hours(session, org.hours, org.overrides, ids)
    pools = _add_pools(session, org.pools, ids)
    busy = _add_calendars(session, org.busy, org.resources, ids)
    session.flush()

    summary = SeedSummary(
        members=int((org.resources["kind"] == "member").sum()),
        rooms=int((org.resources["kind"] == "room").sum()),
        pools=len(pools),
        busy_blocks=busy,
        zones=sorted(set(org.resources.loc[org.resources["kind"] == "member", "zone"])),
        admin_email=admin.email,
        admin_password=admin_password,
    )
    # --- Demo invitations and meetings, made by the booking services themselves ------------
    summary.invitations, summary.meetings = add_demo_bookings(
        session, admin, seed=seed, today=today, public_url=public_url, secret_key=secret_key
    )
    return summary


def _add_resources(session: Session, resources: pd.DataFrame) -> dict[str, int]:
    ids: dict[str, int] = {}
    for row in resources.itertuples(index=False):
        model = TeamMember if row.kind == "member" else Room
        email = row.email if isinstance(row.email, str) else None
        resource = model(name=row.name, email=email, zone=row.zone, capacity=int(row.capacity))
        session.add(resource)
        session.flush()
        ids[row.resource_id] = resource.id
    return ids


def _add_hours(session: Session, hours: pd.DataFrame, overrides: pd.DataFrame, ids: dict[str, int]) -> None:
    if len(hours):
        session.execute(
            insert(WorkingHours),
            [
                {"resource_id": ids[r.resource_id], "weekday": int(r.weekday),
                 "start_minute": int(r.start), "end_minute": int(r.end)}
                for r in hours.itertuples(index=False)
            ],
        )
    if len(overrides):
        session.execute(
            insert(HoursOverride),
            [
                {
                    "resource_id": ids[r.resource_id],
                    "date": r.date,
                    "start_minute": None if pd.isna(r.start) else int(r.start),
                    "end_minute": None if pd.isna(r.end) else int(r.end),
                    "note": "Out of office" if pd.isna(r.start) else "Changed hours",
                }
                for r in overrides.itertuples(index=False)
            ],
        )


def _add_pools(session: Session, pools: pd.DataFrame, ids: dict[str, int]) -> list[ResourcePool]:
    created = []
    for _pool_id, rows in pools.groupby("pool_id", sort=True):
        pool = ResourcePool(name=str(rows["name"].iloc[0]), description=f"Any one of the {rows['name'].iloc[0]} team")
        session.add(pool)
        session.flush()
        session.execute(
            insert(pool_members), [{"pool_id": pool.id, "member_id": ids[m]} for m in rows["member_id"]]
        )
        created.append(pool)
    return created


def _add_calendars(
    session: Session, busy: pd.DataFrame, resources: pd.DataFrame, ids: dict[str, int]
) -> int:
    """One demo calendar per resource holding its busy blocks."""
    connection_of: dict[str, int] = {}
    now = dt.datetime.now(dt.UTC)
    for row in resources.itertuples(index=False):
        connection = CalendarConnection(
            resource_id=ids[row.resource_id],
            kind="demo",
            name=f"{row.name} (demo calendar)",
            last_synced_at=now,
            last_status="ok",
        )
        session.add(connection)
        session.flush()
        connection_of[row.resource_id] = connection.id
    rows = [
        {
            "connection_id": connection_of[r.resource_id],
            "resource_id": ids[r.resource_id],
            "start": r.start.to_pydatetime(),
            "end": r.end.to_pydatetime(),
        }
        for r in busy.itertuples(index=False)
    ]
    if rows:
        session.execute(insert(BusyBlock), rows)
    return len(rows)




# --- Demo invitations and meetings (booking service) ------------------------------------------

DEMO_CUSTOMERS = (
    ("Grace Hopper", "grace@customer.example", "America/New_York"),
    ("Alan Turing", "alan@customer.example", "Europe/London"),
    ("Ada Lovelace", "ada@customer.example", "Europe/London"),
    ("Srinivasa Ramanujan", "srinivasa@customer.example", "Asia/Kolkata"),
    ("Emmy Noether", "emmy@customer.example", "Europe/Berlin"),
    ("Katherine Johnson", "katherine@customer.example", "America/New_York"),
    ("Hedy Lamarr", "hedy@customer.example", None),
)
DEMO_SUBJECTS = ("Intro call", "Product demo", "Contract review", "Onboarding session", "Quarterly check-in")


def add_demo_bookings(
    session: Session,
    scheduler,
    *,
    seed: int,
    today: dt.date,
    public_url: str,
    secret_key: str,
    invitations: int = 4,
    meetings: int = 3,
) -> tuple[int, int]:
    """A few active invitations and a few confirmed meetings, through the real services.

    Uses :func:`booking_service.services.invitations.create_invitation` and
    :func:`booking_service.services.booking.confirm_slot`, so the demo holds exactly what the product
    makes (promoted slots, queued mails, reservations). Deterministic for ``seed`` and
    ``today``: "now" is the start of ``today`` (UTC) and every choice comes from ``seed``.

    Returns
    -------
    tuple of int
        Active invitations and confirmed meetings created.
    """
    import random

    from .services.availability import find_slots_for
    from .services.booking import confirm_slot
    from .services.invitations import InvitationDraft, NoAvailableSlots, create_invitation

    rng = random.Random(seed)
    now = dt.datetime.combine(today, dt.time(), dt.UTC)
    members = session.scalars(select(TeamMember).order_by(TeamMember.id)).all()
    rooms = session.scalars(select(Room).order_by(Room.id)).all()
    pools = session.scalars(select(ResourcePool).order_by(ResourcePool.id)).all()
    active = booked = 0
    for i in range(invitations + meetings):
        name, email, customer_zone = DEMO_CUSTOMERS[i % len(DEMO_CUSTOMERS)]
        required = rng.sample(members, 1)
        with_pool = bool(pools) and i % 2 == 1
        with_room = bool(rooms) and i % 3 == 0
        frame_start = today + dt.timedelta(days=1 + i % 3)
        draft = InvitationDraft(
            customer_name=name,
            customer_email=email,
            customer_zone=customer_zone,
            subject=DEMO_SUBJECTS[i % len(DEMO_SUBJECTS)],
            description="A demo invitation.",
            conferencing="https://meet.example/demo-" + str(i + 1),
            duration_minutes=rng.choice((30, 45, 60)),
            buffer_after_minutes=rng.choice((0, 10)),
            frame_start=frame_start,
            frame_end=frame_start + dt.timedelta(days=13),
            members=tuple(m.id for m in required),
            pools=(pools[i % len(pools)].id,) if with_pool else (),
            rooms=tuple(r.id for r in rooms if r.capacity >= 4) if with_room else (),
            min_capacity=4 if with_room else 1,
            zone=required[0].zone,
            promote=i % 2 == 0,
            promote_count=3,
        )
        try:
            # This transaction has already written the organisation, so on SQLite it holds the
            # write lock that creating and booking need.
            created = create_invitation(session, draft, by=scheduler, public_url=public_url,
                                        secret_key=secret_key, now=now, require_write_lock=False)
        except NoAvailableSlots:
            continue
        session.flush()
        if i < invitations:
            active += 1
            continue
        slots = find_slots_for(session, created.invitation, now)
        start = slots["start"].iloc[rng.randrange(len(slots))].to_pydatetime()
        result = confirm_slot(session, created.invitation.id, start, secret_key=secret_key,
                              customer_zone=customer_zone, link=created.link, now=now, require_write_lock=False)
        booked += result.outcome == "booked"
    return active, booked
