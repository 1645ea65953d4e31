"""``python -m runtime feedback``: late true labels into the prediction log, refused with one line when
they do not fit the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime._monitor.predictlog import check_prediction_log
from tests.runtime.cli.invoke import one_line, run


@pytest.fixture
def empty_log(tmp_path: Path) -> Path:
    """A prediction log with its tables and no rows, as a server that predicted nothing yet leaves it."""
    path = tmp_path / "predictions.db"
    check_prediction_log(path)
    return path


def test_labels_are_stored_and_counted(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path, empty_log: Path
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,row,label\nreq-1,0,1\nreq-1,1,0\nreq-2,0,1\n", encoding="utf-8")
    code, out, err = run(capsys, "feedback", bundle, labels, "--log", empty_log)
    assert (code, err) == (0, "")
    assert out == "stored 3 labels; the log now holds 3, of which 0 match a logged prediction\n"
    jsonl = tmp_path / "labels.jsonl"
    jsonl.write_text('{"request_id": "req-1", "row": 0, "label": 0}\n', encoding="utf-8")  # replaces req-1 row 0
    code, out, _ = run(capsys, "feedback", bundle, jsonl, "--log", empty_log)
    assert out == "stored 1 labels; the log now holds 3, of which 0 match a logged prediction\n"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "labels.jsonl",
            '{"request_id": "req-0", "label": 1}\n{"request_id": "req-1", "label": "scrap"}\n',
            "{path!r} entry 2: label 'scrap' is not a class of 'quality' 1.0.0; classes are ['0', '1']",
        ),
        (
            "labels.csv",
            "request_id,label\n,1\n",
            "{path!r} entry 1 needs request_id and label, got {{'request_id': '', 'label': '1'}}",
        ),
        ("labels.txt", "x", "{path!r}: feedback must be .csv or .jsonl with request_id and label"),
    ],
    ids=["unknown-class", "no-request-id", "suffix"],
)
def test_labels_that_do_not_fit_are_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    bundle: Path,
    empty_log: Path,
    name: str,
    text: str,
    message: str,
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    code, out, err = run(capsys, "feedback", bundle, path, "--log", empty_log)
    assert (code, out) == (4, "")
    assert one_line(err) == "error: " + message.format(path=str(path))


def test_a_missing_log_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,label\nreq-1,1\n", encoding="utf-8")
    code, _, err = run(capsys, "feedback", bundle, labels, "--log", tmp_path / "none.db")
    assert code == 4 and one_line(err) == f"error: no such prediction log: {str(tmp_path / 'none.db')!r}"
    code, _, err = run(capsys, "feedback", bundle, labels)
    assert code == 4
    assert one_line(err) == "error: the following arguments are required: --log (see python -m runtime feedback --help)"


def test_a_file_that_is_not_a_prediction_log_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, bundle: Path
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("request_id,label\nreq-1,1\n", encoding="utf-8")
    code, _, err = run(capsys, "feedback", bundle, labels, "--log", labels)
    assert code == 4
    assert one_line(err) == f"error: cannot store labels in --log {str(labels)!r}: file is not a database"
