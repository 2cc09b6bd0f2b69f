"""Under mutmut, run first the tests that already killed a mutant of the same function.

mutmut gives each mutant every test that executed its function, fastest first, and stops at the
first failure. A function that many tests run (the confirmation, a draft's validation) is mostly
caught by a few of them that assert what it does, which are rarely the fastest: a killed mutant
waited for dozens of tests that could not see it. This plugin keeps, in mutmut's working folder,
which test failed for which function, and puts a function's past killers first, the most
frequent first; the rest keep mutmut's order. The set of tests is unchanged, so a mutant is
killed or survives as before, only sooner.

``tests/conftest.py`` registers it when ``MUTANT_UNDER_TEST`` names a mutant.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

KILLERS = Path("mutation-killers.tsv")
"""One line per kill, ``function<TAB>test id``, in the folder mutmut runs the tests from."""

MARK = "__mutmut_"


def function_of(mutant: str) -> str | None:
    """``pkg.mod.x_confirm_slot__mutmut_12`` -> ``pkg.mod.x_confirm_slot``; ``None`` if not a mutant's name."""
    head, mark, _number = mutant.partition(MARK)
    return head if mark else None


def past_killers(function: str, path: Path = KILLERS) -> Counter[str]:
    """How many mutants of ``function`` each test killed so far."""
    if not path.exists():
        return Counter()
    counts: Counter[str] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        name, _tab, test = line.partition("\t")
        if name == function and test:
            counts[test] += 1
    return counts


def killers_first(items: list, killers: Counter[str]) -> list:
    """``items`` with the past killers first, by their count (a stable sort: ties keep their order)."""
    return sorted(items, key=lambda item: -killers.get(item.nodeid, 0))


class KillersFirst:
    """The pytest plugin: reorder before the run, record a failure's test after it."""

    def __init__(self, function: str, path: Path = KILLERS) -> None:
        self.function = function
        self.path = path

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list) -> None:
        items[:] = killers_first(items, past_killers(self.function, self.path))

    def pytest_runtest_logreport(self, report) -> None:
        if report.failed:
            # One short append: lines from two children running at once do not interleave.
            with self.path.open("a", encoding="utf-8") as out:
                out.write(f"{self.function}\t{report.nodeid}\n")


def register(config: pytest.Config) -> None:
    """Register the plugin when this pytest run tests a mutant."""
    function = function_of(os.environ.get("MUTANT_UNDER_TEST", ""))
    if function is not None:
        config.pluginmanager.register(KillersFirst(function), "mutation-killers-first")
