"""``predict`` on lines Python's json or memory cannot take as they are (issue 10, finding 11): each is a
reject with its reason under ``--on-error skip`` and a stop naming the row under ``stop``, never an
internal error; a line over ``--max-line-bytes`` is skipped in bounded memory."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import runtime
from tests.runtime.cli.invoke import ROOT, counts, one_line, run
from tests.runtime.cli.rows import read_csv, read_jsonl, write_csv

SURROGATE_FIX = "JSON text must be valid Unicode (a \\ud800-\\udfff escape needs its pair)"


def _line(record: dict[str, Any], column: str, raw_json: str) -> str:
    """``record`` as a JSON line with ``column``'s value replaced by ``raw_json`` as written."""
    return json.dumps({**record, column: "@@"}).replace('"@@"', raw_json)


def _cases(record: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(line, reason or None when predicted) for each pathological line."""
    digits = "9" * 5000
    deep = "[" * 100_000 + "]" * 100_000
    huge = "1" + "0" * 400
    keyed = json.dumps(record).replace('"shift"', '"sh\\ud800ift"')
    return [
        (
            _line(record, "temperature", digits),
            "holds an integer of more than 4,300 digits, which is not read: "
            + repr(_line(record, "temperature", digits)[:57] + "..."),
        ),
        (
            _line(record, "temperature", huge),
            f"temperature == {huge} is too large for a float, must be a finite number within "
            "[100.0, 300.0] or missing (None)",
        ),
        (
            _line(record, "temperature", deep),
            "nests arrays or objects too deeply to be read: " + repr(_line(record, "temperature", deep)[:57] + "..."),
        ),
        (
            _line(record, "machine_type", '"\\ud800"'),
            f"has a lone surrogate in the value of key 'machine_type': '\\ud800'; {SURROGATE_FIX}",
        ),
        (keyed, f"has a lone surrogate in the key 'sh\\ud800ift'; {SURROGATE_FIX}"),
        # json reads NaN and Infinity as Python does: NaN is a missing number, infinity is refused
        (_line(record, "temperature", "NaN"), None),
        (
            _line(record, "temperature", "Infinity"),
            "temperature == inf, must be a finite number within [100.0, 300.0] or missing (None)",
        ),
    ]


def test_pathological_json_lines_are_rejects_with_their_reasons(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]
) -> None:
    cases = _cases(rows[0])
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(line for line, _ in cases) + "\n", encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    target = tmp_path / "out.jsonl"
    code, _, err = run(
        capsys, "predict", bundle, "-i", source, "-o", target, "--on-error", "skip", "--rejects", rejects
    )
    expected = {row: reason for row, (_, reason) in enumerate(cases, 1) if reason is not None}
    assert code == 1 and counts(err) == (len(cases), len(cases) - len(expected), len(expected))
    rejects.read_bytes().decode("utf-8")  # valid UTF-8 throughout
    target.read_bytes().decode("utf-8")
    assert {record["row"]: record["reason"] for record in read_jsonl(rejects)} == expected
    assert read_jsonl(target)[0]["temperature"] is None  # NaN: missing, written as null


@pytest.mark.parametrize("case", [0, 2, 3, 4], ids=["digits", "nesting", "surrogate-value", "surrogate-key"])
def test_pathological_json_line_stops_naming_its_row(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, rows: list[dict[str, Any]], case: int
) -> None:
    line, reason = _cases(rows[0])[case]
    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(rows[1]) + "\n" + line + "\n", encoding="utf-8")
    code, _, err = run(capsys, "predict", bundle, "-i", source, "-o", tmp_path / "out.jsonl")
    assert code == 2
    assert one_line(err).startswith(f"error: stopped at row 2 (line 2 of {str(source)!r}): {reason}. 1 row before")


def test_invalid_utf8_in_a_csv_field_stays_a_reject(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", [{**rows[0], "machine_type": "@@"}, rows[1]], model.columns)
    source.write_bytes(source.read_bytes().replace(b"@@", b"B\xed\xa0\x80"))  # an encoded lone surrogate
    rejects = tmp_path / "rejects.csv"
    argv = ["predict", bundle, "-i", source, "-o", tmp_path / "o.csv", "--on-error", "skip", "--rejects", rejects]
    code, _, _ = run(capsys, *argv)
    assert code == 1
    [written] = read_csv(rejects)
    assert written["reason"].startswith("line 2 is not UTF-8 text (byte 0xed at position ")
    assert written["machine_type"] == "B\ufffd\ufffd\ufffd"


# -- --max-line-bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_line_over_the_limit_is_a_reject_with_its_length(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    rows: list[dict[str, Any]],
    suffix: str,
) -> None:
    if suffix == ".csv":
        source = write_csv(tmp_path / "in.csv", rows[:3], model.columns)
        lines = source.read_bytes().split(b"\n")
        lines[2] = lines[2] + b"x" * 5000  # data row 2, line 3
    else:
        lines = [json.dumps(record).encode() for record in rows[:3]] + [b""]
        lines[1] = lines[1][:-1] + b', "pad": "' + b"x" * 5000 + b'"}'
        source = tmp_path / "in.jsonl"
    length = len(lines[2 if suffix == ".csv" else 1])
    line_number = 3 if suffix == ".csv" else 2
    source.write_bytes(b"\n".join(lines))
    rejects = tmp_path / f"rejects{suffix}"
    argv = ["predict", bundle, "-i", source, "-o", tmp_path / f"o{suffix}", "--max-line-bytes", "4096"]
    code, _, err = run(capsys, *argv, "--on-error", "skip", "--rejects", rejects)
    assert code == 1 and counts(err) == (3, 2, 1)
    reason = f"line {line_number} is {length:,} bytes long, more than --max-line-bytes 4,096; it was not read"
    written = read_csv(rejects) if suffix == ".csv" else read_jsonl(rejects)
    assert [(int(record["row"]), record["reason"]) for record in written] == [(2, reason)]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert one_line(err).startswith(f"error: stopped at row 2 (line {line_number} of {str(source)!r}): {reason}. ")


def test_a_quoted_csv_field_over_the_limit_stops_clearly(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", [rows[0], {**rows[1], "machine_type": "@@"}], model.columns)
    source.write_bytes(source.read_bytes().replace(b"@@", b'"' + b"x\n" * 3000 + b'"'))  # 6,000 bytes, short lines
    argv = ["predict", bundle, "-i", source, "--max-line-bytes", "4096", "--on-error", "skip"]
    code, _, err = run(capsys, *argv, "--rejects", tmp_path / "r.csv")
    assert code == 2
    assert one_line(err).startswith(
        f"error: line 3 of {str(source)!r} starts a record with a field longer than --max-line-bytes 4,096 "
        "(a quote left open, or a value too large); stopped after it: read 1 row: 1 predicted"
    )


PEAK_RSS = textwrap.dedent(
    """
    import sys
    from runtime._cli import main
    code = main(sys.argv[1:])
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print(code, int(line.split()[1]))
    """
)


def _peak_kib(*argv: str | Path) -> tuple[int, int]:
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *map(str, argv)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    code, peak = done.stdout.split()
    return int(code), int(peak)


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="peak RSS is read from /proc")
def test_a_50_mb_line_is_read_in_bounded_memory(tmp_path: Path, bundle: Path, rows: list[dict[str, Any]]) -> None:
    small = tmp_path / "small.jsonl"
    small.write_text("".join(json.dumps(record) + "\n" for record in rows[:3]), encoding="utf-8")
    large = tmp_path / "large.jsonl"
    with large.open("w", encoding="utf-8") as stream:
        stream.write(json.dumps(rows[0]) + "\n")
        stream.write('{"pad": "' + "x" * 50_000_000 + '"}\n')
        stream.write(json.dumps(rows[1]) + "\n")
    common = ["predict", bundle, "--on-error", "skip", "-o", tmp_path / "o.jsonl", "--rejects", tmp_path / "r.jsonl"]
    code, small_kib = _peak_kib(*common, "-i", small)
    assert code == 0
    code, large_kib = _peak_kib(*common, "-i", large)
    assert code == 1 and len(read_jsonl(tmp_path / "r.jsonl")) == 1
    print(f"peak RSS: small {small_kib:,} KiB, 50 MB line {large_kib:,} KiB")
    assert large_kib - small_kib < 150 * 1024


# -- atomic outputs -------------------------------------------------------------------------------


def test_a_killed_run_leaves_no_file_under_the_output_name(
    tmp_path: Path, bundle: Path, model: runtime.Model, rows: list[dict[str, Any]]
) -> None:
    source = write_csv(tmp_path / "in.csv", rows * 5000, model.columns)  # 300,000 rows: seconds of work
    target = tmp_path / "out.csv"
    rejects = tmp_path / "rejects.csv"
    argv = ["predict", bundle, "-i", source, "-o", target, "--on-error", "skip", "--rejects", rejects]
    process = subprocess.Popen(
        [sys.executable, "-m", "runtime", *map(str, argv), "--chunk-size", "1000"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        partial = tmp_path / f".out.csv.partial-{process.pid}"
        deadline = time.monotonic() + 60
        while not (partial.exists() and partial.stat().st_size > 100_000):  # mid-way through
            assert process.poll() is None and time.monotonic() < deadline, "the run ended before it was killed"
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    assert not target.exists() and not rejects.exists()
    assert partial.exists()  # kept for inspection
