"""The examples in the planner's documentation run and print what they say."""

from __future__ import annotations

import doctest

import pytest

import planner
import planner.charts
import planner.request
import planner.teams.limits


@pytest.mark.parametrize("module", [planner, planner.charts, planner.request, planner.teams.limits])
def test_docstring_examples(module) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_planner_imports_no_service_or_ui_code() -> None:
    import ast
    from pathlib import Path

    forbidden = {"booking_service", "flask", "streamlit", "sqlalchemy"}
    root = Path(planner.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0].lower() not in forbidden, f"{path.relative_to(root)} imports {name}"
