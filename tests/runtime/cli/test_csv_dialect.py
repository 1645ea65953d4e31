"""``predict --delimiter ';' --decimal ,``: a European spreadsheet's CSV read strictly, written back in
its own dialect, and a hint naming the options when a file looks like one but they are missing."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._cli.csv_dialect import CsvDialect, delimiter_hint
from tests.runtime.cli.invoke import counts, one_line, run


def _european(path: Path, records: list[dict[str, Any]], columns: tuple[str, ...]) -> Path:
    """Records as a spreadsheet in Germany writes them: ';' between fields, 298,1 for numbers."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(columns)
        for record in records:
            writer.writerow([_field(record[column]) for column in columns])
    return path


def _field(value: Any) -> str:
    if value is None:
        return ""
    return repr(value).replace(".", ",") if isinstance(value, float) else str(value)


def test_semicolons_and_decimal_commas_predict_with_the_flags(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    source = _european(tmp_path / "in.csv", rows, model.columns)
    output = tmp_path / "out.csv"
    code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", output, "--delimiter", ";", "--decimal", ",")
    assert code == 0 and counts(err) == (len(rows), len(rows), 0)
    with output.open(encoding="utf-8", newline="") as handle:
        written = list(csv.DictReader(handle, delimiter=";"))
    expected = model.predict_batch(rows)
    assert expected.probabilities is not None and model.classes is not None
    for result, probabilities in zip(written, expected.probabilities):
        # the output keeps the dialect: probabilities written with a decimal comma, the same numbers
        got = [float(result[f"probability_{c}"].replace(",", ".")) for c in model.classes]
        assert got == probabilities.tolist()


def test_without_the_flags_the_hint_names_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    source = _european(tmp_path / "in.csv", rows, model.columns)
    code, _, err = run(capsys, "predict", bundle, "-i", source)
    assert code == 2
    assert one_line(err).endswith(
        "the header looks separated by ';', not ',': pass --delimiter ';' (and --decimal , if its numbers "
        "are written like 3,5)"
    )
    code, _, err = run(capsys, "predict", bundle, "-i", source, "--delimiter", ";")
    assert code == 2
    number = next(c for c in model.columns if any(isinstance(r[c], float) for r in rows))
    assert f"{number} == '" in err
    assert "(it is written with ',' as the decimal mark: pass --decimal , if the file uses it)" in err


@pytest.mark.parametrize(
    ("text", "point", "comma"),
    [
        ("298.1", 298.1, None),
        ("298,1", None, 298.1),
        ("-3e-2", -0.03, -0.03),
        ("1,5e3", None, 1500.0),
        (",5", None, 0.5),
        ("1.234,5", None, None),  # thousands separators are never read
        ("1_000", None, None),
        (" 7 ", 7.0, 7.0),
        ("nan", "nan", "nan"),
    ],
)
def test_numbers_are_read_strictly_in_each_dialect(text: str, point: Any, comma: Any) -> None:
    for dialect, expected in ((CsvDialect(), point), (CsvDialect(";", ","), comma)):
        got = dialect.number(text)
        assert (str(got) if expected == "nan" else got) == expected, (dialect, text)


@pytest.mark.parametrize(
    ("delimiter", "decimal", "message"),
    [
        (";;", ".", "--delimiter ';;' must be one character, not a quote or line break"),
        (",", ",", "--delimiter and --decimal are both ','; they must differ"),
        (";", ";", "--decimal ';' must be '.' or ','"),
    ],
)
def test_a_dialect_that_cannot_work_is_refused(delimiter: str, decimal: str, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        CsvDialect(delimiter, decimal)


def test_options_that_cannot_work_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n", encoding="utf-8")
    code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", tmp_path / "o.jsonl", "--delimiter", ";")
    assert (
        code == 4 and one_line(err) == "error: --delimiter and --decimal apply to CSV files; no file of this run is CSV"
    )
    code, _, err = run(capsys, "predict", bundle, "-i", source, "--delimiter", ",", "--decimal", ",")
    assert code == 4 and one_line(err) == "error: --delimiter and --decimal are both ','; they must differ"


def test_the_delimiter_hint() -> None:
    assert delimiter_hint(["a\tb"], CsvDialect()).startswith("; the header looks separated by '\\t', not ','")
    assert (
        delimiter_hint(["a,b"], CsvDialect(";", ","))
        == "; the header looks separated by ',', not ';': pass --delimiter ','"
    )
    assert delimiter_hint(["a", "b"], CsvDialect()) == ""
    assert delimiter_hint(["temperature"], CsvDialect()) == ""
