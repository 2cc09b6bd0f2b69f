"""Small view helpers shared by the dashboard pages: messages, time text, charts.

No data access and no rules here: only how things look.
"""

from __future__ import annotations

import datetime as dt
import html
import json
from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
import streamlit as st

from booking_service.core import display

FLASH_KEY = "_flash"
#: ``st.session_state`` key of the destructive action waiting for its confirmation: (what, payload).
CONFIRM_KEY = "_confirm"


def flash(message: str, kind: str = "success") -> None:
    """Remember a message to show after the next rerun (``st.rerun`` drops what was drawn).

    A message already waiting is not added again (an outcome applied twice shows it once).
    """
    pending = st.session_state.setdefault(FLASH_KEY, [])
    if (kind, message) not in pending:
        pending.append((kind, message))


def show_flash() -> None:
    """Show and forget the messages remembered by :func:`flash`."""
    for kind, message in st.session_state.pop(FLASH_KEY, []):
        getattr(st, kind)(message)


def refuse(form: str, message: str) -> None:
    """Remember why ``form``'s last action was refused, for :func:`show_refusal` under its button."""
    st.session_state[f"{form}-refused"] = message


def show_refusal(form: str) -> None:
    """Show, once, why ``form``'s last action was refused (:func:`refuse`)."""
    refused = st.session_state.pop(f"{form}-refused", None)
    if refused is not None:
        st.error(refused)


def ask_to_confirm(what: str, payload: dict[str, Any]) -> None:
    """Callback of a button that starts a destructive action: remember it until it is confirmed.

    The payload is bound when the button is drawn (``args=``), so the dialog always names the
    row the person saw next to the button, whatever has changed in the list since.
    """
    st.session_state[CONFIRM_KEY] = (what, payload)


def _forget_confirmation() -> None:
    st.session_state.pop(CONFIRM_KEY, None)


def confirm_dialog(
    what: str,
    title: str,
    body: Callable[[dict[str, Any]], str],
    confirm_label: str,
    action: Callable[[dict[str, Any]], None],
    *,
    busy: str = "Working…",
    inputs: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Show the confirmation dialog of ``what`` when a button asked for it (:func:`ask_to_confirm`).

    ``body(payload)`` says what will happen and who will be told; ``action(payload)`` runs only
    after the person confirms, under a spinner, and the page then reruns (its messages go
    through :func:`flash`). Closing the dialog or "Keep it" does nothing. ``inputs(payload)``,
    when given, draws inputs inside the dialog (a reason, say) and returns their values, which
    are added to the payload the action gets.
    """
    pending = st.session_state.get(CONFIRM_KEY)
    if not pending or pending[0] != what:
        return
    payload = pending[1]

    @st.dialog(title, on_dismiss=_forget_confirmation)
    def _dialog() -> None:
        st.markdown(body(payload))
        values = inputs(payload) if inputs is not None else {}
        yes, no = st.columns(2)
        if yes.button(confirm_label, key=f"{what}-confirm", type="primary", width="stretch"):
            _forget_confirmation()
            with st.spinner(busy):
                action({**payload, **values})
            st.rerun()
        if no.button("Keep it", key=f"{what}-keep", width="stretch"):
            _forget_confirmation()
            st.rerun()

    _dialog()


def copyable(text: str, *, key: str, label: str = "Copy link") -> None:
    """``text`` in a code box with a "Copy link" button beside it, always visible (not on hover).

    The button copies with the browser's clipboard API and says "Copied" for a moment.
    """
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.code(text, language=None)
    element_id = "copy-" + "".join(c if c.isalnum() else "-" for c in key)
    with right:
        st.html(
            f"""<button id="{element_id}" class="slotwise-copy" type="button" data-text="{html.escape(text, quote=True)}"
 style="width:100%;padding:0.45rem 0.75rem;border-radius:0.5rem;border:1px solid rgba(49,51,63,0.3);
 background:#fff;cursor:pointer;font:inherit">{html.escape(label)}</button>
<script>
(() => {{
  const button = document.getElementById({json.dumps(element_id)});
  if (!button || button.dataset.ready) return;
  button.dataset.ready = "1";
  button.addEventListener("click", async () => {{
    try {{
      await navigator.clipboard.writeText(button.dataset.text);
      button.textContent = "Copied";
    }} catch (error) {{
      button.textContent = "Select the link and copy it";
    }}
    setTimeout(() => {{ button.textContent = {json.dumps(label)}; }}, 2000);
  }});
}})();
</script>""",
            unsafe_allow_javascript=True,
        )


#: Streamlit commits a typed date or number only when the field loses focus (a date range only when
#: its calendar closes), so a live count stays stale while the person looks at it. This script
#: commits after a short pause in typing, the way a keypress would: Escape for a date field (it
#: closes the calendar and keeps the focus), blur and focus again for a number field.
_COMMIT_WHILE_TYPING = """<script>
(() => {
  if (window.__slotwiseCommitWhileTyping) return;
  window.__slotwiseCommitWhileTyping = true;
  let timer;
  const commit = (el) => {
    if (document.activeElement !== el) return;
    if (el.closest('[data-testid="stDateInput"]')) {
      el.dispatchEvent(new KeyboardEvent("keydown", {key: "Escape", bubbles: true}));
    } else {
      el.blur();
      el.focus();
    }
  };
  const typed = (event) => {
    const el = event.target;
    if (!(el instanceof Element) || !el.closest('[data-testid="stDateInput"], [data-testid="stNumberInput"]')) return;
    if (event.type === "keyup" && (event.key === "Escape" || event.key === "Tab")) return;
    clearTimeout(timer);
    timer = setTimeout(() => commit(el), %(pause)d);
  };
  document.addEventListener("input", typed, true);
  document.addEventListener("keyup", typed, true);
})();
</script>"""


def commit_while_typing(pause_ms: int = 500) -> None:
    """Make typed dates and numbers on this page take effect after a pause in typing, not on leaving the field."""
    st.html(_COMMIT_WHILE_TYPING % {"pause": int(pause_ms)}, unsafe_allow_javascript=True, width="content")


def when(start: dt.datetime, end: dt.datetime, zone: str) -> str:
    """``"Tuesday 1 December 2026, 09:30–10:00 (Europe/Berlin)"``."""
    return display.format_when(start, end, zone)


def short_when(instant: dt.datetime | None, zone: str) -> str:
    """``"Tue 01 Dec 09:30"`` in ``zone`` (the zone's name is in the column header), or ``"—"``."""
    if instant is None:
        return "—"
    return f"{display.local(instant, zone):%a %d %b %H:%M}"


def frame_text(start: dt.date, end: dt.date) -> str:
    """``"1 Dec – 14 Dec 2026"``."""
    if start.year == end.year:
        return f"{start.day} {start:%b} – {end.day} {end:%b %Y}"
    return f"{start.day} {start:%b %Y} – {end.day} {end:%b %Y}"


def names(items: Iterable[object]) -> str:
    """Comma-separated ``name`` attributes."""
    return ", ".join(getattr(i, "name", str(i)) for i in items)


def slot_heatmap(
    starts: pd.Series,
    zone: str,
    interval_minutes: int = 60,
    frame: tuple[dt.date, dt.date] | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Day x time-of-day heatmap of slot start times, wall clock in ``zone``, for ``st.vega_lite_chart``.

    The axes are even: every day of ``frame`` (or from the first to the last day with a slot) is
    a column, empty ones included, and every hour from the earliest to the latest slot start is
    a row, empty ones included (0 slots), so a gap in the chart is a gap in the time.

    A plain Vega-Lite spec rather than an Altair chart: the wizard redraws it on every change,
    and Altair's schema validation would cost more than finding the slots.

    Parameters
    ----------
    starts : Series of datetime64[ns, UTC]
        Available start instants.
    zone : str
        Zone whose wall clock the axes show.
    interval_minutes : int
        Height of one cell (start times are grouped by hour by default).
    frame : (datetime.date, datetime.date), optional
        First and last day to show, in ``zone``.

    Returns
    -------
    (DataFrame, dict)
        ``day``, ``time``, ``slots`` per cell (every cell of the grid), and the Vega-Lite spec.
    """
    local = pd.DatetimeIndex(starts).tz_convert(zone)
    # Group on plain integers, then format one label per cell rather than per slot.
    keys = pd.DataFrame(
        {
            "order": local.tz_localize(None).normalize(),
            "minute": (local.hour * 60 + local.minute) // interval_minutes * interval_minutes,
        }
    )
    counts = keys.groupby(["order", "minute"]).size()
    if frame is not None:
        first, last = pd.Timestamp(frame[0]), pd.Timestamp(frame[1])
    elif len(keys):
        first, last = keys["order"].min(), keys["order"].max()
    else:
        first = last = None
    if first is None:
        days, minutes = pd.DatetimeIndex([]), []
    else:
        days = pd.date_range(first, last, freq="D")
        if len(keys):
            minutes = list(range(int(keys["minute"].min()), int(keys["minute"].max()) + 1, interval_minutes))
        else:
            minutes = []
    full = pd.MultiIndex.from_product([days, minutes], names=["order", "minute"])
    grid = counts.reindex(full, fill_value=0).rename("slots").reset_index()
    grid["day"] = grid["order"].dt.strftime("%a %d %b")
    grid["time"] = [f"{m // 60:02d}:{m % 60:02d}" for m in grid["minute"]]
    day_labels = [f"{d:%a %d %b}" for d in days]
    spec = {
        "mark": {"type": "rect", "tooltip": True, "stroke": "white", "strokeWidth": 1},
        "height": max(200, 24 * len(minutes)),
        "encoding": {
            "x": {"field": "day", "type": "ordinal", "sort": day_labels, "title": None, "axis": {"labelAngle": -45}},
            "y": {"field": "time", "type": "ordinal", "sort": "ascending", "title": None},
            "color": {
                "field": "slots", "type": "quantitative", "title": "slots",
                "scale": {"scheme": "greens", "domainMin": 0},
            },
        },
    }
    return grid[["day", "time", "slots"]].astype({"slots": int}), spec


def meetings_per_day(days: Iterable[tuple[dt.date, str]], first: dt.date, last: dt.date) -> tuple[pd.DataFrame, dict]:
    """Meetings per local day and team member, every day of ``first..last`` on the axis, for ``st.vega_lite_chart``.

    ``days``: one ``(local date, team member)`` per meeting and member.
    """
    rows = pd.DataFrame(list(days), columns=["date", "member"])
    counts = rows.groupby(["date", "member"], as_index=False).size().rename(columns={"size": "meetings"})
    counts["day"] = [f"{d:%a %d %b}" for d in counts["date"]]
    axis = [f"{d:%a %d %b}" for d in pd.date_range(first, last, freq="D")]
    spec = {
        "mark": {"type": "bar", "tooltip": True},
        "height": 220,
        "encoding": {
            "x": {"field": "day", "type": "ordinal", "sort": axis, "scale": {"domain": axis}, "title": None,
                  "axis": {"labelAngle": -45}},
            "y": {"field": "meetings", "type": "quantitative", "title": "meetings", "axis": {"tickMinStep": 1}},
            "color": {"field": "member", "type": "nominal", "title": "team member"},
        },
    }
    return counts[["day", "member", "meetings"]], spec
