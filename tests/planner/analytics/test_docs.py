"""The examples in the docstrings of planner.analytics and of each of its modules hold."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import planner.analytics


def test_examples_in_the_docstrings_hold():
    modules = [planner.analytics] + [
        importlib.import_module(info.name)
        for info in pkgutil.iter_modules(planner.analytics.__path__, "planner.analytics.")
    ]
    results = [doctest.testmod(m, optionflags=doctest.NORMALIZE_WHITESPACE) for m in modules]
    attempted = sum(r.attempted for r in results)
    failed = sum(r.failed for r in results)
    assert attempted >= 6 and failed == 0
