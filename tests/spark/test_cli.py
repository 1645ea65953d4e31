"""python -m runtime spark-predict: Parquet in, Parquet out with rejects and their reasons in the same
files, the runtime's exit codes, and a summary that separates Spark's start-up from the scoring."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from runtime._validation import policy_hints
from tests.runtime.cli.invoke import ROOT, one_line, run
from tests.runtime.damage import bundle_copy, flip_byte
from tests.spark import rows
from tests.spark.scored import reference

SUMMARY = re.compile(
    r"spark-predict: ([\d,]+) rows read on (\S+): ([\d,]+) predicted, ([\d,]+) rejected .*\n"
    r"  Spark start-up ([\d.]+) s; scoring and writing ([\d.]+) s \(([\d,]+) rows/s\)\n\Z"
)


def test_rejects_are_in_the_same_output_with_their_reasons(spark, capsys, shipped_bundle, shipped_model, tmp_path):
    data = rows.write(shipped_model, tmp_path / "in.parquet", 2_000)
    code, out, err = run(
        capsys, "spark-predict", shipped_bundle, "--input", tmp_path / "in.parquet", "--output", tmp_path / "out"
    )
    assert code == 1 and out == ""
    written = pq.read_table(tmp_path / "out")
    written = written.take(pc.sort_indices(written, [("id", "ascending")]))
    expected, cli_reasons = reference(shipped_model, data, policy_hints("(pass {option} flag to accept and flag it)"))
    assert any("(pass --on-unknown flag" in r for r in cli_reasons.values())
    assert any("(pass --on-out-of-range flag" in r for r in cli_reasons.values())
    got = {row: reason for row, reason in enumerate(written.column("reject_reason").to_pylist()) if reason}
    assert got == cli_reasons
    summary = SUMMARY.match(err)
    assert summary is not None, err
    total, predicted, rejected = (int(summary.group(i).replace(",", "")) for i in (1, 3, 4))
    assert (total, predicted, rejected) == (2_000, len(expected.rows), len(cli_reasons))


def test_a_missing_column_is_exit_2_and_writes_nothing(spark, capsys, shipped_bundle, shipped_model, tmp_path):
    data = rows.table(shipped_model, 10).drop(["shift"])
    pq.write_table(data, tmp_path / "in.parquet")
    code, _, err = run(capsys, "spark-predict", shipped_bundle, "-i", tmp_path / "in.parquet", "-o", tmp_path / "out")
    assert code == 2 and not (tmp_path / "out").exists()
    assert one_line(err) == (
        "error: DataFrame has no column ['shift'], which model 'quality' 1.0.0 needs; other columns pass through untouched."
    )


def test_a_tampered_bundle_is_exit_3_before_spark_starts(capsys, shipped_bundle, shipped_model, tmp_path):
    bundle = bundle_copy(Path(shipped_bundle) / "1.0.0", tmp_path)
    flip_byte(bundle)
    rows.write(shipped_model, tmp_path / "in.parquet", 10)
    code, _, err = run(capsys, "spark-predict", bundle, "-i", tmp_path / "in.parquet", "-o", tmp_path / "out")
    assert code == 3 and not (tmp_path / "out").exists()
    assert re.fullmatch(
        r"error: bundle refused: '.*model\.onnx' has sha256 \w+, the manifest expects \w+: .*", one_line(err)
    )


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("-i", "{tmp}/nowhere.parquet", "-o", "{tmp}/out"), "error: --input '{tmp}/nowhere.parquet' does not exist"),
        (
            ("-i", "{tmp}/in.parquet", "-o", "{tmp}"),
            "error: --output '{tmp}' exists; spark-predict writes a new folder",
        ),
    ],
)
def test_paths_are_checked_before_spark_starts(capsys, shipped_bundle, shipped_model, tmp_path, arguments, message):
    rows.write(shipped_model, tmp_path / "in.parquet", 10)
    code, _, err = run(capsys, "spark-predict", shipped_bundle, *(a.format(tmp=tmp_path) for a in arguments))
    assert code == 4 and one_line(err) == message.format(tmp=tmp_path)


@pytest.mark.slow
def test_the_real_entry_point_on_its_own_local_spark(shipped_bundle, shipped_model, tmp_path):
    data = rows.write(shipped_model, tmp_path / "in.parquet", 5_000, bad=False)
    command = [
        "spark-predict",
        shipped_bundle,
        "-i",
        tmp_path / "in.parquet",
        "-o",
        tmp_path / "out",
        "--master",
        "local[2]",
    ]
    # its own JVM: on 2 shared cores that alone can take a minute
    done = subprocess.run(
        [sys.executable, "-m", "runtime", *map(str, command)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    summary = SUMMARY.search(done.stderr)
    assert summary is not None, done.stderr
    assert summary.group(1) == "5,000" and summary.group(2) == "local[2]" and summary.group(4) == "0"
    assert pq.read_table(tmp_path / "out").num_rows == data.num_rows
