"""``python -m runtime info|predict``: called in-process through ``main`` and, for the entry point
and exit codes, as a real subprocess. Needs no scikit-learn once BUNDLE_FIXTURE is
``shipped_bundle``."""

from __future__ import annotations

import csv
import io
import json
import math
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import runtime
from runtime._cli._base import main

# The bundle every test uses. "demo_bundle" exports a fresh one (needs the export extra) while the
# committed default bundle does not exist yet; switch to "shipped_bundle" once models/quality is in.
BUNDLE_FIXTURE = "shipped_bundle"

REPO_ROOT = Path(__file__).resolve().parents[2]
SUMMARY = re.compile(r"read ([\d,]+) rows?: ([\d,]+) predicted .*?(?:, ([\d,]+) rejected .*)?$")


@pytest.fixture(scope="session")
def bundle(request: pytest.FixtureRequest) -> Path:
    return Path(request.getfixturevalue(BUNDLE_FIXTURE))


@pytest.fixture(scope="session")
def model(bundle: Path) -> runtime.Model:
    return runtime.load(bundle)


@pytest.fixture(scope="session")
def rows(model: runtime.Model) -> list[dict[str, Any]]:
    """60 valid records drawn from the manifest's ranges and categories, some values missing."""
    rng = random.Random(7)
    records = []
    for _ in range(60):
        record: dict[str, Any] = {}
        for spec in model.manifest.inputs:
            if spec.nullable and rng.random() < 0.1:
                record[spec.name] = None
            elif spec.kind == "number":
                low, high = spec.valid_range or (-100.0, 100.0)
                record[spec.name] = round(rng.uniform(low, high), 3)
            else:
                assert spec.categories
                record[spec.name] = rng.choice(spec.categories)
        records.append(record)
    return records


# -- helpers ---------------------------------------------------------------------------------------


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, str, str]:
    code = main([str(arg) for arg in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def csv_text(value: Any) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def write_csv(path: Path, records: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> Path:
    columns = list(columns or records[0])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow([csv_text(record.get(name)) for name in columns])
    return path


def write_jsonl(path: Path, records: Sequence[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    return path


def read_csv(path_or_text: Path | str) -> list[dict[str, str]]:
    text = path_or_text.read_text(encoding="utf-8") if isinstance(path_or_text, Path) else path_or_text
    return list(csv.DictReader(io.StringIO(text)))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def counts(stderr: str) -> tuple[int, int, int]:
    match = SUMMARY.search(stderr.strip().splitlines()[-1])
    assert match, stderr
    read, predicted, rejected = (int((group or "0").replace(",", "")) for group in match.groups())
    return read, predicted, rejected


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def first_number_with_range(model: runtime.Model) -> runtime.ColumnSpec:
    return next(spec for spec in model.manifest.inputs if spec.kind == "number" and spec.valid_range)


def first_required_category(model: runtime.Model) -> runtime.ColumnSpec:
    for spec in model.manifest.inputs:
        if spec.kind == "category" and not spec.nullable:
            return spec
    pytest.skip("the bundle has no category column that refuses missing values")


# -- info ------------------------------------------------------------------------------------------


def test_info_text_names_everything_the_model_expects(
    capsys: pytest.CaptureFixture[str], bundle: Path, model: runtime.Model
) -> None:
    code, out, err = run(capsys, "info", bundle)
    assert (code, err) == (0, "")
    manifest = model.manifest
    assert out.startswith(f"{manifest.name} {manifest.version}: ")
    for spec in manifest.inputs:
        assert re.search(
            rf"^  {re.escape(spec.name)} +{spec.kind} +{'yes' if spec.nullable else 'no'} ",
            out,
            re.MULTILINE,
        )
        if spec.valid_range:
            assert f"[{spec.valid_range[0]!r}, {spec.valid_range[1]!r}]" in out
        for category in spec.categories or ():
            assert repr(category) in out
    assert f"classes     {', '.join(repr(label) for label in manifest.classes or ())}" in out
    assert "output      label, probability_" in out
    assert re.search(r"^metrics     accuracy \d\.\d{4}, macro F1 \d\.\d{4}", out, re.MULTILINE)
    assert re.search(
        rf"^parity      passed: {manifest.parity.total_cases:,} cases, 0 label mismatches",
        out,
        re.MULTILINE,
    )
    assert f"onnxruntime {manifest.libraries['onnxruntime']}" in out
    assert "performance " in out


def test_info_json_is_machine_readable(capsys: pytest.CaptureFixture[str], bundle: Path, model: runtime.Model) -> None:
    code, out, err = run(capsys, "info", bundle, "--json")
    assert (code, err) == (0, "")
    info = json.loads(out)
    manifest = model.manifest
    assert (info["name"], info["version"], info["task"]) == (
        manifest.name,
        manifest.version,
        manifest.task,
    )
    assert [column["name"] for column in info["inputs"]] == list(model.columns)
    for column, spec in zip(info["inputs"], manifest.inputs):
        assert column["kind"] == spec.kind and column["nullable"] == spec.nullable
        assert column["valid_range"] == (list(spec.valid_range) if spec.valid_range else None)
        assert column["categories"] == (list(spec.categories) if spec.categories is not None else None)
    assert info["classes"] == list(manifest.classes or [])
    assert info["output"]["columns"] == [
        "label",
        *(f"probability_{label}" for label in manifest.classes or ()),
    ]
    assert info["metrics"]["accuracy"] == manifest.metrics.accuracy
    assert info["parity"]["cases"] == manifest.parity.total_cases
    assert info["parity"]["label_mismatches"] == 0
    assert info["libraries"] == manifest.libraries
    assert info["model_file"]["sha256"] == manifest.model_file.sha256


def test_info_shows_measured_performance(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, model: runtime.Model
) -> None:
    copy = Path(shutil.copytree(model.path, tmp_path / "bundle"))
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["performance"] = {
        "single_record_latency_us": {"p50": 61.25, "p90": 70.0, "p99": 95.5, "calls": 2000},
        "peak_rss_mb": 88.4,
        "load_and_first_prediction_s": 0.41,
        "machine": "aarch64, 4 cores, Linux",
        "threads": 1,
    }
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    code, out, _ = run(capsys, "info", copy)
    assert code == 0
    assert (
        "performance single-record latency p50 61.2 us, p90 70.0 us, p99 95.5 us; "
        "load + first prediction 0.41 s; peak RSS 88.4 MB (aarch64, 4 cores, Linux, 1 thread(s))"
    ) in out
    code, out, _ = run(capsys, "info", copy, "--json")
    assert json.loads(out)["performance"] == manifest["performance"]


# -- predict: round trips --------------------------------------------------------------------------


def test_predict_csv_matches_predict_batch(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    source = write_csv(tmp_path / "in.csv", rows)
    code, out, err = run(capsys, "predict", bundle, "--input", source, "--output", tmp_path / "out.csv")
    assert (code, out) == (0, "")
    assert counts(err) == (len(rows), len(rows), 0)
    written = read_csv(tmp_path / "out.csv")
    expected = model.predict_batch(rows)
    assert expected.labels is not None and expected.probabilities is not None and model.classes is not None
    assert list(written[0]) == [
        *model.columns,
        "label",
        *(f"probability_{label}" for label in model.classes),
    ]
    for record, result, label, probabilities in zip(rows, written, expected.labels, expected.probabilities):
        assert all(result[name] == csv_text(record[name]) for name in model.columns)  # carried as read
        assert result["label"] == str(label.item())
        assert [float(result[f"probability_{c}"]) for c in model.classes] == probabilities.tolist()


def test_predict_jsonl_matches_predict_batch(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    source = write_jsonl(tmp_path / "in.jsonl", rows)
    code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.ndjson")
    assert code == 0 and counts(err) == (len(rows), len(rows), 0)
    written = read_jsonl(tmp_path / "out.ndjson")
    expected = model.predict_batch(rows)
    assert expected.labels is not None and expected.probabilities is not None and model.classes is not None
    for record, result, label, probabilities in zip(rows, written, expected.labels, expected.probabilities):
        assert {name: result[name] for name in model.columns} == record
        assert result["label"] == label.item()
        assert [result[f"probability_{c}"] for c in model.classes] == probabilities.tolist()
        assert "flags" not in result


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_small_chunks_give_the_same_output(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
    suffix: str,
) -> None:
    source = (write_csv if suffix == ".csv" else write_jsonl)(tmp_path / f"in{suffix}", rows)
    outputs = []
    for chunk_size in ("7", "100000"):
        target = tmp_path / f"out-{chunk_size}{suffix}"
        code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", target, "--chunk-size", chunk_size)
        assert code == 0 and counts(err) == (len(rows), len(rows), 0)
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]


def test_stdin_to_stdout(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
) -> None:
    source = write_csv(tmp_path / "in.csv", rows)
    run(capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.csv")
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(source.read_bytes()), encoding="utf-8"))
    code, out, err = run(capsys, "predict", bundle, "--input", "-", "--input-format", "csv")
    assert code == 0
    assert out == (tmp_path / "out.csv").read_text(encoding="utf-8")  # stdout defaults to CSV
    assert counts(err) == (len(rows), len(rows), 0)
    assert "\r" not in err  # stderr is not a terminal: no progress line


def test_extra_columns_are_refused_or_carried_unchanged(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    extra = "Air temperature [K]"
    records = [{**record, extra: f"{i}, with a comma"} for i, record in enumerate(rows[:5])]
    source = write_csv(tmp_path / "in.csv", records, [extra, *model.columns])
    code, out, err = run(capsys, "predict", bundle, "-i", source)
    assert (code, out) == (2, "")
    message = one_line(err)
    assert f"unknown [{extra!r}]" in message and "--keep-extra" in message

    code, out, err = run(capsys, "predict", bundle, "-i", source, "--keep-extra")
    assert code == 0
    written = read_csv(out)
    assert list(written[0])[:2] == [extra, model.columns[0]]
    assert [record[extra] for record in written] == [f"{i}, with a comma" for i in range(5)]


def test_on_unknown_flag_predicts_and_flags(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    category = next(spec for spec in model.manifest.inputs if spec.kind == "category")
    records = [rows[0], {**rows[1], category.name: "never seen"}]
    source = write_csv(tmp_path / "in.csv", records)
    code, out, err = run(capsys, "predict", bundle, "-i", source, "--on-unknown", "flag")
    assert code == 0 and counts(err) == (2, 2, 0)
    written = read_csv(out)
    assert [record["flags"] for record in written] == [
        "",
        f"unknown category: {category.name} == 'never seen'",
    ]


# -- predict: bad rows -----------------------------------------------------------------------------


def bad_rows(model: runtime.Model, good: dict[str, Any]) -> list[tuple[dict[str, Any], str, str]]:
    """(row, column at fault, what its reason must say) for each kind of bad value."""
    number = first_number_with_range(model)
    category = first_required_category(model)
    assert number.valid_range is not None
    high = number.valid_range[1]
    return [
        (
            {**good, number.name: "hot"},
            number.name,
            f"{number.name} == 'hot' is not a number, must be a number within",
        ),
        (
            {**good, category.name: "never seen"},
            category.name,
            f"{category.name} == 'never seen' is not a known category",
        ),
        ({**good, category.name: None}, category.name, f"{category.name} is missing"),
        (
            {**good, number.name: high + 1000},
            number.name,
            f"{number.name} == {high + 1000!r}, must be within",
        ),
        (
            {**good, number.name: "inf"},
            number.name,
            f"{number.name} == inf, must be a finite number",
        ),
    ]


@pytest.mark.parametrize("case", range(5), ids=["string", "unknown", "missing", "range", "inf"])
def test_stop_at_the_first_bad_row(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
    case: int,
) -> None:
    bad, column, reason = bad_rows(model, rows[0])[case]
    source = write_csv(tmp_path / "in.csv", [rows[0], rows[1], bad, rows[2]], model.columns)
    target = tmp_path / "out.csv"
    code, out, err = run(capsys, "predict", bundle, "-i", source, "-o", target, "--chunk-size", "2")
    assert (code, out) == (2, "")
    message = one_line(err)
    assert message.startswith(f"error: stopped at row 3 (line 4 of {str(source)!r}): {reason}")
    assert column in message
    assert "2 rows before it were predicted and written to" in message
    assert len(read_csv(target)) == 2  # complete for the rows before the bad one


def test_skip_writes_every_bad_row_with_its_reasons(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    bad = bad_rows(model, rows[0])
    number = first_number_with_range(model)
    records: list[dict[str, Any]] = []
    expected: dict[int, tuple[str, ...]] = {}
    for index, (record, _, reason) in enumerate(bad):
        records.append(rows[index])
        records.append(record)
        expected[len(records)] = (reason,)
    # a row with two problems gets both reasons, in column order
    category = first_required_category(model)
    records.append({**rows[0], number.name: "x", category.name: "never seen"})
    expected[len(records)] = (
        f"{number.name} == 'x' is not a number",
        f"{category.name} == 'never seen'",
    )
    source = write_csv(tmp_path / "in.csv", records, model.columns)
    rejects = tmp_path / "rejects.csv"
    code, out, err = run(
        capsys,
        "predict",
        bundle,
        "-i",
        source,
        "-o",
        tmp_path / "out.csv",
        "--chunk-size",
        "3",
        "--on-error",
        "skip",
        "--rejects",
        rejects,
    )
    assert (code, out) == (1, "")
    read, predicted, rejected = counts(err)
    assert (read, predicted, rejected) == (
        len(records),
        len(records) - len(expected),
        len(expected),
    )
    assert read == predicted + rejected
    assert len(read_csv(tmp_path / "out.csv")) == predicted
    written = read_csv(rejects)
    assert list(written[0]) == [*model.columns, "row", "reason"]
    assert [int(record["row"]) for record in written] == list(expected)
    for record, reasons in zip(written, expected.values()):
        parts = record["reason"].split("; ")
        assert len(parts) >= len(reasons)
        for fragment in reasons:
            assert any(part.startswith(fragment) for part in parts), (fragment, record["reason"])
        assert " in row " not in record["reason"]  # the batch's own row numbers never leak out
    assert written[0][number.name] == "hot"  # fields as read


def test_skip_jsonl_accounts_for_malformed_lines(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
) -> None:
    number = first_number_with_range(model)
    lines = [
        json.dumps(rows[0]),
        "",
        "{not json",
        json.dumps([1, 2]),
        json.dumps({**rows[1], number.name: "3.5"}),
        json.dumps({**rows[2], "extra": 1}),
        json.dumps(rows[3]),
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    code, _, err = run(
        capsys,
        "predict",
        bundle,
        "-i",
        source,
        "-o",
        tmp_path / "out.jsonl",
        "--on-error",
        "skip",
        "--rejects",
        rejects,
    )
    assert code == 1 and counts(err) == (6, 2, 4)  # the blank line is not a row
    written = read_jsonl(rejects)
    assert [record["row"] for record in written] == [2, 3, 4, 5]
    assert written[0]["reason"].startswith("is not valid JSON")
    assert written[1]["reason"].startswith("is a JSON array")
    assert written[2]["reason"].startswith(f"{number.name} == '3.5' has type str")
    assert written[2][number.name] == "3.5"
    assert "unknown key(s) ['extra']" in written[3]["reason"]


def test_a_line_that_is_not_utf8_rejects_only_its_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:3])
    lines = source.read_bytes().split(b"\r\n")  # csv.writer ends lines with CRLF
    lines[2] = lines[2] + b"\xff"  # the last field of data row 2 gets a byte that is not UTF-8
    source.write_bytes(b"\r\n".join(lines))
    rejects = tmp_path / "rejects.csv"
    code, out, err = run(capsys, "predict", bundle, "-i", source, "--on-error", "skip", "--rejects", rejects)
    assert code == 1 and counts(err) == (3, 2, 1)
    assert len(read_csv(out)) == 2
    [rejected] = read_csv(rejects)
    assert rejected["row"] == "2"
    assert rejected["reason"].startswith("line 3 is not UTF-8 text (byte 0xff at position")


def test_an_unparseable_csv_stops_after_the_rows_before_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:4])
    text = source.read_text(encoding="utf-8").splitlines()
    text[3] = '"' + text[3]  # data row 3 opens a quote that never closes
    source.write_text("\n".join(text) + "\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    code, _, err = run(
        capsys, "predict", bundle, "-i", source, "-o", target,
        "--on-error", "skip", "--rejects", tmp_path / "rejects.csv",
    )  # fmt: skip
    assert code == 2
    message = one_line(err)
    assert message.startswith(f"error: line 4 of {str(source)!r} cannot be read as CSV")
    rejects = str(tmp_path / "rejects.csv")
    assert message.endswith(
        f"read 2 rows: 2 predicted (written to {str(target)!r}), 0 rejected (written to {rejects!r})"
    )
    assert len(read_csv(target)) == 2


@pytest.mark.parametrize(
    ("header_edit", "message"),
    [
        ("drop first", "has 6 columns, but model {model} expects 7: missing [{first!r}]"),
        ("duplicate first", "the header of {source} names [{first!r}] more than once"),
        ("rename first label", "has column(s) ['label'], which the output adds"),
    ],
)
def test_header_that_does_not_fit_exits_2(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
    header_edit: str,
    message: str,
) -> None:
    columns = list(model.columns)
    first = columns[0]
    records = [dict(record) for record in rows[:2]]
    if header_edit == "drop first":
        columns = columns[1:]
    elif header_edit == "duplicate first":
        columns = [*columns, first]
    else:
        columns = [*columns, "label"]
    source = write_csv(tmp_path / "in.csv", records, columns)
    code, out, err = run(capsys, "predict", bundle, "-i", source, "--keep-extra")
    assert (code, out) == (2, "")
    expected = message.format(model=f"{model.name!r} {model.version}", first=first, source=repr(str(source)))
    assert expected in one_line(err)


# -- errors and exit codes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--on-error", "skip"], "error: --on-error skip needs --rejects FILE"),
        (["--rejects", "r.csv"], "error: --rejects is only used with --on-error skip"),
        (["--chunk-size", "0"], "error: argument --chunk-size: '0' must be >= 1"),
        (["--format", "xml"], "error: argument --format/--output-format: invalid choice: 'xml'"),
        (
            ["--output", "out.txt"],
            "error: cannot tell the format of 'out.txt' from its suffix '.txt'",
        ),
        (["--output", "{input}"], "error: --input and --output are the same file"),
        (
            ["--input-format", "jsonl", "--keep-extra"],
            "error: --keep-extra with JSON Lines input needs JSON Lines output and rejects",
        ),
    ],
)
def test_usage_errors_exit_4(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
    argv: list[str],
    message: str,
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:2])
    argv = [arg.replace("{input}", str(source)) for arg in argv]
    code, out, err = run(capsys, "predict", bundle, "-i", source, *argv)
    assert (code, out) == (4, "")
    assert one_line(err).startswith(message)


def test_missing_input_and_stdin_without_format_exit_4(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path
) -> None:
    code, _, err = run(capsys, "predict", bundle, "-i", tmp_path / "nope.csv")
    assert (
        code == 4
        and one_line(err) == f"error: cannot read --input {str(tmp_path / 'nope.csv')!r}: No such file or directory"
    )
    code, _, err = run(capsys, "predict", bundle, "-i", "-")
    assert code == 4 and one_line(err) == "error: reading stdin needs --input-format csv or --input-format jsonl"


def test_help_documents_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "predict", "--help")
    assert code == 0
    assert "exit codes:" in out and "--keep-extra" in out and "--on-unknown" in out


def test_progress_line_only_on_a_terminal(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    bundle: Path,
    rows: list[dict[str, Any]],
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    source = write_csv(tmp_path / "in.csv", rows)
    for extra, shown in (([], True), (["--no-progress"], False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert main(["predict", str(bundle), "-i", str(source), "-o", str(tmp_path / "out.csv"), *extra]) == 0
        assert (f"\r{len(rows)} rows, " in terminal.getvalue()) is shown
        assert terminal.getvalue().rstrip("\n").split("\r")[-1].startswith(f"read {len(rows)} rows")


@pytest.fixture
def corrupted_bundle(tmp_path: Path, model: runtime.Model) -> Path:
    """A copy of the bundle's version folder with one byte of model.onnx flipped."""
    copy = Path(shutil.copytree(model.path, tmp_path / "corrupted"))
    onnx = copy / model.manifest.model_file.path
    data = bytearray(onnx.read_bytes())
    data[len(data) // 2] ^= 0xFF
    onnx.write_bytes(bytes(data))
    return copy


def test_corrupted_bundle_exits_3(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    corrupted_bundle: Path,
    rows: list[dict[str, Any]],
) -> None:
    code, out, err = run(capsys, "info", corrupted_bundle)
    assert (code, out) == (3, "")
    assert one_line(err).startswith("error: bundle refused: ") and "sha256" in err
    source = write_csv(tmp_path / "in.csv", rows[:3])
    code, out, err = run(capsys, "predict", corrupted_bundle, "-i", source, "-o", tmp_path / "out.csv")
    assert (code, out) == (3, "") and "sha256" in one_line(err)
    assert not (tmp_path / "out.csv").exists()  # nothing written for a refused bundle


# -- the real entry point --------------------------------------------------------------------------


def python_m_runtime(*argv: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runtime", *map(str, argv)],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_module_entry_point_and_exit_codes(
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
    corrupted_bundle: Path,
) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:10])
    done = python_m_runtime("predict", bundle, "--input", source, "--output", tmp_path / "out.jsonl")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("read 10 rows: 10 predicted")
    assert len(read_jsonl(tmp_path / "out.jsonl")) == 10

    number = first_number_with_range(model)
    bad = write_csv(tmp_path / "bad.csv", [rows[0], {**rows[1], number.name: math.inf}], model.columns)
    done = python_m_runtime("predict", bundle, "--input", bad, "--on-error", "skip", "--rejects", tmp_path / "r.csv")
    assert done.returncode == 1, done.stderr
    assert done.stdout.count("\n") == 2  # header + the good row, on stdout

    done = python_m_runtime("predict", bundle, "--input", bad)
    assert done.returncode == 2 and "row 2 (line 3" in one_line(done.stderr) and "Traceback" not in done.stderr

    done = python_m_runtime("info", corrupted_bundle)
    assert done.returncode == 3 and "sha256" in one_line(done.stderr)
    done = python_m_runtime("info", corrupted_bundle, "--verbose")
    assert done.returncode == 3 and "Traceback" in done.stderr  # tracebacks only with --verbose


def test_cli_imports_no_export_side_library(tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]) -> None:
    source = write_csv(tmp_path / "in.csv", rows[:5])
    argv = ["predict", str(bundle), "-i", str(source), "-o", str(tmp_path / "o.csv")]
    heavy = {"sklearn", "scipy", "pandas", "joblib", "skl2onnx", "onnx", "export"}
    probe = (
        "import sys; from runtime._cli import main; "
        f"code = main({argv!r}); "
        f"print(code, sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        check=False,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.stdout.strip() == "0 []", done.stderr
