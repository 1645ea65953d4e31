"""Any manifest gives a Manifest or a one-line BundleError, never another exception (issue 10, finding 10).

Property-based with Hypothesis, bounded so CI stays fast: a field anywhere in a real manifest replaced by
an arbitrary JSON value or deleted, and the raw bytes of manifest.json damaged.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._bundle import read_manifest

hypothesis = pytest.importorskip("hypothesis", reason="property tests need the dev extra (hypothesis)")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FIXTURE = Path(__file__).parent / "fixtures" / "manifest-v1.json"
BASE = json.loads(FIXTURE.read_text(encoding="utf-8"))
BASE["golden_cases"] = BASE["golden_cases"][:3]  # the same shapes, less to copy per example
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside ``data`` (dict keys and list indices)."""
    found = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(data, list):
        for index, value in enumerate(data[:3]):
            found += _paths(value, (*prefix, index))
    return found


PATHS = _paths(BASE)


def _loads_or_refuses(data: Any) -> None:
    try:
        manifest = runtime.Manifest.from_dict(data)
    except runtime.BundleError as error:
        assert "\n" not in str(error) and len(str(error)) < 600
    else:
        assert isinstance(manifest, runtime.Manifest)


@SETTINGS
@given(path=st.sampled_from(PATHS), value=json_values, delete=st.booleans())
def test_any_field_replaced_or_removed(path, value, delete):
    data = copy.deepcopy(BASE)
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    if delete and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    _loads_or_refuses(data)


@SETTINGS
@given(value=json_values)
def test_any_document_at_all(value):
    _loads_or_refuses(value)


@SETTINGS
@given(position=st.integers(min_value=0), replacement=st.binary(min_size=0, max_size=6), cut=st.booleans())
def test_damaged_manifest_bytes(tmp_path_factory, position, replacement, cut):
    raw = json.dumps(BASE).encode("utf-8")
    position %= len(raw)
    damaged = raw[:position] if cut else raw[:position] + replacement + raw[position + len(replacement) :]
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "manifest.json").write_bytes(damaged)
    try:
        manifest = read_manifest(folder)
    except runtime.BundleError as error:
        assert "\n" not in str(error)
    else:
        assert isinstance(manifest, runtime.Manifest)
