"""Locust users of the load test (``benchmarks/loadtest.py`` starts Locust headless with this file).

- ``Customer``: opens an invitation link, pages through the times, opens one of the first few
  times (they are contested: many customers of the same team member want the earliest ones),
  confirms it; some later cancel on their manage page. Each link is booked by one customer.
- ``Scheduler``: lists confirmed meetings through the API and cancels one now and then.

Every booking and cancellation the service acknowledged is written, with every 5xx, to the file
``LOADTEST_ACKS`` names when the run stops; the driver then checks each against the database.
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import time
from html import unescape
from pathlib import Path

# FastHttpUser (geventhttpclient) rather than HttpUser (requests): it keeps cookies the same way
# and takes several times less CPU per request, which here is CPU taken from the server measured.
from locust import FastHttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.booking_service.web.pages import slot_paths  # noqa: E402  (the tests' reading of the times page)

TOKENS: list[str] = json.loads(open(os.environ["LOADTEST_TOKENS"]).read())
random.shuffle(TOKENS)
API_KEY = os.environ["LOADTEST_API_KEY"]
CANCEL_SHARE = float(os.environ.get("LOADTEST_CANCEL_SHARE", "0.15"))

# "cancel_attempts": cancellations sent, whether or not their answer came before the run stopped
# (a request cut off at the stop may still have cancelled: not acknowledged, but not lost either).
ACKS: dict[str, list] = {"booked": [], "cancelled_by_customer": [], "cancelled_by_scheduler": [],
                         "cancel_attempts": [],
                         "server_errors": [], "conflicts": 0, "refused_cancels": 0, "server_ms": {}}
SERVER_TIMING = re.compile(r"app;dur=([0-9.]+)")


def _check(response) -> None:
    """Count a 5xx as a failure and remember it; anything else the flow judges itself.

    Also keeps the server's own time for the request (its ``Server-Timing``), by route: on a
    small host the client shares the cores with the server, and its times include that wait.
    """
    timing = SERVER_TIMING.search(response.headers.get("Server-Timing") or "")
    if timing:
        ACKS["server_ms"].setdefault(response.request_meta["name"], []).append(float(timing.group(1)))
    if response.status_code >= 500:
        ACKS["server_errors"].append(f"{response.request.method} {response.request.path_url} {response.status_code}")
        response.failure(f"{response.status_code}")
    else:
        response.success()


def _form(html: str) -> dict[str, str]:
    return {n: unescape(v) for n, v in re.findall(r'name="(\w+)" value="([^"]*)"', html)}


class Customer(FastHttpUser):
    weight = 9
    wait_time = between(0.05, 0.3)

    @task
    def book(self) -> None:
        if not TOKENS:
            # From here on fewer customers are at work: the run's figures no longer hold its load.
            ACKS.setdefault("links_ran_out_at", time.time())
            self.stop()
            return
        token = TOKENS.pop()
        with self.client.get(f"/i/{token}", name="/i/[token]", catch_response=True) as page:
            _check(page)
        html = page.text
        for _ in range(random.randint(0, 2)):
            nxt = re.search(r'class="next" rel="next" href="([^"]+)"', html)
            if not nxt:
                break
            with self.client.get(unescape(nxt.group(1)), name="/i/[token]/times", catch_response=True) as later:
                _check(later)
            html = later.text
        with self.client.get(f"/i/{token}/times", name="/i/[token]/times", catch_response=True) as times:
            _check(times)
        for _attempt in range(3):
            slots = slot_paths(times.text)
            if not slots:
                return
            with self.client.get(random.choice(slots[:4]), name="/i/[token]/slot",
                                 allow_redirects=False, catch_response=True) as slot:
                _check(slot)
            if slot.status_code != 200:  # held by someone else meanwhile: back to the times
                with self.client.get(f"/i/{token}/times", name="/i/[token]/times", catch_response=True) as times:
                    _check(times)
                continue
            form = _form(slot.text)
            with self.client.post(f"/i/{token}/confirm", data=form, name="/i/[token]/confirm",
                                  allow_redirects=False, catch_response=True) as confirm:
                _check(confirm)
            if confirm.status_code == 303 and confirm.headers.get("Location", "").endswith("/scheduled"):
                ACKS["booked"].append([token, form["start"]])
                self._after_booking(token)
                return
            ACKS["conflicts"] += 1
            with self.client.get(f"/i/{token}/times", name="/i/[token]/times", catch_response=True) as times:
                _check(times)

    def _after_booking(self, token: str) -> None:
        with self.client.get(f"/i/{token}/scheduled", name="/i/[token]/scheduled", catch_response=True) as done:
            _check(done)
        manage = re.search(r'class="cancel" href="(/m/[^"]+)/cancel"', done.text)
        if not manage or random.random() >= CANCEL_SHARE:
            return
        with self.client.get(f"{manage.group(1)}/cancel", name="/m/[token]/cancel", catch_response=True) as ask:
            _check(ask)
        ACKS["cancel_attempts"].append(token)
        with self.client.post(f"{manage.group(1)}/cancel", data={**_form(ask.text), "reason": "plans changed"},
                              name="/m/[token]/cancel (POST)", allow_redirects=False, catch_response=True) as cancel:
            _check(cancel)
        if cancel.status_code == 303:
            ACKS["cancelled_by_customer"].append(token)


class Scheduler(FastHttpUser):
    weight = 1
    wait_time = between(0.5, 1.5)

    default_headers = {"Authorization": f"Bearer {API_KEY}"}

    @task
    def cancel_one(self) -> None:
        with self.client.get("/api/v1/meetings?status=confirmed&limit=50", name="/api/v1/meetings",
                             catch_response=True) as listing:
            _check(listing)
        items = listing.json().get("items", []) if listing.status_code == 200 else []
        if not items or random.random() > 0.5:
            return
        meeting = random.choice(items)
        ACKS["cancel_attempts"].append(meeting["id"])
        with self.client.post(f"/api/v1/meetings/{meeting['id']}/cancel", json={"reason": "room needed"},
                              name="/api/v1/meetings/[id]/cancel", catch_response=True) as cancel:
            _check(cancel)
        if cancel.status_code == 200:
            ACKS["cancelled_by_scheduler"].append(meeting["id"])
        elif cancel.status_code == 409:
            ACKS["refused_cancels"] += 1  # a customer cancelled it a moment before: refused, as it should be


@events.test_start.add_listener
def _started(**_kwargs) -> None:
    ACKS["started_at"] = time.time()


@events.test_stop.add_listener
def _write_acks(**_kwargs) -> None:
    with open(os.environ["LOADTEST_ACKS"], "w") as out:
        json.dump(ACKS, out)
