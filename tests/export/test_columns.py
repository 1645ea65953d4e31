"""Column policy: inference and overrides, typed values, nullable, valid ranges, the schema file."""

from __future__ import annotations

import json

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export import ExportConfig, ExportError, run_export  # noqa: E402
from export._columns import (  # noqa: E402
    RANGE_MARGIN,
    column_specs,
    describe_ranges,
    infer_spec,
    prepare_frame,
    read_schema_file,
)
from export._config import TableSpec  # noqa: E402
from tests.export.conftest import TINY  # noqa: E402


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
        (
            {"target": "y", "drop": ("pressure", "line", "passed", "operator", "serial")},
            "no feature columns are left after dropping the target and --drop columns",
        ),
    ],
)
def test_bad_column_lists(frame, kwargs, message):
    with pytest.raises(ValueError) as caught:
        infer_spec(frame, **kwargs)
    assert str(caught.value).startswith(message)


def test_a_numeric_column_holding_text_is_refused_when_typed(frame):
    spec = infer_spec(frame, "y", numeric=("operator",))
    with pytest.raises(ValueError, match="column 'operator' is declared numeric but holds non-numbers"):
        prepare_frame(frame, spec)


def test_prepared_categories_are_strings_with_empty_for_missing(frame):
    spec = infer_spec(frame, "y", categorical=("line",))
    prepared = prepare_frame(frame, spec)
    assert prepared["line"].tolist() == ["1", "2", "1"]
    assert prepared["operator"].tolist() == ["Kim", "", "Ana"]
    assert prepared["passed"].tolist() == ["True", "False", "True"]
    assert prepared["pressure"].dtype == np.float64


def _features() -> tuple[TableSpec, pd.DataFrame]:
    spec = TableSpec("y", numeric=("wear", "temp"), categorical=("shift",))
    features = pd.DataFrame(
        {
            "wear": [0.0, 10.0, 20.0, np.nan],
            "temp": [-5.0, 5.0, 15.0, 25.0],
            "shift": ["day", "night", "", "day"],
        }
    )
    return spec, features


def test_ranges_nullable_and_categories_from_the_data():
    spec, features = _features()
    wear, temp, shift = column_specs(spec, features, {})
    # widened by 10 % of the span, but a column never negative in training stays >= 0
    assert wear.valid_range == (0.0, 20.0 + RANGE_MARGIN * 20.0)
    assert wear.range_source == "training data min/max widened by 10% of the span, not below 0"
    assert temp.valid_range == (-5.0 - 3.0, 25.0 + 3.0)
    assert temp.range_source == "training data min/max widened by 10% of the span"
    assert (wear.nullable, temp.nullable, shift.nullable) == (True, False, True)
    assert shift.kind == "category" and shift.categories == ("day", "night") and shift.valid_range is None
    assert [c.onnx_input for c in (wear, temp, shift)] == ["wear", "temp", "shift"]


@pytest.mark.parametrize(
    ("margin", "temp_range", "source"),
    [
        (0.25, (-5.0 - 7.5, 25.0 + 7.5), "training data min/max widened by 25% of the span"),
        (0.0, (-5.0, 25.0), "training data min/max widened by 0% of the span"),
        (1.5, (-5.0 - 45.0, 25.0 + 45.0), "training data min/max widened by 150% of the span"),
    ],
)
def test_the_range_margin_sets_the_widening_and_is_recorded(margin, temp_range, source):
    spec, features = _features()
    wear, temp, _ = column_specs(spec, features, {}, range_margin=margin)
    assert (temp.valid_range, temp.range_source) == (temp_range, source)
    floor = ", not below 0" if margin else ""  # with no margin the training minimum 0 is the low end anyway
    assert wear.valid_range == (0.0, 20.0 + margin * 20.0) and wear.range_source == source + floor
    assert describe_ranges((wear, temp)) == [
        f"wear: [0, {20.0 + margin * 20.0:.6g}] ({source}{floor})",
        f"temp: [{temp_range[0]:.6g}, {temp_range[1]:.6g}] ({source})",
    ]


def test_the_schema_file_and_the_demo_limits_win_over_the_data():
    spec, features = _features()
    schema = {"temp": {"valid_range": [-40, 60], "description": "melt temperature"}, "shift": {"nullable": True}}
    wear, temp, shift = column_specs(spec, features, schema, demo_ranges={"wear": (0.0, 100.0), "temp": (0.0, 1.0)})
    assert (wear.valid_range, wear.range_source) == ((0.0, 100.0), "the demo data's physical sensor limits")
    assert (temp.valid_range, temp.range_source) == ((-40.0, 60.0), "the schema file")
    assert temp.description == "melt temperature"
    assert shift.nullable is True


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        (
            {"temp": {"valid_range": [0, 20]}},
            "2 training values of 'temp' lie outside its valid range [0.0, 20.0] from the schema file: "
            "widen the range or clean the data",
        ),
        (
            {"wear": {"nullable": False}},
            "the schema file says 'wear' is never missing, but 1 training rows have it missing: "
            "fill or drop those rows, or declare the column nullable",
        ),
        ({"shift": {"nullable": "yes"}}, "schema file: 'shift' nullable == 'yes', must be true or false"),
    ],
)
def test_a_schema_contradicting_the_data_is_refused(schema, message):
    spec, features = _features()
    with pytest.raises(ExportError) as caught:
        column_specs(spec, features, schema)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("column", "values", "message"),
    [
        ("wear", [np.nan] * 4, "column 'wear' is missing in all 4 training rows: drop it (--drop wear) or fill it"),
        (
            "shift",
            [""] * 4,
            "column 'shift' is missing in all 4 training rows: drop it (--drop shift) or fill it",
        ),
    ],
)
def test_a_column_missing_in_every_row_is_refused(column, values, message):
    # was numpy's "zero-size array to reduction operation maximum which has no identity"
    spec, features = _features()
    features[column] = values
    with pytest.raises(ExportError) as caught:
        column_specs(spec, features, {})
    assert str(caught.value) == message


def test_schema_file(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps({"columns": {"temp": {"valid_range": [1, 2]}}}))
    assert read_schema_file(path) == {"temp": {"valid_range": [1, 2]}}
    path.write_text(json.dumps({"temp": {}}))
    with pytest.raises(ValueError) as caught:
        read_schema_file(path)
    assert str(caught.value) == f'schema file {str(path)!r} must hold {{"columns": {{name: {{...}}}}}}'


def test_an_export_with_a_schema_file_sets_ranges_and_nullability(tmp_path):
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
    result = run_export(ExportConfig(output=tmp_path / "models", schema=schema, **TINY))
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
def test_an_export_whose_schema_contradicts_the_data_writes_nothing(tmp_path, columns, message):
    schema = tmp_path / "schema.json"
    schema.write_text(json.dumps({"columns": columns}))
    with pytest.raises(ExportError, match=None) as caught:
        run_export(ExportConfig(output=tmp_path / "models", schema=schema, **TINY))
    assert message in str(caught.value)
    assert not (tmp_path / "models" / "quality").exists()
