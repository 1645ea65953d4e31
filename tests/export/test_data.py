"""Data loading and typing: inference, overrides, the schema file, the demo set."""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export import ExportConfig, ExportError, run_export  # noqa: E402
from export._columns import infer_spec, prepare_frame  # noqa: E402
from export._data import make_demo_data  # noqa: E402


@pytest.fixture()
def frame():
    return pd.DataFrame(
        {
            "pressure": [50.0, np.nan, 47.5],
            "line": [1, 2, 1],
            "passed": [True, False, True],
            "operator": ["Kim", None, "Ana"],
            "serial": ["a1", "a2", "a3"],
            "y": [0, 1, 0],
        }
    )


def test_inference_and_overrides(frame):
    spec = infer_spec(frame, "y")
    assert spec.numeric == ("pressure", "line")
    assert spec.categorical == ("passed", "operator", "serial")
    spec = infer_spec(frame, "y", categorical=("line",), drop=("serial",))
    assert spec.numeric == ("pressure",)
    assert spec.categorical == ("line", "passed", "operator")
    assert spec.dropped == ("serial",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": "nope"}, "target column 'nope' is not in the data"),
        ({"target": "y", "drop": ("nope",)}, "column 'nope' is not in the data"),
        (
            {"target": "y", "numeric": ("line",), "categorical": ("line",)},
            "columns ['line'] are listed as both numeric and categorical",
        ),
        ({"target": "y", "numeric": ("operator",)}, None),
    ],
)
def test_bad_column_lists(frame, kwargs, message):
    if message is None:  # declared numeric but holds text: found when the frame is prepared
        spec = infer_spec(frame, **kwargs)
        with pytest.raises(ValueError, match="column 'operator' is declared numeric but holds non-numbers"):
            prepare_frame(frame, spec)
        return
    with pytest.raises(ValueError) as caught:
        infer_spec(frame, **kwargs)
    assert str(caught.value).startswith(message)


def test_prepared_categories_are_strings_with_empty_for_missing(frame):
    spec = infer_spec(frame, "y", categorical=("line",))
    prepared = prepare_frame(frame, spec)
    assert prepared["line"].tolist() == ["1", "2", "1"]
    assert prepared["operator"].tolist() == ["Kim", "", "Ana"]
    assert prepared["passed"].tolist() == ["True", "False", "True"]
    assert prepared["pressure"].dtype == np.float64


def test_demo_data_is_deterministic_and_has_dropouts():
    first, second = make_demo_data(2000, seed=7), make_demo_data(2000, seed=7)
    pd.testing.assert_frame_equal(first, second)
    assert not first.equals(make_demo_data(2000, seed=8))
    assert 0.01 < first["temperature"].isna().mean() < 0.04
    assert 0.0 < (first["shift"] == "").mean() < 0.03
    assert 0.1 < first["defect"].mean() < 0.3


def test_schema_file_sets_ranges_and_nullability(tmp_path):
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "columns": {
                    "temperature": {"valid_range": [140, 260], "description": "melt temperature, deg C"},
                    "machine_type": {"nullable": True},
                }
            }
        )
    )
    result = run_export(ExportConfig(output=tmp_path / "models", demo_rows=2000, measure=False, schema=schema))
    manifest = runtime.load(result.bundle).manifest
    temperature = manifest.column("temperature")
    assert temperature.valid_range == (140.0, 260.0) and temperature.range_source == "the schema file"
    assert temperature.description == "melt temperature, deg C"
    assert manifest.column("machine_type").nullable is True
    assert result.parity.kinds["range-boundary"]["cases"] > 0


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        (
            {"temperature": {"valid_range": [160, 240]}},
            "training values of 'temperature' lie outside its valid range [160.0, 240.0] from the schema file",
        ),
        ({"pressure": {"nullable": False}}, "the schema file says 'pressure' is never missing, but"),
    ],
)
def test_schema_contradicting_the_data_is_refused(tmp_path, columns, message):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"columns": columns}))
    with pytest.raises(ExportError, match=None) as caught:
        run_export(ExportConfig(output=tmp_path / "models", demo_rows=2000, measure=False, schema=schema))
    assert message in str(caught.value)
    assert not (tmp_path / "models" / "quality").exists()
