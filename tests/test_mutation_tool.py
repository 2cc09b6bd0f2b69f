"""tools/mutation.py: the work folder mutmut runs in stays true to the checkout."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("mutation_tool", ROOT / "tools" / "mutation.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_a_changed_template_or_catalogue_reaches_the_mutants_folder(tmp_path, monkeypatch):
    tool = _tool()
    checkout, mutants = tmp_path / "checkout", tmp_path / "mutants"
    for folder in (checkout, mutants):
        (folder / "planner").mkdir(parents=True)
        (folder / "booking_service" / "templates").mkdir(parents=True)
    (checkout / "booking_service" / "templates" / "mail.txt").write_text("Pick another time:")
    (mutants / "booking_service" / "templates" / "mail.txt").write_text("Pick another time")
    (checkout / "booking_service" / "messages.mo").write_bytes(b"\x00new")  # not there yet
    (checkout / "planner" / "grid.py").write_text("x = 1")
    (mutants / "planner" / "grid.py").write_text("x = 1  # mutmut's own version")
    (checkout / "booking_service" / "__pycache__").mkdir()
    (checkout / "booking_service" / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\x00")
    monkeypatch.setattr(tool, "ROOT", checkout)

    tool._refresh_data_files(mutants)

    assert (mutants / "booking_service" / "templates" / "mail.txt").read_text() == "Pick another time:"
    assert (mutants / "booking_service" / "messages.mo").read_bytes() == b"\x00new"
    assert (mutants / "planner" / "grid.py").read_text() == "x = 1  # mutmut's own version"  # mutmut's to write
    assert not (mutants / "booking_service" / "__pycache__").exists()


def test_before_mutmuts_first_run_nothing_is_copied(tmp_path):
    tool = _tool()
    tool._refresh_data_files(tmp_path / "mutants")
    assert not (tmp_path / "mutants").exists()


def test_each_module_runs_its_tests_on_the_databases_it_names(tmp_path, monkeypatch):
    """mutmut, and the tests it starts, get the module's ``SLOTWISE_TEST_DATABASES``."""
    import subprocess

    tool = _tool()
    monkeypatch.setattr(tool, "WORK", tmp_path / "work")
    seen = []

    def mutmut(command, **kwargs):
        seen.append(kwargs["env"]["SLOTWISE_TEST_DATABASES"])
        return subprocess.CompletedProcess(command, 1, stdout="stopped here")

    monkeypatch.setattr(tool.subprocess, "run", mutmut)
    for name in ("booking", "queue"):
        with pytest.raises(SystemExit, match="stopped here"):  # mutmut "failed": the tool stops there
            tool.run(name, tool.MODULES[name], 1)
    assert seen == ["sqlite", "sqlite,postgresql"]  # the queue claims rows differently on each


def test_every_module_names_databases_the_tests_know():
    from .conftest import DATABASES

    for name, module in _tool().MODULES.items():
        assert set(module.databases.split(",")) <= set(DATABASES), name


def test_mutmuts_configuration_names_the_module_its_tests_and_a_short_time_limit():
    import tomllib

    tool = _tool()
    config = tomllib.loads(tool._config("slots", tool.MODULES["slots"]))["tool"]["mutmut"]
    assert config["only_mutate"] == ["planner/slots.py"]
    assert config["pytest_add_cli_args_test_selection"] == list(tool.MODULES["slots"].tests)
    assert config["timeout_multiplier"] == 3.0  # mutmut's default of 15 let looping mutants take minutes
