"""The layers hold (issue 9, must show 1): the rules are one table in tests/layering.py, checked on the real
tree, and the engine is shown to catch each kind of forbidden import in a synthetic tree."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.layering import RULES, check_tree

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("runtime", "export", "benchmarks", "tests")


def test_the_code_base_keeps_every_layering_rule():
    violations = check_tree(ROOT, PACKAGES)
    assert [str(v) for v in violations] == []


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


# a small runtime / export / tests tree that breaks nothing
CLEAN = {
    "runtime/__init__.py": "from ._model import load\n",
    "runtime/__main__.py": "from ._cli import main\n",
    "runtime/_contract.py": "MISSING_CATEGORY = ''\n",
    "runtime/_model.py": "from ._contract import MISSING_CATEGORY\ndef load(): ...\n",
    "runtime/_monitor/__init__.py": "",
    "runtime/_monitor/drift.py": "from .._model import load\n",
    "runtime/_serve/__init__.py": "",
    "runtime/_serve/app.py": "from .._monitor import drift\nfrom ..import _model\n",
    "runtime/_connect/__init__.py": "",
    "runtime/_connect/mqtt.py": "from .._monitor import drift\nfrom .._holder import ModelHolder\n",
    "runtime/_cli/__init__.py": "from ._base import main\n",
    "runtime/_cli/_base.py": "def main(): from .._serve import app\n",
    "export/__init__.py": "import runtime\nfrom runtime import load\nfrom runtime._contract import MISSING_CATEGORY\n",
    "tests/runtime/test_x.py": "from runtime._cli import main\nfrom runtime._serve.app import x\n",
}

BREAKS = [
    ("runtime/_model.py", "import sklearn\n", "runtime._model:1 imports sklearn: the device never imports"),
    ("runtime/_model.py", "def f():\n    import pickle\n", "runtime._model:2 imports pickle: the device never"),
    ("runtime/_model.py", "from ._serve import app\n", "runtime._model:1 imports runtime._serve: core"),
    ("runtime/_model.py", "from . import _monitor\n", "runtime._model:1 imports runtime._monitor: core"),
    ("runtime/_monitor/drift.py", "from .._serve.app import x\n", "runtime._monitor.drift:1 imports runtime._serve"),
    ("runtime/_serve/app.py", "from .._cli._base import main\n", "runtime._serve.app:1 imports runtime._cli"),
    ("runtime/_serve/app.py", "from .._connect import mqtt\n", "runtime._serve.app:1 imports runtime._connect"),
    ("runtime/_connect/mqtt.py", "from .._serve import app\n", "runtime._connect.mqtt:1 imports runtime._serve"),
    ("export/__init__.py", "from runtime._model import load\n", "export:1 imports runtime._model: the one seam"),
    ("export/__init__.py", "import benchmarks\n", "export:1 imports benchmarks: export never"),
    ("export/__init__.py", "from runtime._cli import main\n", "export:1 imports runtime._cli: nothing imports"),
    ("tests/runtime/test_x.py", "from export import _data\n", "tests.runtime.test_x:1 imports export"),
]


def test_a_clean_synthetic_tree_passes(tmp_path):
    assert check_tree(_tree(tmp_path, CLEAN), PACKAGES) == []


@pytest.mark.parametrize(("path", "text", "expected"), BREAKS, ids=[f"{p}:{t.split()[1]}" for p, t, _ in BREAKS])
def test_the_engine_catches_a_forbidden_import(tmp_path, path, text, expected):
    root = _tree(tmp_path, {**CLEAN, path: text})
    found = [str(violation) for violation in check_tree(root, PACKAGES)]
    assert any(line.startswith(expected) for line in found), found
    module = expected.split(":")[0]
    assert all(line.startswith(module + ":") for line in found), found  # nothing else is reported


def test_every_rule_is_exercised_by_a_break(tmp_path):
    fired = set()
    for index, (path, text, _) in enumerate(BREAKS):
        root = _tree(tmp_path / str(index), {**CLEAN, path: text})
        fired |= {violation.rule for violation in check_tree(root, PACKAGES)}
    assert [rule.why for rule in RULES if rule not in fired] == []
