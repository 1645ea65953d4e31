"""The data stage: the demo set, loading files, and the deterministic split."""

from __future__ import annotations

import json

import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export import ExportConfig, ExportError, run_export  # noqa: E402
from export._data import make_demo_data  # noqa: E402


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
