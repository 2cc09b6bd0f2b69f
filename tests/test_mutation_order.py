"""Under mutmut, a function's past killers run first (tests/mutation_order.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

from .mutation_order import function_of, killers_first, past_killers

ROOT = Path(__file__).resolve().parents[1]

SUITE = '''
def test_fast():
    pass

def test_also_fast():
    pass

def test_the_one_that_sees_it():
    assert False, "the mutant is caught here"
'''

CONFTEST = '''
from tests import mutation_order

def pytest_configure(config):
    mutation_order.register(config)
'''


def test_a_mutants_name_gives_its_function():
    assert function_of("booking_service.services.booking.x_confirm_slot__mutmut_12") == (
        "booking_service.services.booking.x_confirm_slot")
    assert function_of("planner.slots.xǁSlotIndexǁ__init____mutmut_3") == "planner.slots.xǁSlotIndexǁ__init__"
    for not_a_mutant in ("", "stats", "fail", "mutant_generation"):
        assert function_of(not_a_mutant) is None


def test_past_killers_count_only_that_functions_kills(tmp_path):
    path = tmp_path / "killers.tsv"
    assert past_killers("m.x_f", path) == Counter()
    path.write_text("m.x_f\tt::a\nm.x_g\tt::a\nm.x_f\tt::b\nm.x_f\tt::b\nm.x_f2\tt::c\n", encoding="utf-8")
    assert past_killers("m.x_f", path) == Counter({"t::b": 2, "t::a": 1})


def test_killers_go_first_by_count_and_the_rest_keep_their_order():
    items = [SimpleNamespace(nodeid=n) for n in ("fast", "slow", "middle", "killer", "best")]
    ordered = killers_first(items, Counter({"killer": 1, "best": 3}))
    assert [i.nodeid for i in ordered] == ["best", "killer", "fast", "slow", "middle"]


def _run(folder: Path, mutant: str) -> str:
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-v", "-p", "no:cacheprovider", "test_suite.py"],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr  # the mutant is caught either way
    return done.stdout


def test_under_mutmut_the_test_that_killed_a_functions_mutant_runs_first_next_time(tmp_path):
    (tmp_path / "test_suite.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")

    first = _run(tmp_path, "pkg.mod.x_f__mutmut_1")
    assert "test_fast PASSED" in first and "test_also_fast PASSED" in first
    assert (tmp_path / "mutation-killers.tsv").read_text(encoding="utf-8") == (
        "pkg.mod.x_f\ttest_suite.py::test_the_one_that_sees_it\n")

    second = _run(tmp_path, "pkg.mod.x_f__mutmut_2")  # another mutant of the same function
    assert "test_the_one_that_sees_it FAILED" in second
    assert "test_fast" not in second and "1 failed in" in second  # stopped at the first failure

    other = _run(tmp_path, "pkg.mod.x_g__mutmut_1")  # another function: mutmut's order
    assert other.index("test_fast PASSED") < other.index("test_the_one_that_sees_it FAILED")


def test_outside_mutmut_nothing_is_reordered_or_recorded(tmp_path):
    (tmp_path / "test_suite.py").write_text(SUITE, encoding="utf-8")
    (tmp_path / "conftest.py").write_text(CONFTEST, encoding="utf-8")
    (tmp_path / "mutation-killers.tsv").write_text("pkg.mod.x_f\ttest_suite.py::test_the_one_that_sees_it\n")
    for value in ("", "stats"):
        out = _run(tmp_path, value)
        assert out.index("test_fast PASSED") < out.index("test_the_one_that_sees_it FAILED")
    assert (tmp_path / "mutation-killers.tsv").read_text(encoding="utf-8").count("\n") == 1
