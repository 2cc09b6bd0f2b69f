"""Capacity page: utilization figures and meetings that still fit, from the planner's analytics."""

from __future__ import annotations

import datetime as dt

from booking_service.store.models import utcnow

from .conftest import LONDON, open_page


def test_capacity_of_a_week_of_free_working_days(org):
    at = open_page(org, "capacity")
    tomorrow = utcnow().astimezone(LONDON).date() + dt.timedelta(days=1)
    at.date_input(key="capacity-dates").set_value((tomorrow, tomorrow + dt.timedelta(days=6))).run()
    assert not at.exception, at.exception
    hours, free, utilization, fits, starts = (m.value for m in at.metric)
    # Ada and Bob work 08:00-18:00 every day and nobody is busy; Nora has no hours.
    assert (hours, free, utilization) == ("140 h", "140 h", "0%")
    assert fits == "140"  # Ada alone: 20 half-hour meetings a day, 7 days
    # Meetings first, starts second: every quarter hour from 08:00 to 17:30 is a start (39 a day).
    assert [m.label for m in at.metric][3:] == ["30-minute meetings that still fit", "Slot starts a customer could pick"]
    assert starts == "273"
    assert len(at.get("vega_lite_chart")) == 3
    assert "No invitation has been sent yet" in " ".join(c.value for c in at.caption)
    at.multiselect(key="capacity-members").set_value([str(org.ada), str(org.nobody)]).run()
    assert at.metric[3].value == "0"
    at.segmented_control(key="capacity-kind").set_value("Rooms").run()
    assert at.metric[0].value == "70 h"


def test_capacity_asks_for_a_team(org):
    at = open_page(org, "capacity")
    at.multiselect(key="capacity-members").set_value([]).run()
    assert "Choose team members or a pool" in at.info[0].value


def test_demand_against_supply_charts_the_weeks_and_the_shapes(org, engine):
    from tests.dashboard.test_activity import _confirm_first_slot, _invite

    first = _invite(engine, org, "Grace Hopper", promote=True)
    _invite(engine, org, "Ada Lovelace")
    _confirm_first_slot(engine, first)
    at = open_page(org, "capacity")
    assert not at.exception, at.exception
    # The weekly flow and the supply-against-demand facets join the utilization charts.
    assert len(at.get("vega_lite_chart")) == 5
    captions = " ".join(c.value for c in at.caption)
    assert "meetings of each common request shape that still fit per week" in captions
    assert "mean of invitations created in the last" in captions
    # No whole week of history before this one: the forecast is 0, so supply covers it.
    assert at.success and "Supply covers the expected demand" in at.success[0].value
