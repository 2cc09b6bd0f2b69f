"""Why each promoted slot was picked: the result table with score parts and a reason per slot.

:func:`planner.promote.promote_slots` returns the chosen slots with their score, one column per
score part (weighted points summing to the score) and a short ``reason``: the local day and
half, the local time for the customer, then what set the slot apart from the other candidates.
When the customer's zone differs from the invitation's, the reason gives the time in both, each
labelled with its zone.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from planner.promote.context import PromoteContext
from planner.promote.scoring import PART_COLUMNS


def _describe(row: Mapping[str, object], context: PromoteContext, spread: Mapping[str, float]) -> str:
    """Reason for one chosen slot: day and half, local time, then what set it apart.

    A part is mentioned only when it separated candidates (some candidate scored lower on it),
    so the reason names what decided the choice rather than listing every part.
    """
    local = pd.Timestamp(row["start"]).tz_convert(context.display_zone)
    half = "afternoon" if row["afternoon"] else "morning"
    if context.display_zone != context.zone:
        # The customer reads another zone than the scheduler's: say both, each with its zone, so
        # "morning" is never read against the wrong clock.
        ours = pd.Timestamp(row["start"]).tz_convert(context.zone)
        parts = [f"{local:%a %H:%M} for the customer ({half}, {context.display_zone}), "
                 f"{ours:%a %H:%M} in {context.zone}"]
    else:
        parts = [f"{local.strftime('%a')} {half}"]
    if local.weekday() not in context.customer_weekdays:
        parts.append("outside the customer's business days")
    elif row["f_local_time"] >= 1.0:
        parts.append("inside customer hours")
    else:
        minutes = local.hour * 60 + local.minute
        parts.append(f"{'early' if minutes < context.customer_hours[0] else 'late'} for the customer")
    if row["start"] == spread["earliest"]:
        parts.append("earliest available time")
    if row["assignees"] and row["f_fairness"] >= 1.0 and spread["fairness_min"] < 1.0:
        parts.append("least-booked pool member free")
    if row["f_room"] >= 1.0 and spread["room_min"] < 1.0:
        parts.append("smallest adequate room free")
    if row["f_contention"] == 0.0 and spread["contention_max"] > 0.0:
        parts.append("offered to no other customer")
    if row["f_calendar_shape"] >= 1.0:
        parts.append("next to existing meeting")
    elif row["f_calendar_shape"] >= 0.5:
        parts.append("close to existing meeting")
    return ", ".join(parts)


def _result_frame(
    slots: pd.DataFrame, chosen: pd.DataFrame, context: PromoteContext, table: pd.DataFrame
) -> pd.DataFrame:
    chosen = chosen.sort_values("start", kind="stable")
    out = slots.loc[chosen.index].copy()
    out["score"] = chosen["score"]
    for part in PART_COLUMNS:
        out[part] = chosen[part]
    spread = {
        "earliest": table["start"].min(),
        "fairness_min": table["f_fairness"].min(),
        "room_min": table["f_room"].min(),
        "contention_max": table["f_contention"].max(),
    }
    out["reason"] = [_describe(row, context, spread) for row in chosen.to_dict("records")]
    return out
