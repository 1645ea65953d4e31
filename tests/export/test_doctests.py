"""The examples in the export's docstrings run (STYLE 10: docstrings carry an example that runs)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = (
    "export._config",
    "export._format",
    "export._documents._markup",
    "export._performance",
    "export._column_checks",
    "export._columns",
    "export._interface",
)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    if name in ("export._documents._markup", "export._column_checks", "export._columns", "export._interface"):
        pytest.importorskip("sklearn")  # the documents package needs the export extra to import
    failures, tried = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
