"""The layers of runtime._serve, read from the source: imports flow one way (endpoints -> data plane
-> core), the data plane knows no HTTP, nothing below imports the server, and every module imports."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from tests.probes import modules_after

ROOT = Path(__file__).resolve().parents[3]
SERVE = ROOT / "runtime" / "_serve"
# Lowest first: a module may import only those before it (runtime._serve/__init__.py draws the graph).
# The model holder and JSON bodies are core (runtime._holder, runtime._json_body), shared with runtime._connect.
ORDER = (
    "config",
    "access",
    "errors",
    "bad_rows",
    "call",
    "outcome",
    "metrics",
    "protocol_v1",
    "protocol_v2",
    "dataplane",
    "endpoints",
    "connections",
    "app",
    "server",
)
HTTP = ("starlette", "uvicorn", "h11")


def imported(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` (in ``package``) imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                names.add(node.module or "")
                continue
            base = package.split(".")[: len(package.split(".")) - node.level + 1]
            names.add(".".join(base + ([node.module] if node.module else [])))
    return names


def test_the_module_list_is_complete():
    assert sorted(path.stem for path in SERVE.glob("*.py") if path.stem != "__init__") == sorted(ORDER)


@pytest.mark.parametrize("name", ORDER)
def test_imports_flow_down_the_graph(name):
    found = imported(SERVE / f"{name}.py", "runtime._serve")
    inside = {module.removeprefix("runtime._serve.") for module in found if module.startswith("runtime._serve.")}
    assert not inside - set(ORDER[: ORDER.index(name)]), f"{name} imports a module above it"
    assert not {module for module in found if module.startswith("runtime._cli")}
    if ORDER.index(name) < ORDER.index("endpoints"):  # the data plane and below: no HTTP
        assert not {module for module in found if module.split(".")[0] in HTTP}


def test_the_core_and_monitoring_never_import_the_server():
    offenders = []
    for path in sorted([*(ROOT / "runtime").glob("*.py"), *(ROOT / "runtime" / "_monitor").glob("*.py")]):
        package = "runtime._monitor" if path.parent.name == "_monitor" else "runtime"
        offenders += [f"{path.name}: {m}" for m in imported(path, package) if m.startswith("runtime._serve")]
    assert offenders == []


def test_the_package_imports_nothing_and_every_module_imports():
    probe = modules_after("import runtime._serve", ["runtime._serve", *HTTP, "prometheus_client", "anyio"])
    assert probe.returncode == 0, probe.stderr
    assert probe.modules == ("runtime._serve",)
    for name in ORDER:
        importlib.import_module(f"runtime._serve.{name}")
