"""The data stage: the demo set, loading files, and the deterministic split."""

from __future__ import annotations

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

from export import ExportConfig, ExportError  # noqa: E402
from export._data import DEMO_TARGET, load_table, make_demo_data, prepare_data  # noqa: E402


def test_demo_data_is_deterministic_and_has_dropouts():
    first, second = make_demo_data(2000, seed=7), make_demo_data(2000, seed=7)
    pd.testing.assert_frame_equal(first, second)
    assert not first.equals(make_demo_data(2000, seed=8))
    assert 0.01 < first["temperature"].isna().mean() < 0.04
    assert 0.0 < (first["shift"] == "").mean() < 0.03
    assert 0.1 < first["defect"].mean() < 0.3


def test_the_split_is_deterministic_and_stratified(tiny_data):
    again = prepare_data(ExportConfig(demo_rows=400))
    pd.testing.assert_frame_equal(again.x_test, tiny_data.x_test)
    assert again.summary == tiny_data.summary
    other_seed = prepare_data(ExportConfig(demo_rows=400, seed=1))
    assert other_seed.summary["fingerprint_sha256"] != tiny_data.summary["fingerprint_sha256"]
    assert (tiny_data.task, len(tiny_data.x_train), len(tiny_data.x_test)) == ("binary_classification", 320, 80)
    share = tiny_data.y.mean()
    assert abs(tiny_data.y_test.mean() - share) < 0.02 and abs(tiny_data.y_train.mean() - share) < 0.02
    assert tiny_data.summary["source"] == "built-in demo data set (400 rows, seed 42)"
    assert tiny_data.summary["target"] == DEMO_TARGET and tiny_data.summary["dropped"] == []


def test_rows_without_a_target_are_left_out(tmp_path):
    frame = make_demo_data(300, seed=3)
    frame.loc[:9, DEMO_TARGET] = np.nan
    path = tmp_path / "line.parquet"
    frame.to_parquet(path)
    data = prepare_data(ExportConfig(data=path, target=DEMO_TARGET))
    assert (data.summary["rows"], data.summary["rows_without_target"]) == (300, 10)
    assert data.summary["train_rows"] + data.summary["test_rows"] == 290
    assert data.summary["source"] == str(path)
    assert set(np.unique(data.y)) == {0.0, 1.0}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "data file '{path}' does not exist"),
        ("table.xlsx", "a,b\n1,2\n", "data file '{path}' has suffix '.xlsx'; expected .csv or .parquet"),
    ],
)
def test_unreadable_data_files(tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises((ValueError, FileNotFoundError)) as caught:
        load_table(path)
    assert str(caught.value) == message.format(path=path)


def test_a_data_file_needs_a_target(tmp_path):
    with pytest.raises(ExportError, match="^--target COLUMN is required with --data$"):
        prepare_data(ExportConfig(data=tmp_path / "x.csv"))
