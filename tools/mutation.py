"""Mutation testing of the critical modules with mutmut: does the suite fail when the code breaks?

Each module is mutated on its own, in a work folder of its own under ``var/mutation/<name>/``
(links to the checkout and a ``pyproject.toml`` whose ``[tool.mutmut]`` names that module and
only the tests that exercise it). mutmut first runs those tests once to record which test
executes which function; each mutant then runs only the tests that executed its function,
fastest first, stopping at the first failure. Results are cached in the work folder, so a
second run re-checks only mutants of functions that changed.

Usage::

    python tools/mutation.py                  # every module in MODULES
    python tools/mutation.py lifecycle ics    # some of them
    python tools/mutation.py --ci             # the quick form CI runs, failing below its floor

It prints each module's score (killed / (killed + survived + timeouts)) and the survivors, and
exits 1 when a module with a floor scores below it. ``docs/mutation.md`` keeps the latest
scores and why each remaining survivor is equivalent.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "mutation"
LINKED = ("booking_service", "planner", "dashboard", "tests", "docs", "notebooks", "benchmarks",
          "README.md", "streamlit_app.py")
S = "tests/booking_service/services/"


@dataclass(frozen=True)
class Module:
    """One critical module: its file, the tests that exercise it, and its CI floor (percent)."""

    path: str
    tests: tuple[str, ...]
    floor: float | None = None
    only: tuple[str, ...] = field(default=())
    """mutmut mutant-name globs to run (default: all of the module's)."""
    databases: str = "sqlite"
    """``SLOTWISE_TEST_DATABASES`` for its tests (tests/conftest.py): the databases they run on.

    One is enough where the module has no branch on the dialect: the tests ``only_on`` PostgreSQL
    (row locks, the exclusion constraint) still run there. Lifecycle's mutants on SQLite alone
    took 125 s, on PostgreSQL alone 219 s and on both 313 s, and the same ten survived each time.
    """


MODULES: dict[str, Module] = {
    "lifecycle": Module("booking_service/services/lifecycle.py",
                        (S + "test_lifecycle.py", S + "test_booking.py")),
    # Its refusals, audit entries, the calendar writes of a move and the customer's pages are asserted there.
    "booking": Module("booking_service/services/booking.py",
                      (S + "test_booking.py", S + "test_changes.py", S + "test_lifecycle.py", S + "test_audit.py",
                       S + "test_permissions.py::test_a_user_without_the_right_is_refused",
                       S + "test_webhooks.py::test_the_events_of_each_transition",
                       "tests/booking_service/calendars/test_writeback_changes.py",
                       "tests/booking_service/web/test_manage.py")),
    # Its refusals and audit entries are asserted by the tables of who may act and what is recorded.
    "invitations": Module("booking_service/services/invitations.py",
                          (S + "test_invitations.py", S + "test_invitation_choices.py", S + "test_lifecycle.py",
                           S + "test_audit.py", S + "test_permissions.py::test_a_user_without_the_right_is_refused",
                           S + "test_changes.py::test_a_policy_number_must_be_a_whole_number_in_its_range")),
    "permissions": Module("booking_service/services/permissions.py", (S + "test_permissions.py",)),
    # The mails themselves are queued and read back by the services that send them.
    "outbox": Module("booking_service/services/outbox.py",
                     (S + "test_outbox.py", "tests/booking_service/delivery/test_mail.py",
                      "tests/booking_service/delivery/test_tokens_at_rest.py", S + "test_booking.py",
                      S + "test_invitations.py", S + "test_changes.py")),
    # Claims rows with SKIP LOCKED on PostgreSQL and by the write lock on SQLite: both are its subject.
    "queue": Module("booking_service/store/queue.py",
                    ("tests/booking_service/delivery/test_delivery.py", "tests/booking_service/delivery/test_worker.py"),
                    databases="sqlite,postgresql"),
    # The real calendars (test_ics_corpus.py) count where TEST_ICS_CORPUS names them, as in CI.
    "ics": Module("booking_service/calendars/ics.py",
                  ("tests/booking_service/calendars/test_ics.py", "tests/booking_service/calendars/test_ics_files.py",
                   "tests/booking_service/calendars/test_ics_corpus.py")),
    "slots": Module("planner/slots.py",
                    ("tests/planner/test_rules.py", "tests/planner/test_slots_smoke.py", "tests/planner/test_dst.py",
                     "tests/planner/test_properties.py", "tests/planner/test_team_properties.py",
                     "tests/planner/test_errors.py", "tests/planner/test_index.py", "tests/planner/test_evaluate.py")),
    # The grid answers what the slot semantics answer: the oracle's property tests are its own.
    "grid": Module("planner/grid.py",
                   ("tests/planner/test_grid.py", "tests/planner/test_grid_cache.py", "tests/planner/test_bits.py",
                    "tests/planner/test_properties.py", "tests/planner/test_team_properties.py",
                    "tests/planner/test_errors.py", "tests/planner/test_evaluate.py")),
}

B = S + "test_booking.py::"
MODULES["lifecycle-ci"] = Module(
    "booking_service/services/lifecycle.py",
    (S + "test_lifecycle.py",
     B + "test_cancelling_sets_when_on_the_meeting_and_its_invitation",
     B + "test_acting_on_a_meeting_that_does_not_exist_is_refused",
     B + "test_on_postgres_the_resource_locks_make_the_loser_wait_and_see_no_longer_available"),
)
"""Lifecycle with its own tests and the few booking tests that assert what only it does."""

CI = "lifecycle-ci"
"""The quick form CI checks (the state machine: every transition goes through it)."""
CI_FLOOR = 90.0
"""Percent of lifecycle's mutants CI requires killed; ``docs/mutation.md`` has the latest score."""


TIMEOUT_MULTIPLIER = 3.0
"""mutmut stops a mutant whose tests use more CPU than ``2 * multiplier * (their time + 1 s)``, as
timed out, which counts as caught: a loop the mutation made endless. At mutmut's default of 15 the
slot semantics' looping mutants took minutes each; at 3 the limit is six times the tests' time."""

SOURCES = ("booking_service", "planner")
"""mutmut's ``source_paths``: copied into ``mutants/``, where the tests import them from."""


def _config(name: str, module: Module) -> str:
    """The checkout's pyproject.toml with a ``[tool.mutmut]`` for this module only."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    text = re.sub(r"\n\[tool\.mutmut\].*?(?=\n\[|\Z)", "\n", text, flags=re.S)
    quoted = ", ".join(json.dumps(t) for t in module.tests)
    return text + (
        f"\n[tool.mutmut]\n# written by tools/mutation.py for {name}\n"
        f"source_paths = [{', '.join(json.dumps(s + '/') for s in SOURCES)}]\n"
        f"only_mutate = [{json.dumps(module.path)}]\n"
        f"pytest_add_cli_args_test_selection = [{quoted}]\n"
        f'also_copy = ["docs/", "README.md", "dashboard/", "streamlit_app.py", "notebooks/", "benchmarks/"]\n'
        f'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
        f"timeout_multiplier = {TIMEOUT_MULTIPLIER}\n"
    )


def _workdir(name: str, module: Module) -> Path:
    work = WORK / name
    work.mkdir(parents=True, exist_ok=True)
    for entry in LINKED:
        link = work / entry
        if not link.exists():
            link.symlink_to(ROOT / entry)
    (work / "pyproject.toml").write_text(_config(name, module), encoding="utf-8")
    _refresh_data_files(work / "mutants")
    return work


def _refresh_data_files(mutants: Path) -> None:
    """Bring the sources' other files (templates, translations) in ``mutants/`` up to date.

    mutmut writes every Python file of the sources afresh on each run, but copies the rest only
    into a ``mutants/`` that lacks them: a template or a catalogue changed since would be tested
    as it was.
    """
    if not mutants.is_dir():
        return  # mutmut's first run copies everything
    for source in SOURCES:
        for path in (ROOT / source).rglob("*"):
            if not path.is_file() or path.suffix in {".py", ".pyc"} or "__pycache__" in path.parts:
                continue
            target = mutants / path.relative_to(ROOT)
            if not target.exists() or target.read_bytes() != path.read_bytes():
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)


def _mutmut(work: Path, *args: str) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("mutmut")
    return subprocess.run([str(exe), *args], cwd=work, text=True, capture_output=True)


@dataclass(frozen=True)
class Score:
    killed: int
    survived: int
    timeout: int
    crashed: int
    """Mutants whose test process died (a segfault in numpy or pandas): the tests failed, so caught."""
    no_tests: int
    total: int
    survivors: list[str]

    @property
    def percent(self) -> float:
        caught = self.killed + self.timeout + self.crashed
        judged = caught + self.survived + self.no_tests
        return 100.0 * caught / judged if judged else 0.0


def run(name: str, module: Module, max_children: int) -> Score:
    """Mutate one module and score it (mutmut's own counts)."""
    work = _workdir(name, module)
    started = time.monotonic()
    done = subprocess.run([str(Path(sys.executable).with_name("mutmut")), "run", "--max-children", str(max_children),
                           *module.only], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "SLOTWISE_TEST_DATABASES": module.databases})
    if done.returncode != 0 or "failed to collect stats" in done.stdout:
        # The module's tests must pass unmutated before any mutant means anything.
        raise SystemExit(f"{name}: mutmut could not run the module's tests unmutated:\n{done.stdout[-3000:]}")
    _mutmut(work, "export-cicd-stats")
    stats = json.loads((work / "mutants" / "mutmut-cicd-stats.json").read_text())
    listed = _mutmut(work, "results").stdout
    survivors = [line.split(":")[0].strip() for line in listed.splitlines()
                 if line.strip().endswith(("survived", "no tests"))]
    score = Score(stats["killed"], stats["survived"], stats["timeout"], stats["segfault"], stats["no_tests"],
                  stats["total"], survivors)
    print(f"{name:12s} {score.percent:5.1f}% killed  ({score.killed} killed, {score.timeout} timed out, "
          f"{score.crashed} crashed, "
          f"{score.survived} survived, {score.no_tests} without tests, of {score.total}) "
          f"in {time.monotonic() - started:.0f} s", flush=True)
    for survivor in survivors:
        print(f"    survived: {survivor}   (mutmut show {survivor}, in {work.relative_to(ROOT)})")
    return score


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help=f"some of: {', '.join(MODULES)} (default: all)")
    parser.add_argument("--ci", action="store_true", help=f"the quick form: {CI} only, failing below {CI_FLOOR}%%")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args(argv)
    names = [CI] if args.ci else (args.modules or [n for n in MODULES if n != CI])
    unknown = [n for n in names if n not in MODULES]
    if unknown:
        parser.error(f"unknown module {', '.join(unknown)}; choose from {', '.join(MODULES)}")
    failed = False
    for name in names:
        score = run(name, MODULES[name], args.max_children)
        floor = CI_FLOOR if args.ci else MODULES[name].floor
        if floor is not None and score.percent < floor:
            print(f"{name}: {score.percent:.1f}% is below the floor of {floor}%: kill the survivors above with "
                  "tests, or list them in docs/mutation.md with why they are equivalent", file=sys.stderr)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
