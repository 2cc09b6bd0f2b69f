"""The analysts' notebooks run top to bottom against a fresh demo database.

The demo database is made the way a user makes it (``slotwise init-db`` then ``slotwise
seed-demo``) in a temporary folder; the notebooks then run side by side, each in a Jupyter
kernel of this very interpreter (the ``python3`` kernel resolves to ``sys.executable``), with
``DATABASE_URL`` pointing at that database and matplotlib rendering through Agg (``MPLBACKEND``;
the notebooks' inline backend draws with Agg too). The notebooks are committed without outputs;
the executed copies are written next to the database for reading when a run fails.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest
from click.testing import CliRunner
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from booking_service.cli import main

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("availability_explorer.ipynb", "capacity_planning.ipynb")
# A cell that runs longer than this is stuck, not slow: the notebooks' speed is measured by the
# timings this test prints, not asserted on a shared machine.
CELL_TIMEOUT_SECONDS = 600.0
KERNEL = "python3"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    """Environment of a fresh demo database in a temporary folder, seeded with the CLI."""
    folder = tmp_path_factory.mktemp("notebooks")
    env = {
        "DATABASE_URL": f"sqlite:///{folder / 'slotwise.db'}",
        "SLOTWISE_VAR_DIR": str(folder / "var"),
        "SECRET_KEY": "notebook-test-secret",
        "MPLBACKEND": "Agg",
    }
    started = time.perf_counter()
    runner = CliRunner()
    for command in (["init-db"], ["seed-demo"]):
        result = runner.invoke(main, command, env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
    env["SLOTWISE_SEED_SECONDS"] = f"{time.perf_counter() - started:.3f}"
    env["SLOTWISE_OUT_DIR"] = str(folder)
    return env


def _committed(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_is_committed_without_outputs(name):
    notebook = _committed(name)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code, f"{name} has no code cells"
    for cell in code:
        assert cell.get("outputs", []) == [] and cell.get("execution_count") is None, (
            f"{name} is committed with outputs; clear them (Kernel > Restart & Clear Output) before committing"
        )


def test_kernel_is_this_interpreter():
    # The python3 kernel spec names "python", which jupyter_client resolves to sys.executable:
    # the notebooks run on the project's virtualenv, not on whatever python is on PATH.
    assert KernelManager(kernel_name=KERNEL).format_kernel_cmd()[0] == sys.executable


async def _execute(name: str, env: dict[str, str]) -> tuple[nbformat.NotebookNode, float]:
    notebook = _committed(name)
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        kernel_name=KERNEL,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    started = time.perf_counter()
    try:
        await client.async_execute(env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    finally:
        nbformat.write(notebook, Path(env["SLOTWISE_OUT_DIR"]) / name)
    return notebook, time.perf_counter() - started


async def _execute_all(env: dict[str, str]) -> list[tuple[nbformat.NotebookNode, float]]:
    # One kernel per notebook, side by side: the two notebooks are independent readers.
    return await asyncio.gather(*(_execute(name, env) for name in NAMES))


def _outputs(notebook: nbformat.NotebookNode, kind: str) -> list[dict]:
    return [o for cell in notebook.cells for o in cell.get("outputs", []) if o.get("output_type") == kind]


def test_notebooks_run_top_to_bottom(demo_env):
    started = time.perf_counter()
    results = asyncio.run(_execute_all(demo_env))
    wall = time.perf_counter() - started
    executed = {name: notebook for name, (notebook, _) in zip(NAMES, results, strict=True)}
    elapsed = {name: round(seconds, 1) for name, (_, seconds) in zip(NAMES, results, strict=True)}
    total = wall + float(demo_env["SLOTWISE_SEED_SECONDS"])
    print(f"notebook timings: seed {demo_env['SLOTWISE_SEED_SECONDS']} s, {elapsed}, total {total:.1f} s")

    for name, notebook in executed.items():
        assert not _outputs(notebook, "error"), f"{name} raised"
        # Every chart is rendered (as PNG by matplotlib's inline backend).
        images = [o for o in _outputs(notebook, "display_data") if "image/png" in o.get("data", {})]
        assert len(images) >= 3, f"{name} shows {len(images)} charts"

    # Each section that answers an analyst's question runs and draws its figure.
    for name, sections in SECTIONS_WITH_FIGURES.items():
        for heading in sections:
            cells = _section(executed[name], heading)
            assert cells, f"{name} has no section {heading!r}"
            figures = [o for cell in cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            assert figures, f"{name}: the section {heading!r} draws no figure"

    # The conclusion is computed, not typed: it quotes the numbers the notebook computed, and
    # leads with meetings that fit, slot starts second.
    conclusion = executed["capacity_planning.ipynb"].cells[-1]
    text = "".join(o.get("data", {}).get("text/markdown", "") for o in conclusion.get("outputs", []))
    assert "slot starts" in text and any(ch.isdigit() for ch in text), text
    assert text.index("demos fit") < text.index("slot starts"), text
    assert "Demand" in text and "forecast" in text, text


# Sections (markdown headings) whose code must run and draw at least one figure.
SECTIONS_WITH_FIGURES = {
    "availability_explorer.ipynb": (
        "When is each member free, in their own zone?",
        "How many of the team are free at once",
        "Slots for a meeting request",
        "Promoted picks versus the earliest slots",
    ),
    "capacity_planning.ipynb": (
        "Utilization over the next 8 weeks",
        "The whole organisation at once",
        "A standard meeting type",
        "What if?",
        "Free capacity",
        "Demand against supply",
    ),
}


def _section(notebook: nbformat.NotebookNode, heading: str) -> list:
    """The code cells from the markdown cell whose heading starts with ``heading`` to the next heading."""
    cells, inside = [], False
    for cell in notebook.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            inside = cell.source.lstrip("# ").startswith(heading)
        elif inside and cell.cell_type == "code":
            cells.append(cell)
    return cells
