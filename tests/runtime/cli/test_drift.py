"""``python -m runtime drift`` as a command: its options and defaults (Thresholds'), and its exit codes,
one per verdict, from a CSV window and from the prediction log."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

import runtime
from runtime import NumberReference, PredictionReference
from runtime._cli import drift
from runtime._cli.drift_report import report_text, write_html
from runtime._monitor.drift import Thresholds, drift_report
from tests.runtime.cli.invoke import one_line, run
from tests.runtime.damage import bundle_copy, flip_byte
from tests.runtime.logged import log_predictions
from tests.runtime.traffic import columns_like_training, records_like_training


def write_window(path: Path, model: runtime.Model, rows: int, seed: int, shift: float = 0.0) -> Path:
    """A CSV of rows like training; ``shift`` is added to the first number column."""
    columns = columns_like_training(model.manifest, rows, seed)
    first = next(spec.name for spec in model.manifest.inputs if spec.kind == "number")
    columns[first] = columns[first] + shift
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(model.columns)
        for values in zip(*(columns[name].tolist() for name in model.columns)):
            writer.writerow(["" if v is None or (isinstance(v, float) and np.isnan(v)) else v for v in values])
    return path


@pytest.fixture(scope="module")
def prediction_log(model: runtime.Model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """600 rows like training, predicted in 6 requests and written by the server's log writer."""
    path = tmp_path_factory.mktemp("log") / "predictions.db"
    log_predictions(model, path, records_like_training(model.manifest, 600, seed=5))
    return path


# -- options ---------------------------------------------------------------------------------------


def test_every_threshold_is_an_option_with_the_default_of_thresholds() -> None:
    parser = argparse.ArgumentParser()
    drift.add_arguments(parser)
    args = parser.parse_args(["bundle", "--log", "x.db"])
    assert {field.name: getattr(args, field.name) for field in dataclasses.fields(Thresholds)} == dataclasses.asdict(
        Thresholds()
    )
    args = parser.parse_args(["bundle", "--log", "x.db", "--unknown-warn", "0.02", "--psi-alert", "0.5"])
    assert (args.unknown_warn, args.psi_alert) == (0.02, 0.5)


def test_help_states_the_defaults_the_code_uses(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "drift", "--help")
    assert code == 0
    text = " ".join(out.split())
    defaults = Thresholds()
    assert (
        f"PSI warn {defaults.psi_warn:g}, alert {defaults.psi_alert:g}; KS warn {defaults.ks_warn:g}, alert "
        f"{defaults.ks_alert:g}; missing rate +5 / +10 points over training; unknown categories warn above 0 %, "
        f"alert at 1 %; accuracy alert {defaults.accuracy_drop:g} below baseline (warn at half). A column is "
        f"judged from {defaults.min_rows} rows on (--min-rows); with fewer its status is insufficient data"
    ) in text
    assert "%%" not in out
    for field in dataclasses.fields(Thresholds):
        assert f"--{field.name.replace('_', '-')} {'N' if field.name == 'min_rows' else 'X'}" in out
    assert "6 drift: something crossed a warning threshold" in text
    assert "7 drift: something crossed an alert threshold" in text
    assert (
        "8 drift: the window holds no rows of this model, or too few to judge any column (--min-rows); "
        "nothing was judged"
    ) in text


# -- verdicts --------------------------------------------------------------------------------------


def test_a_window_like_training_is_ok(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model
) -> None:
    window = write_window(tmp_path / "recent.csv", model, 3000, seed=1)
    code, out, err = run(capsys, "drift", bundle, "--input", window)
    assert (code, err) == (0, "")
    assert out.startswith(f"drift of quality 1.0.0 over 3,000 rows from CSV {window}: OK\n")


def test_warn_and_alert_have_their_own_codes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model
) -> None:
    window = write_window(tmp_path / "recent.csv", model, 3000, seed=1)
    code, out, _ = run(capsys, "drift", bundle, "--input", window, "--ks-warn", "0", "--ks-alert", "1000")
    assert code == 6 and out.splitlines()[0].endswith(": WARN")
    shifted = write_window(tmp_path / "shifted.csv", model, 1000, seed=2, shift=25.0)
    code, out, _ = run(capsys, "drift", bundle, "--input", shifted, "--json")
    report = json.loads(out)
    assert code == 7 and report["status"] == "alert"
    assert [name for name, column in report["columns"].items() if column["status"] == "alert"] == [model.columns[0]]


def test_the_log_is_judged_and_a_window_without_rows_is_nothing_to_judge(
    capsys: pytest.CaptureFixture[str], bundle: Path, prediction_log: Path
) -> None:
    code, out, _ = run(capsys, "drift", bundle, "--log", prediction_log, "--json")
    report = json.loads(out)
    assert code == drift.STATUS_EXIT[report["status"]]
    assert report["rows"] == 600 and report["source"] == f"prediction log {prediction_log}"
    code, out, _ = run(capsys, "drift", bundle, "--log", prediction_log, "--last", "150", "--json")
    assert json.loads(out)["rows"] == 150
    code, out, err = run(capsys, "drift", bundle, "--log", prediction_log, "--since", "0s")
    assert (code, out) == (8, "")
    assert one_line(err) == f"error: no predictions of 'quality' in {prediction_log} for that window"


def test_a_csv_without_rows_is_nothing_to_judge(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, model: runtime.Model
) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(model.columns) + "\n", encoding="utf-8")
    assert run(capsys, "drift", bundle, "--input", empty) == (8, "", f"error: {empty} holds no rows\n")


def test_a_refused_bundle_is_not_a_verdict(capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path) -> None:
    damaged = bundle_copy(bundle / "1.0.0", tmp_path)
    flip_byte(damaged)
    code, out, err = run(capsys, "drift", damaged, "--input", tmp_path / "recent.csv")
    assert (code, out) == (3, "") and one_line(err).startswith("error: bundle refused: ")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--input", "{window}", "--since", "1h"], "--since and --last select log rows; they do not apply to --input"),
        (["--input", "{missing}"], "No such file or directory: '{missing}'"),
        (["--log", "{missing}"], "no such prediction log: '{missing}'"),
        (["--log", "{window}"], "cannot read --log '{window}': file is not a database"),
        (["--log", "{window}", "--since", "soon"], "--since 'soon' must be a number and a unit, e.g. 30m, 24h or 7d"),
        (
            ["--input", "{window}", "--log", "{window}"],
            "argument --log: not allowed with argument --input (see python -m runtime drift --help)",
        ),
        ([], "one of the arguments --log --input is required (see python -m runtime drift --help)"),
        # --last 0 used to pass with --input, and LIMIT -1 reads the whole log
        (
            ["--input", "{window}", "--last", "0"],
            "argument --last: '0' must be >= 1 (see python -m runtime drift --help)",
        ),
        (
            ["--log", "{window}", "--last", "-1"],
            "argument --last: '-1' must be >= 1 (see python -m runtime drift --help)",
        ),
        (["--log", "{window}", "--since", ""], "--since '' must be a number and a unit, e.g. 30m, 24h or 7d"),
        (
            ["--log", "{window}", "--psi-alert", "nan"],
            "argument --psi-alert: 'nan' must be a finite number >= 0 (see python -m runtime drift --help)",
        ),
        (
            ["--log", "{window}", "--accuracy-drop", "-0.1"],
            "argument --accuracy-drop: '-0.1' must be a finite number >= 0 (see python -m runtime drift --help)",
        ),
    ],
)
def test_usage_errors_exit_4(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    model: runtime.Model,
    argv: list[str],
    message: str,
) -> None:
    window = write_window(tmp_path / "recent.csv", model, 10, seed=3)
    names = {"window": str(window), "missing": str(tmp_path / "missing")}
    argv = [arg.format(**names) for arg in argv]
    assert run(capsys, "drift", bundle, *argv) == (4, "", f"error: {message.format(**names)}\n")


# -- the text report -------------------------------------------------------------------------------


def test_text_report_of_a_classifier_window() -> None:
    data = {
        "model": "quality",
        "version": "1.0.0",
        "rows": 1200,
        "status": "warn",
        "source": "CSV recent.csv",
        "columns": {
            "temperature": {
                "kind": "number",
                "status": "warn",
                "psi": 0.1234,
                "ks": 0.05,
                "missing_rate": 0.02,
                "reference_missing_rate": 0.01,
                "unknown_rate": None,
                "reasons": ["PSI 0.123 (warn at 0.1, alert at 0.25)"],
            },
            "shift": {
                "kind": "category",
                "status": "ok",
                "psi": 0.001,
                "ks": None,
                "missing_rate": 0.0,
                "reference_missing_rate": 0.0,
                "unknown_rate": 0.0,
                "reasons": [],
            },
        },  # fmt: skip
        "predictions": {
            "psi": 0.02,
            "status": "ok",
            "recent_shares": {"0": 0.8, "1": 0.2},
            "reference_shares": {"0": 0.83, "1": 0.17},
        },  # fmt: skip
        "accuracy": {"labelled_rows": 3, "note": "too few labelled predictions to judge (3 < 30)", "status": "ok"},
    }
    assert report_text(data) == (
        "drift of quality 1.0.0 over 1,200 rows from CSV recent.csv: WARN\n"
        "  column                   kind      status     PSI      KS  missing (training)   unknown\n"
        "  temperature              number    warn     0.123   0.050  2.0% (1.0%)          -\n"
        "      PSI 0.123 (warn at 0.1, alert at 0.25)\n"
        "  shift                    category  ok       0.001       -  0.0% (0.0%)          0.0%\n"
        "  predictions: PSI 0.020 ok (recent 0: 80.0%, 1: 20.0%; held-out 0: 83.0%, 1: 17.0%)\n"
        "  accuracy: too few labelled predictions to judge (3 < 30)\n"
    )


def test_text_report_of_a_regressors_predicted_values(model: runtime.Model) -> None:
    """A regressor's predictions are judged like a number column (PSI and KS); the text shows that."""
    reference = NumberReference.build(np.linspace(0.0, 100.0, 1001))
    manifest = dataclasses.replace(
        model.manifest,
        drift_reference=dataclasses.replace(
            model.manifest.drift_reference, predictions=PredictionReference("held-out split", values=reference)
        ),
    )
    columns = columns_like_training(manifest, 500, seed=4)
    report = drift_report(manifest, columns, predicted_values=np.linspace(50.0, 150.0, 500))
    text = report_text(report.to_dict() | {"source": "CSV recent.csv"})
    predictions = report.predictions
    assert predictions is not None and predictions["status"] == "alert"
    expected = [
        f"  predictions: PSI {predictions['psi']:.3f} KS {predictions['ks']:.3f} alert "
        "(predicted values of 500 rows against the held-out split)",
        *(f"      {reason}" for reason in predictions["reasons"]),
    ]
    assert len(expected) == 3  # PSI and KS both past their alert thresholds
    assert text.splitlines()[-3:] == expected


def test_html_report_draws_a_column_without_reference_bins(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    never_present = NumberReference(missing_rate=1.0, bin_edges=(), bin_shares=(1.0,), quantiles=())
    data = {
        "model": "quality",
        "version": "1.0.0",
        "rows": 2,
        "status": "ok",
        "source": "CSV recent.csv",
        "columns": {"temperature": {"kind": "number", "status": "ok", "reasons": []}},
    }
    write_html(tmp_path / "drift.html", data, {"temperature": never_present}, {"temperature": np.array([np.nan, 1.0])})
    page = (tmp_path / "drift.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 1
    assert "<h2>temperature: ok</h2><p>within thresholds</p>" in page
