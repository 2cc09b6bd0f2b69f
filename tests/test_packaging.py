"""The package as people install it: the wheel alone runs every service, and it declares what it imports."""

from __future__ import annotations

import ast
import contextlib
import importlib.metadata
import os
import re
import shutil
import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

import pytest

from .ports import free_port

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("booking_service", "planner", "dashboard")


def _declared() -> set[str]:
    """Normalised names of the distributions ``[project] dependencies`` lists."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
            for spec in project["dependencies"]}


def _imported_top_level() -> set[str]:
    names = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    names.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(PACKAGES) - {"__future__"}


# Imported only when an optional extra is installed, each behind a clear message when it is not.
OPTIONAL = {"psycopg": "postgres", "redis": "redis", "authlib": "oidc"}


def test_every_package_the_code_imports_is_a_declared_dependency():
    providers = importlib.metadata.packages_distributions()
    declared = _declared()
    missing = []
    for module in sorted(_imported_top_level()):
        distributions = {d.lower().replace("_", "-") for d in providers.get(module, [module])}
        if not distributions & declared and module.lower() not in OPTIONAL:
            missing.append(f"{module} (from {', '.join(sorted(distributions))})")
    assert missing == [], "imported but not in [project] dependencies"


def test_notebook_only_packages_are_in_the_notebooks_extra():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not {"matplotlib", "jupyterlab", "jupyter", "ipykernel"} & _declared()
    extra = " ".join(project["optional-dependencies"]["notebooks"])
    assert "matplotlib" in extra and "jupyterlab" in extra


def _uv() -> str:
    uv = Path(sys.executable).with_name("uv")
    found = str(uv) if uv.exists() else shutil.which("uv")
    if not found:
        pytest.skip("uv is not installed (make test installs it into .venv)")
    return found


def _fetch(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


@pytest.mark.slow
def test_the_wheel_in_a_fresh_environment_runs_every_service(tmp_path):
    uv = _uv()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHONPATH"))}
    subprocess.run([uv, "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
                   check=True, capture_output=True, env=env, timeout=300)
    wheel = next((tmp_path / "dist").glob("slotwise-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), str(wheel)],
                   check=True, env=env, timeout=600)
    # Nothing of the checkout is used from here on: the working folder is elsewhere.
    run = {"cwd": tmp_path, "env": {**env, "SLOTWISE_VAR_DIR": str(tmp_path / "var"),
                                    "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'slotwise.db'}"}}
    version = importlib.metadata.version("slotwise")
    for command in ([str(venv / "bin" / "slotwise"), "--version"], [str(python), "-m", "booking_service", "--version"]):
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60, **run).stdout
        assert out.strip() == f"slotwise, version {version}"
    where = subprocess.run([str(python), "-c", "import booking_service, dashboard; print(booking_service.__file__,"
                            " dashboard.__file__)"], capture_output=True, text=True, check=True, **run).stdout
    assert str(ROOT) not in where and str(venv) in where

    booking_port, dashboard_port = free_port(), free_port()
    run["env"].update(BOOKING_PORT=str(booking_port), DASHBOARD_PORT=str(dashboard_port))
    process = subprocess.Popen([str(venv / "bin" / "slotwise"), "up"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True, **run)
    lines: list[str] = []
    try:
        for line in process.stdout:
            lines.append(line)
            if "Dashboard:" in line:
                break
        output = "".join(lines)
        assert f"Booking service: http://127.0.0.1:{booking_port}" in output, output
        # The URLs are printed only once both answer: no waiting here.
        status, page = _fetch(f"http://127.0.0.1:{booking_port}/")
        assert status == 200 and "Slotwise booking" in page
        assert _fetch(f"http://127.0.0.1:{booking_port}/readyz")[0] == 200
        status, page = _fetch(f"http://127.0.0.1:{dashboard_port}/")
        assert status == 200 and "<title>Streamlit</title>" in page or "streamlit" in page.lower()
        assert _fetch(f"http://127.0.0.1:{dashboard_port}/_stcore/health")[0] == 200
        os.killpg(process.pid, signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        # Whatever is left of the group (the services of an ``up`` that failed and exited too).
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert "Stopped." in rest, output + rest
    assert "File does not exist" not in output + rest
    # Nothing but what a person starting it needs: no warning from the dashboard's start.
    assert "No runtime found" not in output + rest and "Traceback" not in output + rest, output + rest
    assert process.returncode == 0
