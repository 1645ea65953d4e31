"""Monitoring data: recent inputs from the prediction log (or a CSV), ground truth fed back later,
and accuracy over a window against the baseline the bundle recorded at export.

The prediction log is the server's SQLite database (schema in :mod:`.logdb`, written by
:mod:`.predictlog`): one row per predicted record with its request id, row within the request, time,
inputs and outputs as JSON. Feedback is kept in the same database, in the ``feedback`` table keyed by
(request id, row), so a late label can be joined with the prediction it belongs to; a label whose
request is not (yet) in the log is kept and counted, never dropped.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sqlite3
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._manifest import Manifest
from .._text import utc_iso
from .drift import Thresholds, drift_report, worst
from .logdb import connect

__all__ = [
    "Window",
    "accuracy_report",
    "drift_from_log",
    "ingest_feedback",
    "parse_duration",
    "read_csv_window",
    "read_log_window",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A verdict on accuracy needs some labels; fewer than this and the report says so instead.
MIN_LABELLED_ROWS = 30


def parse_duration(text: str) -> float:
    """``"90s"``, ``"30m"``, ``"24h"``, ``"7d"``, ``"2w"`` -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"--since {text!r} must be a number and a unit, e.g. 30m, 24h or 7d")
    return float(match.group(1)) * _SECONDS[match.group(2)]


@dataclass
class Window:
    """Recent inputs as one array per column, with the identities and predictions they came with."""

    columns: dict[str, np.ndarray]
    rows: int
    source: str
    request_ids: list[str]
    row_numbers: list[int]
    labels: list[Any] | None
    values: np.ndarray | None = None  # a regressor's predicted values, NaN where none was logged


def _columns_from_records(manifest: Manifest, records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    columns: dict[str, np.ndarray] = {}
    for spec in manifest.inputs:
        values = [record.get(spec.name) for record in records]
        if spec.kind == "number":
            columns[spec.name] = np.array(
                [float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan for v in values],
                dtype=np.float64,
            )
        else:
            columns[spec.name] = np.array([v if isinstance(v, str) else None for v in values], dtype=object)
    return columns


def _connect(path: Path) -> sqlite3.Connection:
    return connect(path, create=False)


def read_log_window(
    path: str | Path, manifest: Manifest, *, since_s: float | None = None, last: int | None = None
) -> Window:
    """The model's successful predictions in the log: those of the last ``since_s`` seconds and/or
    the ``last`` most recent ones (all of them when neither is given)."""
    where = ["error IS NULL", "inputs IS NOT NULL", "model = ?"]
    parameters: list[Any] = [manifest.name]
    if since_s is not None:
        where.append("time_epoch >= ?")
        parameters.append(time.time() - since_s)
    query = f"SELECT request_id, row, inputs, outputs FROM predictions WHERE {' AND '.join(where)} ORDER BY id DESC"
    if last is not None:
        query += " LIMIT ?"
        parameters.append(last)
    connection = _connect(Path(path))
    try:
        rows = connection.execute(query, parameters).fetchall()
    finally:
        connection.close()
    rows.reverse()  # oldest first
    records = [json.loads(inputs) for _, _, inputs, _ in rows]
    outputs = [json.loads(text) if text else {} for _, _, _, text in rows]
    labels = [output.get("label") for output in outputs]
    values = np.array(
        [v if isinstance(v := output.get("value"), (int, float)) else math.nan for output in outputs], dtype=np.float64
    )
    return Window(
        columns=_columns_from_records(manifest, records),
        rows=len(rows),
        source=f"prediction log {path}",
        request_ids=[request_id for request_id, _, _, _ in rows],
        row_numbers=[row or 0 for _, row, _, _ in rows],
        labels=labels if manifest.is_classifier else None,
        values=None if manifest.is_classifier else values,
    )


def read_csv_window(path: str | Path, manifest: Manifest) -> Window:
    """Recent inputs from a CSV with a header naming the model's columns (other columns are ignored).

    Empty fields are missing; a number column's text must parse as a number, or the value counts as
    missing and the row is reported in the error message's count.
    """
    records: list[dict[str, Any]] = []
    unreadable = 0
    numbers = {spec.name for spec in manifest.inputs if spec.kind == "number"}
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [spec.name for spec in manifest.inputs if spec.name not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{str(path)!r} has no column {missing[0]!r}; the model's columns are "
                f"{[spec.name for spec in manifest.inputs]}"
            )
        for line in reader:
            record: dict[str, Any] = {}
            for name in (spec.name for spec in manifest.inputs):
                text = (line.get(name) or "").strip()
                if name in numbers:
                    try:
                        record[name] = float(text) if text else None
                    except ValueError:
                        unreadable += 1
                        record[name] = None
                else:
                    record[name] = text or None
            records.append(record)
    if unreadable:
        raise ValueError(f"{str(path)!r} has {unreadable} number fields that are not numbers; fix or blank them")
    return Window(_columns_from_records(manifest, records), len(records), f"CSV {path}", [], [], None)


def _feedback_rows(path: Path) -> Iterable[dict[str, Any]]:
    suffix = path.suffix.lower()
    with open(path, newline="", encoding="utf-8") as handle:
        if suffix in (".jsonl", ".ndjson"):
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        item = json.loads(line)
                    except json.JSONDecodeError as error:
                        raise ValueError(f"{str(path)!r} line {number} is not JSON: {error.msg}") from None
                    if not isinstance(item, dict):
                        raise ValueError(f"{str(path)!r} line {number} is not a JSON object")
                    yield item
        elif suffix == ".csv":
            yield from csv.DictReader(handle)
        else:
            raise ValueError(f"{str(path)!r}: feedback must be .csv or .jsonl with request_id and label")


def ingest_feedback(log_path: str | Path, feedback_path: str | Path, manifest: Manifest) -> dict[str, int]:
    """Store true labels (columns ``request_id``, ``label``, optional ``row``) beside the predictions.

    Labels are checked against the model's classes (compared as text); a label the model does not
    know is refused with its line. A repeated (request id, row) replaces the earlier label.
    """
    classes = {str(c): c for c in (manifest.classes or ())}
    entries: list[tuple[str, int, str, str]] = []
    received = utc_iso(timespec="seconds")
    for number, item in enumerate(_feedback_rows(Path(feedback_path)), start=1):
        request_id, label = item.get("request_id"), item.get("label")
        if request_id in (None, "") or label in (None, ""):
            raise ValueError(f"{str(feedback_path)!r} entry {number} needs request_id and label, got {item!r}")
        text = str(label)
        if isinstance(label, float) and label.is_integer():
            text = str(int(label))
        if classes and text not in classes:
            raise ValueError(
                f"{str(feedback_path)!r} entry {number}: label {label!r} is not a class of {manifest.name!r} "
                f"{manifest.version}; classes are {list(classes)}"
            )
        try:
            row = int(item.get("row") or 0)
        except (TypeError, ValueError):
            raise ValueError(
                f"{str(feedback_path)!r} entry {number}: row {item.get('row')!r} is not a number"
            ) from None
        entries.append((str(request_id), row, text, received))
    connection = _connect(Path(log_path))
    try:
        connection.execute("BEGIN IMMEDIATE")  # all labels of the file, or none
        try:
            connection.executemany(
                "INSERT INTO feedback (request_id, row, label, received_utc) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (request_id, row) DO UPDATE SET "
                "label = excluded.label, received_utc = excluded.received_utc",
                entries,
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        matched = connection.execute(
            "SELECT COUNT(*) FROM feedback f JOIN predictions p ON p.request_id = f.request_id "
            "AND COALESCE(p.row, 0) = f.row AND p.error IS NULL"
        ).fetchone()[0]
        total = connection.execute("SELECT COUNT(*) FROM feedback").fetchone()[0]
    finally:
        connection.close()
    return {"ingested": len(entries), "labels_stored": int(total), "labels_matching_a_prediction": int(matched)}


def _macro_f1(truth: list[str], predicted: list[str], classes: list[str]) -> float:
    scores = []
    for label in classes:
        tp = sum(1 for t, p in zip(truth, predicted) if t == label and p == label)
        fp = sum(1 for t, p in zip(truth, predicted) if t != label and p == label)
        fn = sum(1 for t, p in zip(truth, predicted) if t == label and p != label)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def accuracy_report(
    log_path: str | Path, window: Window, manifest: Manifest, *, max_drop: float = Thresholds.accuracy_drop
) -> dict[str, Any]:
    """Accuracy and macro F1 over the window's predictions that have a true label, against the
    baseline in the manifest; "alert" when accuracy falls more than ``max_drop`` below it, "warn"
    past half of that (the default is ``Thresholds.accuracy_drop``)."""
    baseline_accuracy = manifest.metrics.accuracy
    baseline_f1 = manifest.metrics.macro_f1
    connection = _connect(Path(log_path))
    try:
        labels = {
            (rid, row): label for rid, row, label in connection.execute("SELECT request_id, row, label FROM feedback")
        }
    finally:
        connection.close()
    truth: list[str] = []
    predicted: list[str] = []
    for request_id, row, label in zip(window.request_ids, window.row_numbers, window.labels or []):
        true_label = labels.get((request_id, row))
        if true_label is not None and label is not None:
            truth.append(true_label)
            predicted.append(str(label))
    report: dict[str, Any] = {
        "labelled_rows": len(truth),
        "baseline_accuracy": baseline_accuracy,
        "baseline_macro_f1": baseline_f1,
        "max_drop": max_drop,
    }
    if len(truth) < MIN_LABELLED_ROWS or baseline_accuracy is None:
        report.update(
            status="ok",
            note=f"too few labelled predictions to judge ({len(truth)} < {MIN_LABELLED_ROWS})"
            if baseline_accuracy is not None
            else "the manifest records no baseline accuracy",
        )
        return report
    accuracy = sum(1 for t, p in zip(truth, predicted) if t == p) / len(truth)
    drop = float(baseline_accuracy) - accuracy
    report.update(
        accuracy=accuracy,
        macro_f1=_macro_f1(truth, predicted, [str(c) for c in manifest.classes or ()]),
        drop=drop,
        status="alert" if drop > max_drop else "warn" if drop > max_drop / 2 else "ok",
    )
    return report


def drift_from_log(
    path: str | Path,
    manifest: Manifest,
    *,
    since_s: float | None = None,
    last: int | None = None,
    thresholds: Thresholds | None = None,
) -> dict[str, Any]:
    """The whole drift report over a window of the log, as the CLI prints it and the server serves it.

    Status is the worst of the columns, the predicted classes and (with fed-back labels) accuracy;
    ``"no data"`` when the window holds no prediction of this model.
    """
    window = read_log_window(path, manifest, since_s=since_s, last=last)
    source = f"prediction log {path}"
    if window.rows == 0:
        return {"model": manifest.name, "version": manifest.version, "rows": 0, "status": "no data", "source": source}
    report = drift_report(
        manifest,
        window.columns,
        predicted_labels=window.labels,
        predicted_values=window.values[~np.isnan(window.values)] if window.values is not None else None,
        thresholds=thresholds,
    )
    if manifest.is_classifier:
        report.accuracy = accuracy_report(path, window, manifest, max_drop=report.thresholds.accuracy_drop)
        report.status = worst([report.status, report.accuracy["status"]])
    return report.to_dict() | {"source": source}
