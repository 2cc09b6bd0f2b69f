"""End-to-end time of the invitation wizard's live slot count, in real headless Chromium.

Starts the dashboard (``dashboard/server.py``) on a free loopback port over a seeded demo database, signs in,
walks to Step 2 of "Invite to self-schedule" and then, many times, presses the "+" of the
"Buffer before" field and measures in the page (``performance.now()``) the time from the click to
the moment the app has finished its rerun and shows the new count. That is what a scheduler
feels: server work, Streamlit's websocket round trip and the browser's redraw.

Usage::

    python benchmarks/bench_dashboard_browser.py [--rounds 20]

Needs Debian's ``chromium`` at /usr/bin/chromium.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EMAIL, PASSWORD = "bench@example.com", "bench-password-1"
CHROMIUM = "/usr/bin/chromium"

# Installed before each click: resolves with the ms from the pointer press until the app's script state
# has been "running" and is "notRunning" again (the rerun is over and the page redrawn).
WATCH = """() => { window.__slotwiseRerun = new Promise(resolve => {
  const app = document.querySelector('[data-testid="stApp"]');
  let ran = false;
  let t0 = performance.now();
  // Count from the click itself, not from when the driver began moving the pointer.
  document.addEventListener('pointerdown', () => { t0 = performance.now(); }, {capture: true, once: true});
  const check = () => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') ran = true;
    if (ran && state === 'notRunning') {
      observer.disconnect();
      requestAnimationFrame(() => resolve(performance.now() - t0));
    }
  };
  const observer = new MutationObserver(check);
  observer.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}); }"""


def _seed(url: str) -> list[str]:
    from booking_service.seed import seed_demo
    from booking_service.services import accounts
    from booking_service.services.queries import team_members
    from booking_service.store.db import make_engine, session_scope
    from booking_service.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    with session_scope(engine, write=True) as s:
        seed_demo(s, seed=7, secret_key="bench")
        accounts.create_user(s, email=EMAIL, name="Sam Scheduler", password=PASSWORD, role="admin")
        members = team_members(s)
        same_zone = [m for m in members if m.zone == members[0].zone][:2]
        labels = [f"{m.name} ({m.zone})" for m in same_zone]
    engine.dispose()
    return labels


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="slotwise-bench-dashboard-"))
    url = f"sqlite:///{folder / 'bench.db'}"
    labels = _seed(url)
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "SLOTWISE_VAR_DIR": str(folder / "var"), "SECRET_KEY": "bench"}
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "dashboard" / "server.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync", "--no-first-run"],
            )
            page = browser.new_page(viewport={"width": 1440, "height": 1100})
            page.goto(base)
            page.get_by_role("textbox", name="Email").fill(EMAIL)
            page.get_by_role("textbox", name="Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("heading", name="Invite to self-schedule").wait_for(timeout=60_000)
            page.get_by_label("Participant name").fill("Grace Hopper")
            page.get_by_label("Email").fill("grace@example.com")
            page.get_by_role("button", name="Continue").click()
            page.get_by_label("Subject").fill("Introduction call")
            for label in labels:
                page.get_by_label("Team members (all attend)").click()
                page.get_by_role("option", name=label, exact=True).click()
                page.keyboard.press("Escape")
            page.get_by_role("button", name="Continue").click()
            page.get_by_text("Available slots").wait_for(timeout=60_000)
            page.wait_for_timeout(2000)
            plus = page.locator('[data-testid="stNumberInput"]').filter(has_text="Buffer before").get_by_role(
                "button", name="Increment"
            )
            times = []
            for _ in range(args.rounds):
                page.evaluate(WATCH)
                plus.click()
                times.append(page.evaluate("() => window.__slotwiseRerun"))
                page.wait_for_timeout(300)
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    load = os.getloadavg()
    times.sort()
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(f"live count, click to redrawn page, {len(times)} changes of 'Buffer before':")
    print(f"  median {statistics.median(times):.0f} ms   p95 {p95:.0f} ms   min {times[0]:.0f} ms")
    print(f"  load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


if __name__ == "__main__":
    main()
