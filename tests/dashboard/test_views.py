"""View helpers: the slot heatmap groups start times by local day and hour."""

from __future__ import annotations

import pandas as pd

from dashboard.views import meetings_per_day, slot_heatmap


def test_heatmap_counts_starts_per_local_day_and_hour():
    starts = pd.Series(
        pd.DatetimeIndex(
            [
                "2026-03-28T09:00Z", "2026-03-28T09:30Z", "2026-03-28T10:15Z",  # Saturday, GMT
                "2026-03-29T09:00Z",  # Sunday: clocks went forward, 10:00 BST
                "2026-03-29T23:30Z",  # Monday 00:30 BST
            ]
        )
    )
    data, spec = slot_heatmap(starts, "Europe/London")
    cells = data[data["slots"] > 0].to_dict("records")
    assert cells == [
        {"day": "Sat 28 Mar", "time": "09:00", "slots": 2},
        {"day": "Sat 28 Mar", "time": "10:00", "slots": 1},
        {"day": "Sun 29 Mar", "time": "10:00", "slots": 1},
        {"day": "Mon 30 Mar", "time": "00:00", "slots": 1},
    ]
    assert spec["encoding"]["x"]["sort"] == ["Sat 28 Mar", "Sun 29 Mar", "Mon 30 Mar"]
    assert spec["height"] >= 200


def test_heatmap_axes_are_even_over_the_whole_frame():
    import datetime as dt

    # Slots on Tuesday 09:00 and 15:00 and Thursday 11:00 of a Monday-Sunday frame.
    starts = pd.Series(pd.DatetimeIndex(["2026-12-08T09:00Z", "2026-12-08T15:00Z", "2026-12-10T11:00Z"]))
    data, spec = slot_heatmap(starts, "Europe/London", frame=(dt.date(2026, 12, 7), dt.date(2026, 12, 13)))
    days = ["Mon 07 Dec", "Tue 08 Dec", "Wed 09 Dec", "Thu 10 Dec", "Fri 11 Dec", "Sat 12 Dec", "Sun 13 Dec"]
    hours = ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00"]
    # Every day of the frame and every hour between the first and last start is a cell, empty or not.
    assert spec["encoding"]["x"]["sort"] == days
    assert list(dict.fromkeys(data["day"])) == days and sorted(set(data["time"])) == hours
    assert len(data) == len(days) * len(hours) and data["slots"].sum() == 3
    assert data.set_index(["day", "time"]).loc[("Wed 09 Dec", "12:00"), "slots"] == 0
    assert spec["height"] == max(200, 24 * len(hours))


def test_heatmap_of_no_slots_is_empty():
    data, _spec = slot_heatmap(pd.Series(pd.DatetimeIndex([], tz="UTC")), "Europe/London")
    assert data.empty


def test_meetings_per_day_counts_per_member_over_every_day_of_the_range():
    import datetime as dt

    data, spec = meetings_per_day(
        [(dt.date(2026, 12, 7), "Ada"), (dt.date(2026, 12, 7), "Ada"), (dt.date(2026, 12, 9), "Bob")],
        dt.date(2026, 12, 7), dt.date(2026, 12, 10),
    )
    assert data.to_dict("records") == [
        {"day": "Mon 07 Dec", "member": "Ada", "meetings": 2}, {"day": "Wed 09 Dec", "member": "Bob", "meetings": 1}]
    assert spec["encoding"]["x"]["scale"]["domain"] == ["Mon 07 Dec", "Tue 08 Dec", "Wed 09 Dec", "Thu 10 Dec"]


def test_a_flash_message_waiting_already_is_not_added_twice():
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from dashboard import views

        views.flash("Added Cleo.")
        views.flash("Added Cleo.")  # the same outcome applied again
        views.flash("Added Cleo.", "error")
        views.show_flash()
        st.write("shown")

    at = AppTest.from_function(page).run()
    assert [m.value for m in at.success] == ["Added Cleo."]
    assert [m.value for m in at.error] == ["Added Cleo."]
