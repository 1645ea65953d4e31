"""The import rules of the code base, in one table, and the engine that checks a source tree against them.

Every ``import`` and ``from ... import`` statement (at module level or inside a function, relative ones
resolved) is an edge from the importing module to the imported one. A rule names the modules it
governs (``source``, a module prefix) and the modules they may not import (``forbidden``), with
``allowed`` exceptions carved out of the forbidden ones; the first matching rule of each kind applies
independently, so several rules can constrain the same module.

Prefixes match a module and everything inside it: ``runtime._serve`` matches ``runtime._serve.app``.
``runtime._*`` (a trailing ``*``) matches the core layer: the top-level private modules of ``runtime``,
not the layer packages above it (``LAYERS_ABOVE_CORE``) nor ``__main__``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["RULES", "Rule", "Violation", "check_tree", "imports_of"]

TRAINING_SIDE = ("sklearn", "scipy", "pandas", "joblib", "skl2onnx", "onnx", "pickle", "cloudpickle", "dill")
LAYERS_ABOVE_CORE = ("runtime._monitor", "runtime._serve", "runtime._connect", "runtime._cli")


@dataclass(frozen=True)
class Rule:
    """Modules matching ``source`` (minus ``except_source``) may not import ``forbidden`` (minus ``allowed``)."""

    why: str
    source: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    except_source: tuple[str, ...] = ()


RULES: tuple[Rule, ...] = (
    Rule(
        "the device never imports the training side, never unpickles, and never reaches into export",
        source=("runtime",),
        forbidden=(*TRAINING_SIDE, "export", "benchmarks"),
    ),
    Rule(
        "core (runtime/_*.py) is the bottom layer: it imports none of the layers above it",
        source=("runtime._*",),
        forbidden=LAYERS_ABOVE_CORE,
    ),
    Rule(
        "monitoring needs no HTTP and no command line",
        source=("runtime._monitor",),
        forbidden=("runtime._serve", "runtime._connect", "runtime._cli"),
    ),
    Rule(
        "the server and the connectors sit on core and monitoring, not on the command line or each other",
        source=("runtime._serve", "runtime._connect"),
        forbidden=("runtime._cli",),
    ),
    Rule(
        "the server never imports the connectors: what they share (model holder, JSON bodies) is core",
        source=("runtime._serve",),
        forbidden=("runtime._connect",),
    ),
    Rule(
        "the connectors never import the server: what they share (model holder, JSON bodies) is core",
        source=("runtime._connect",),
        forbidden=("runtime._serve",),
    ),
    Rule(
        "nothing imports the command line but its entry point",
        source=("runtime", "export", "benchmarks"),
        except_source=("runtime._cli", "runtime.__main__"),
        forbidden=("runtime._cli",),
    ),
    Rule(
        "the one seam: export and benchmarks use the public runtime and runtime._contract only",
        source=("export", "benchmarks"),
        forbidden=("runtime.",),
        allowed=("runtime._contract",),
    ),
    Rule(
        "export never depends on the benchmarks",
        source=("export",),
        forbidden=("benchmarks",),
    ),
    Rule(
        "the runtime suite runs on a device: it imports nothing from export or the benchmarks",
        source=("tests.runtime",),
        forbidden=("export", "benchmarks"),
    ),
)


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    imported: str
    rule: Rule

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.imported}: {self.rule.why}"


def _matches(module: str, prefix: str) -> bool:
    if prefix.endswith("."):  # "runtime." : anything inside runtime, not runtime itself
        return module.startswith(prefix)
    if prefix.endswith("._*"):  # "runtime._*": runtime's own top-level private modules
        parent = prefix[:-3]
        rest = module[len(parent) + 1 :] if module.startswith(parent + ".") else ""
        layered = module in LAYERS_ABOVE_CORE or module == f"{parent}.__main__"
        return rest.startswith("_") and "." not in rest and not layered
    return module == prefix or module.startswith(prefix + ".")


def _any(module: str, prefixes: Iterable[str]) -> bool:
    return any(_matches(module, prefix) for prefix in prefixes)


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(module: str, source: str, *, is_package: bool) -> Iterator[tuple[int, str, tuple[str, ...]]]:
    """(line, absolute module, imported names) for every import statement in ``source``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, ()
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield node.lineno, target, tuple(alias.name for alias in node.names if alias.name != "*")


def _is_module(root: Path, name: str) -> bool:
    path = root.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def check_tree(root: Path, packages: Sequence[str], rules: Sequence[Rule] = RULES) -> list[Violation]:
    """Every import under ``root/<package>`` for each of ``packages`` that breaks a rule."""
    violations: list[Violation] = []
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            module = module_name(root, path)
            text = path.read_text(encoding="utf-8")
            for line, target, names in imports_of(module, text, is_package=path.name == "__init__.py"):
                # "from runtime import _serve" imports the module runtime._serve; "from runtime import load" does not
                submodules = [f"{target}.{name}" for name in names if _is_module(root, f"{target}.{name}")]
                for imported, rule in ((m, r) for m in [target, *submodules] for r in rules):
                    if not _any(module, rule.source) or _any(module, rule.except_source):
                        continue
                    if _any(imported, rule.forbidden) and not _any(imported, rule.allowed):
                        violations.append(Violation(module, line, imported, rule))
    # one per statement and rule: "from ._serve import app" imports runtime._serve and runtime._serve.app
    unique = {(v.module, v.line, v.rule): v for v in reversed(violations)}
    return sorted(unique.values(), key=lambda v: (v.module, v.line, v.rule.why))
