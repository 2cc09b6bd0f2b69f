"""The rooms of the code and the direction of their imports (docs/architecture.md).

Every import is read from the source (also imports inside functions, which still tie modules
together), relative imports resolved; imports under ``if TYPE_CHECKING:`` are type hints only and
do not count. The rules:

- inside ``booking_service``, a room imports only rooms below it: core < store < services <
  calendars < delivery, web < the package's own top modules (cli, seed); delivery and web do not
  import each other;
- ``planner`` imports no Slotwise code, database, web or dashboard library;
- the dashboard reaches the booking service through its services, calendars, core and the store's
  sessions module, never the store's models, loader or queues;
- no two modules of ``booking_service`` import each other, directly or around a circle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RANK = {"core": 0, "store": 1, "services": 2, "calendars": 3, "delivery": 4, "web": 4, "top": 5}
PLANNER_FORBIDDEN = ("booking_service", "dashboard", "flask", "streamlit", "sqlalchemy")
DASHBOARD_ALLOWED = (
    "booking_service.core",
    "booking_service.services",
    "booking_service.calendars",
    "booking_service.store.db",
)


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for child in ast.iter_child_nodes(node):
        if _type_checking_block(child):
            continue
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        else:
            yield from _import_nodes(child)


def imports_of(source: str, module: str, is_package: bool = False) -> set[str]:
    """Absolute names of the modules (or module attributes) ``module``'s source imports."""
    package = module if is_package else module.rpartition(".")[0]
    found: set[str] = set()
    for node in _import_nodes(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
            continue
        if node.level:
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            target = f"{base}.{node.module}" if node.module else base
        else:
            target = node.module or ""
        found.add(target)
        # "from package import module" imports the module itself.
        found.update(f"{target}.{alias.name}" for alias in node.names)
    return found


def room_of(module: str) -> str | None:
    """The room of a ``booking_service`` module (``top`` for the package's own modules)."""
    parts = module.split(".")
    if parts[0] != "booking_service":
        return None
    if len(parts) == 1 or parts[1] not in RANK:
        return "top"
    return parts[1]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    """Every import of a ``booking_service`` module that points at a room above or beside it."""
    problems = []
    for importer, targets in sorted(graph.items()):
        room = room_of(importer)
        if room is None:
            continue
        for target in sorted(targets):
            other = room_of(target)
            if other is None or other == room or target == "booking_service":
                continue
            if RANK[other] >= RANK[room]:
                problems.append(f"{importer} ({room}) imports {target} ({other})")
    return problems


def known(graph: dict[str, set[str]], names: Iterable[str]) -> set[str]:
    """The modules of ``graph`` that ``names`` refer to (a name may be a module's attribute)."""
    found = set()
    for name in names:
        while name and name not in graph:
            name = name.rpartition(".")[0]
        if name:
            found.add(name)
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in known(graph, graph[node]) - {node}:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def import_graph(*folders: str) -> dict[str, set[str]]:
    graph = {}
    for folder in folders:
        base = ROOT / folder
        paths = [base] if base.suffix == ".py" else sorted(base.rglob("*.py"))
        for path in paths:
            name = module_name(path)
            graph[name] = imports_of(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
    return graph


# --- the rules on this repository -------------------------------------------------------------------


def test_booking_service_rooms_import_only_rooms_below_them():
    assert layer_violations(import_graph("booking_service")) == []


def test_booking_service_has_no_import_cycles():
    graph = import_graph("booking_service")
    assert cycles(graph) == []


def test_planner_imports_no_database_web_or_dashboard_code():
    graph = import_graph("planner")
    bad = [f"{m} imports {t}" for m, ts in sorted(graph.items()) for t in sorted(ts)
           if t.split(".")[0] in PLANNER_FORBIDDEN]
    assert bad == []


def test_dashboard_uses_services_not_the_store():
    graph = import_graph("dashboard", "streamlit_app.py")
    bad = [
        f"{m} imports {t}"
        for m, ts in sorted(graph.items())
        for t in sorted(ts)
        if t.startswith("booking_service") and t != "booking_service"
        and not any(t == allowed or t.startswith(allowed + ".") for allowed in DASHBOARD_ALLOWED)
    ]
    assert bad == []


# --- the checker itself catches what it should ------------------------------------------------------


def test_relative_imports_resolve_and_type_hints_do_not_count():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from ..store.models import Invitation\n"
        "from . import audit\n"
        "def f():\n    from ..web.app import create_app\n"
        "if TYPE_CHECKING:\n    from ..delivery.mail import Sender\n"
    )
    found = imports_of(source, "booking_service.services.booking")
    assert {"booking_service.store.models", "booking_service.services.audit", "booking_service.web.app"} <= found
    assert not any(name.startswith("booking_service.delivery") for name in found)


@pytest.mark.parametrize(
    ("importer", "target", "allowed"),
    [
        ("booking_service.services.booking", "booking_service.store.models", True),
        ("booking_service.services.booking", "booking_service.services.audit", True),
        ("booking_service.store.models", "booking_service.services.permissions", False),
        ("booking_service.services.booking", "booking_service.calendars.writeback", False),
        ("booking_service.web.booking", "booking_service.delivery.mail", False),
        ("booking_service.delivery.worker", "booking_service.web.app", False),
        ("booking_service.cli", "booking_service.web.app", True),
        ("booking_service.core.config", "booking_service.cli", False),
    ],
)
def test_layer_rule(importer, target, allowed):
    assert (layer_violations({importer: {target}}) == []) is allowed


def test_cycles_are_found_through_attribute_imports():
    graph = {
        "booking_service.services.a": {"booking_service.services.b.thing"},
        "booking_service.services.b": {"booking_service.services.c"},
        "booking_service.services.c": {"booking_service.services.a"},
        "booking_service.services.d": {"booking_service.services.a"},
    }
    assert cycles(graph) == [["booking_service.services.a", "booking_service.services.b", "booking_service.services.c"]]
