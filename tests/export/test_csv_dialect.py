"""A semicolon / decimal-comma CSV (a European spreadsheet's export): exported and predicted with
``--delimiter ';' --decimal ,``, and a hint naming those options when they are missing."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
pytest.importorskip("sklearn")

import runtime  # noqa: E402
from export import ExportError  # noqa: E402
from export._cli import main  # noqa: E402
from export._data import load_table, make_demo_data  # noqa: E402
from runtime._cli import main as runtime_main  # noqa: E402
from runtime._contract import ExitCode  # noqa: E402
from tests.export.conftest import TINY_ARGS  # noqa: E402


def _european(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    frame = make_demo_data(400, seed=2)
    path = tmp_path / "linie3.csv"
    frame.to_csv(path, sep=";", decimal=",", index=False)
    first = path.read_text(encoding="utf-8").splitlines()[1].split(";")
    assert first[0] == f"{frame['temperature'][0]}".replace(".", ",")  # written like 201,55
    return path, frame


def test_a_european_csv_exports_and_predicts_with_the_flags_and_gets_a_hint_without(tmp_path, capsys):
    path, frame = _european(tmp_path)
    output = tmp_path / "models"
    argv = ["--data", str(path), "--target", "defect", "--output", str(output), *TINY_ARGS]

    assert main(argv) == ExitCode.USAGE
    assert capsys.readouterr().err.strip() == (
        f"error: data file {str(path)!r} looks separated by ';', not ',': its header is one column "
        "'temperature;pressure;speed;humidity;vibration;machine_type;s'; pass --delimiter ';' "
        "(and --decimal , if its numbers are written like 3,5)"
    )
    assert main([*argv, "--delimiter", ";"]) == ExitCode.USAGE
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith(
            f"error: column 'temperature' of {str(path)!r} holds numbers written with ',' as the decimal mark (e.g. '"
        )
    )
    assert not output.exists()

    # 8 depth-4 trees on 400 rows catch too few defects for the quality gate; the dialect is the point here
    assert main([*argv, "--delimiter", ";", "--decimal", ",", "--allow-weak"]) == ExitCode.OK
    capsys.readouterr()
    model = runtime.load(output / "linie3-defect")
    assert [c.kind for c in model.manifest.inputs] == ["number"] * 5 + ["category"] * 2  # numbers stay numbers

    predictions = tmp_path / "predictions.csv"
    predict = ["predict", str(output / "linie3-defect"), "-i", str(path), "-o", str(predictions), "--keep-extra"]
    assert runtime_main([*predict, "--delimiter", ";", "--decimal", ","]) == ExitCode.OK
    with predictions.open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle, delimiter=";"))
    expected = model.predict_batch(frame.drop(columns=["defect"]))
    assert [int(row["label"]) for row in written] == expected.labels.tolist()
    assert np.allclose([float(row["probability_1"].replace(",", ".")) for row in written], expected.probabilities[:, 1])

    capsys.readouterr()
    assert runtime_main(predict) == ExitCode.BAD_INPUT
    assert "pass --delimiter ';' (and --decimal , if its numbers are written like 3,5)" in capsys.readouterr().err


def test_mixed_decimal_marks_are_refused_not_read_as_categories(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("t;y\n1,5;0\n2.5;1\n3,0;0\n", encoding="utf-8")
    with pytest.raises(ExportError, match=r"column 't' of .* holds numbers written with '\.' as the decimal mark"):
        load_table(path, delimiter=";", decimal=",")
    path.write_text("t;y\n1,5;0\n2,5;1\n", encoding="utf-8")
    assert load_table(path, delimiter=";", decimal=",")["t"].tolist() == [1.5, 2.5]


def test_a_parquet_file_takes_no_dialect(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"t": [1.0], "y": [0]}).to_parquet(path)
    with pytest.raises(ExportError, match="^--delimiter and --decimal apply to CSV files"):
        load_table(path, delimiter=";")
