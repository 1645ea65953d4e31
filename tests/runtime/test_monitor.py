"""Monitoring from the prediction log: windows, late labels, accuracy drift (issue 6, must show 4)."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import runtime
from runtime._contract import ExitCode
from runtime._monitor.windows import accuracy_report, ingest_feedback, parse_duration, read_csv_window, read_log_window
from tests.runtime.logged import log_predictions
from tests.runtime.traffic import records_like_training

FEATURES = ["temperature", "pressure", "speed", "humidity", "vibration", "machine_type", "shift"]


@pytest.fixture(scope="module")
def model(shipped_bundle):
    return runtime.load(shipped_bundle)


@pytest.fixture(scope="module")
def logged(model, tmp_path_factory):
    """2,000 parts from the training distribution, predicted in 20 requests of 100 and written through
    the server's log writer; returns the database and the label predicted for each (request id, row)."""
    path = tmp_path_factory.mktemp("log") / "predictions.db"
    return path, log_predictions(model, path, records_like_training(model.manifest, 2000, seed=21))


def _feedback(path, predicted, wrong_share: float, seed: int = 0) -> float:
    """True labels that disagree with the prediction in ``wrong_share`` of rows; returns the accuracy."""
    rng = np.random.default_rng(seed)
    right = 0
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["request_id", "row", "label"])
        for (request_id, row), label in predicted.items():
            wrong = rng.random() < wrong_share
            right += not wrong
            writer.writerow([request_id, row, 1 - label if wrong else label])
    return right / len(predicted)


def _baseline_wrong_share(model) -> float:
    return 1.0 - model.manifest.metrics.accuracy


def test_log_window_reads_inputs_and_predictions(model, logged):
    database, _ = logged
    window = read_log_window(database, model.manifest)
    assert window.rows == 2000 and len(window.labels) == 2000
    assert window.request_ids[0] == "req-0" and window.row_numbers[:3] == [0, 1, 2]
    last = read_log_window(database, model.manifest, last=150)
    assert last.rows == 150 and last.request_ids[-1] == "req-19"
    assert read_log_window(database, model.manifest, since_s=3600).rows == 2000


def test_accuracy_at_baseline_does_not_alert(model, logged, tmp_path):
    database, predicted = logged
    accuracy = _feedback(tmp_path / "labels.csv", predicted, _baseline_wrong_share(model))
    counts = ingest_feedback(database, tmp_path / "labels.csv", model.manifest)
    assert counts["labels_matching_a_prediction"] == 2000
    report = accuracy_report(database, read_log_window(database, model.manifest), model.manifest)
    assert report["accuracy"] == pytest.approx(accuracy, abs=1e-12)
    assert report["drop"] == pytest.approx(model.manifest.metrics.accuracy - accuracy, abs=1e-12)
    assert abs(report["drop"]) < 0.025
    assert report["status"] == "ok"


def test_a_window_where_the_model_is_wrong_more_often_alerts(model, logged, tmp_path):
    database, predicted = logged
    # the process changed under the model: 15 points more wrong answers than at export
    _feedback(tmp_path / "labels.csv", predicted, _baseline_wrong_share(model) + 0.15, seed=3)
    ingest_feedback(database, tmp_path / "labels.csv", model.manifest)
    report = accuracy_report(database, read_log_window(database, model.manifest), model.manifest)
    assert report["drop"] > 0.05
    assert report["status"] == "alert"
    assert report["labelled_rows"] == 2000


def test_feedback_with_an_unknown_class_is_refused_naming_the_entry(model, logged, tmp_path):
    database, _ = logged
    path = tmp_path / "labels.jsonl"
    path.write_text('{"request_id": "req-0", "label": 1}\n{"request_id": "req-1", "label": "scrap"}\n')
    with pytest.raises(ValueError, match=r"entry 2: label 'scrap' is not a class of 'quality'"):
        ingest_feedback(database, path, model.manifest)


def write_csv(path, records) -> None:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=FEATURES)
        writer.writeheader()
        writer.writerows({name: "" if value is None else value for name, value in r.items()} for r in records)


def test_csv_window(model, tmp_path):
    records = records_like_training(model.manifest, 300, seed=22)
    path = tmp_path / "recent.csv"
    write_csv(path, records)
    window = read_csv_window(path, model.manifest)
    assert window.rows == 300
    assert np.isnan(window.columns["temperature"]).sum() == sum(r["temperature"] is None for r in records)
    assert window.columns["pressure"][:5].tolist() == [r["pressure"] for r in records[:5]]


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90), ("30m", 1800), ("24h", 86400), ("7d", 604800)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


# -- the CLI -------------------------------------------------------------------------------------------


def test_drift_cli_on_the_log_text_json_and_exit_codes(model, shipped_bundle, logged, tmp_path, capsys):
    from runtime._cli import main

    database, predicted = logged
    _feedback(tmp_path / "labels.csv", predicted, _baseline_wrong_share(model))
    assert main(["feedback", str(shipped_bundle), str(tmp_path / "labels.csv"), "--log", str(database)]) == ExitCode.OK
    assert "of which 2,000 match a logged prediction" in capsys.readouterr().out
    assert main(["drift", str(shipped_bundle), "--log", str(database)]) == ExitCode.OK
    text = capsys.readouterr().out
    assert text.startswith("drift of quality 1.0.0 over 2,000 rows from prediction log ")
    assert ": OK\n" in text.splitlines()[0] + "\n" and "accuracy: " in text
    _feedback(tmp_path / "worse.csv", predicted, _baseline_wrong_share(model) + 0.15, seed=3)
    main(["feedback", str(shipped_bundle), str(tmp_path / "worse.csv"), "--log", str(database)])
    capsys.readouterr()
    assert (
        main(["drift", str(shipped_bundle), "--log", str(database), "--json", "--last", "1500"]) == ExitCode.DRIFT_ALERT
    )
    import json

    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "alert" and report["accuracy"]["status"] == "alert"
    assert report["rows"] == 1500
    _feedback(tmp_path / "labels.csv", predicted, _baseline_wrong_share(model))  # restore for other tests
    main(["feedback", str(shipped_bundle), str(tmp_path / "labels.csv"), "--log", str(database)])


@pytest.fixture
def shifted_csv(model, tmp_path):
    """1,000 parts whose temperature sensor reads 25 degrees high, as a CSV."""
    records = records_like_training(model.manifest, 1000, seed=23)
    for record in records:
        if record["temperature"] is not None:
            record["temperature"] += 25.0
    write_csv(tmp_path / "recent.csv", records)
    return tmp_path / "recent.csv"


def test_drift_cli_on_a_csv_with_a_shifted_sensor(shipped_bundle, shifted_csv, tmp_path, capsys):
    from runtime._cli import main

    code = main(["drift", str(shipped_bundle), "--input", str(shifted_csv)])
    out = capsys.readouterr().out
    assert code == ExitCode.DRIFT_ALERT
    column_lines = [line.split() for line in out.splitlines()[2:] if line.startswith("  ") and line[2] != " "]
    assert [words[0] for words in column_lines if words[2] == "alert"] == ["temperature"]
    assert main(["drift", str(shipped_bundle), "--input", str(tmp_path / "missing.csv")]) == ExitCode.USAGE


def test_drift_cli_html_report(shipped_bundle, shifted_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--html needs matplotlib (the export extra has it)")
    from runtime._cli import main

    html = tmp_path / "drift.html"
    assert (
        main(["drift", str(shipped_bundle), "--input", str(shifted_csv), "--html", str(html)]) == ExitCode.DRIFT_ALERT
    )
    page = html.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 7
    assert "<h2>temperature: alert</h2>" in page
