"""Monitoring data: recent inputs from the prediction log (or a CSV), ground truth fed back later,
and accuracy over a window against the baseline the bundle recorded at export.

The prediction log is the server's SQLite database (schema in :mod:`.logdb`, written by
:mod:`.predictlog`): one row per predicted record with its request id, row within the request, time,
inputs and outputs as JSON. Feedback is kept in the same database, in the ``feedback`` table keyed by
(request id, row), so a late label can be joined with the prediction it belongs to; a label whose
request is not (yet) in the log is kept and counted, never dropped.

Windows are read in chunks of ``CHUNK_ROWS`` rows (the log in id order, oldest first, one short
query per chunk; a CSV line by line) and folded into the fixed-size counts of
:class:`.accumulators.DriftAccumulator`, with a confusion count per (true, predicted) label for
accuracy: :func:`drift_from_log` and :func:`count_csv_window` hold one chunk at a time, whatever the
window's length. A log window holds at most ``MAX_WINDOW_ROWS`` rows, the newest of those selected,
which bounds the time a drift report takes (8 s of one core per million rows on the 2-core machine of
benchmarks/drift_window.py, most of it decoding JSON).
:func:`read_log_window` and :func:`read_csv_window` still return a whole window as arrays, for small
windows and tests.
"""

from __future__ import annotations

import csv
import itertools
import json
import math
import re
import sqlite3
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._manifest import Manifest
from .._text import utc_iso
from .accumulators import DriftAccumulator
from .drift import INSUFFICIENT, Thresholds, drift_report_from, worst
from .logdb import connect

__all__ = [
    "CHUNK_ROWS",
    "MAX_WINDOW_ROWS",
    "LogWindowCounts",
    "Window",
    "accuracy_report",
    "count_csv_window",
    "count_log_window",
    "drift_from_log",
    "ingest_feedback",
    "parse_duration",
    "read_csv_window",
    "read_log_window",
    "report_log_window",
]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# A verdict on accuracy needs some labels; fewer than this and the report says so instead.
MIN_LABELLED_ROWS = 30
# Rows read and folded at a time: a few MB of JSON and arrays, whatever the window's length.
CHUNK_ROWS = 10_000
# The most rows a log window holds (the server's --drift-window and ?last=, the CLI's --last): a
# drift report over it takes seconds of one thread, not minutes.
MAX_WINDOW_ROWS = 1_000_000
_DECODE_ROWS = 500


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


def _check_last(last: int | None, max_rows: int) -> int:
    """The rows a log window may hold: ``last`` (at most ``max_rows``), or ``max_rows``."""
    if last is None:
        return max_rows
    if last > max_rows:
        raise ValueError(
            f"last == {last:,} is more rows than a drift window holds (at most {max_rows:,}, "
            "MAX_WINDOW_ROWS): judge fewer rows, or a shorter time with --since"
        )
    return last


@dataclass
class _LogChunk:
    """Up to ``CHUNK_ROWS`` consecutive rows of a log window, oldest first."""

    records: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    request_ids: list[str]
    row_numbers: list[int]
    true_labels: list[str | None]  # the fed-back label of each row, None where none was given


def _log_chunks(
    path: Path,
    manifest: Manifest,
    *,
    since_s: float | None,
    last: int,
    chunk_rows: int,
) -> Iterator[_LogChunk]:
    """The model's successful predictions in the log, the ``last`` most recent (of the last ``since_s``
    seconds), oldest first, ``chunk_rows`` at a time.

    The window's ids are fixed first (the lowest id of the time window, through the time index; the
    newest row now; the ``last``-th newest); each chunk is then a query of its own over a range of
    ids, so no read transaction stays open while the chunks are judged and the writer's checkpoints
    are not held back. Rows pruned in the meantime are simply not read. Every query walks the
    primary key (``+`` keeps SQLite from picking the time index and sorting the window by id).
    """
    where = ["p.error IS NULL", "p.inputs IS NOT NULL", "p.model = ?"]
    parameters: list[Any] = [manifest.name]
    connection = _connect(path)
    try:
        lowest = 0
        if since_s is not None:
            since = time.time() - since_s
            where.append("+p.time_epoch >= ?")
            parameters.append(since)
            lowest = connection.execute(
                "SELECT MIN(id) FROM predictions INDEXED BY predictions_time_epoch WHERE time_epoch >= ?", [since]
            ).fetchone()[0]
            if lowest is None:
                return
        # each query names one range of ids: given two lower bounds, SQLite may walk from the lower one,
        # re-reading the window for every chunk
        condition = " AND ".join(where)
        newest = connection.execute(
            f"SELECT MAX(p.id) FROM predictions p WHERE {condition} AND p.id >= ?", [*parameters, lowest]
        ).fetchone()[0]
        if newest is None:
            return
        oldest = connection.execute(
            f"SELECT p.id FROM predictions p WHERE {condition} AND p.id >= ? AND p.id <= ? "
            "ORDER BY p.id DESC LIMIT 1 OFFSET ?",
            [*parameters, lowest, newest, last - 1],
        ).fetchone()
        after = oldest[0] - 1 if oldest is not None else lowest - 1
        query = (
            "SELECT p.id, p.request_id, p.row, p.inputs, p.outputs, f.label FROM predictions p "
            "LEFT JOIN feedback f ON f.request_id = p.request_id AND f.row = COALESCE(p.row, 0) "
            f"WHERE {condition} AND p.id > ? AND p.id <= ? ORDER BY p.id LIMIT ?"
        )
        while True:
            rows = connection.execute(query, [*parameters, after, newest, chunk_rows]).fetchall()
            if not rows:
                return
            after = rows[-1][0]
            yield _LogChunk(
                records=_decode_objects([inputs for _, _, _, inputs, _, _ in rows]),
                outputs=_decode_objects([text or "{}" for _, _, _, _, text, _ in rows]),
                request_ids=[request_id for _, request_id, _, _, _, _ in rows],
                row_numbers=[row or 0 for _, _, row, _, _, _ in rows],
                true_labels=[label for *_, label in rows],
            )
            if len(rows) < chunk_rows:
                return
    finally:
        connection.close()


def _decode_objects(texts: Sequence[str]) -> list[dict[str, Any]]:
    """JSON texts decoded ``_DECODE_ROWS`` at a time: one call is faster than one per row, and holding
    the GIL for a millisecond or two at most keeps the server's event loop answering beside it."""
    objects: list[dict[str, Any]] = []
    for start in range(0, len(texts), _DECODE_ROWS):
        objects += json.loads("[" + ",".join(texts[start : start + _DECODE_ROWS]) + "]")
    return objects


def _predicted_values(outputs: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """A regressor's logged values, NaN where a row logged none."""
    return np.array(
        [v if isinstance(v := output.get("value"), (int, float)) else math.nan for output in outputs], dtype=np.float64
    )


def read_log_window(
    path: str | Path,
    manifest: Manifest,
    *,
    since_s: float | None = None,
    last: int | None = None,
    max_rows: int = MAX_WINDOW_ROWS,
) -> Window:
    """The model's successful predictions in the log as arrays: those of the last ``since_s`` seconds
    and/or the ``last`` most recent ones (without ``last``: the newest ``max_rows``).

    This holds the whole window in memory; drift over a large window uses :func:`count_log_window`.
    """
    chunks = list(
        _log_chunks(Path(path), manifest, since_s=since_s, last=_check_last(last, max_rows), chunk_rows=CHUNK_ROWS)
    )
    outputs = [output for chunk in chunks for output in chunk.outputs]
    return Window(
        columns=_columns_from_records(manifest, [record for chunk in chunks for record in chunk.records]),
        rows=len(outputs),
        source=f"prediction log {path}",
        request_ids=[request_id for chunk in chunks for request_id in chunk.request_ids],
        row_numbers=[row for chunk in chunks for row in chunk.row_numbers],
        labels=[output.get("label") for output in outputs] if manifest.is_classifier else None,
        values=None if manifest.is_classifier else _predicted_values(outputs),
    )


@dataclass
class LogWindowCounts:
    """A log window counted: the drift accumulators, and for a classifier the count of each
    (fed-back true label, predicted label) pair over the window's rows that have both."""

    drift: DriftAccumulator
    source: str
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)

    @property
    def rows(self) -> int:
        return self.drift.rows


def count_log_window(
    path: str | Path,
    manifest: Manifest,
    *,
    since_s: float | None = None,
    last: int | None = None,
    max_rows: int = MAX_WINDOW_ROWS,
    chunk_rows: int = CHUNK_ROWS,
) -> LogWindowCounts:
    """Count the window :func:`read_log_window` would return, ``chunk_rows`` rows at a time, into
    fixed-size accumulators (``ValueError`` for ``last`` over ``max_rows``)."""
    window = _check_last(last, max_rows)
    counts = LogWindowCounts(DriftAccumulator(manifest), f"prediction log {path}")
    for chunk in _log_chunks(Path(path), manifest, since_s=since_s, last=window, chunk_rows=chunk_rows):
        columns = _columns_from_records(manifest, chunk.records)
        if manifest.is_classifier:
            labels = [output.get("label") for output in chunk.outputs]
            counts.drift.add(columns, predicted_labels=labels)
            counts.confusion.update(
                (true, str(label))
                for true, label in zip(chunk.true_labels, labels)
                if true is not None and label is not None
            )
        else:
            values = _predicted_values(chunk.outputs)
            counts.drift.add(columns, predicted_values=values[~np.isnan(values)])
    return counts


def _csv_chunks(path: str | Path, manifest: Manifest, chunk_rows: int) -> Iterator[dict[str, np.ndarray]]:
    """A CSV's model columns, ``chunk_rows`` rows at a time (see :func:`read_csv_window`)."""
    names = [spec.name for spec in manifest.inputs]
    numbers = {spec.name for spec in manifest.inputs if spec.kind == "number"}
    unreadable = 0
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        missing = [name for name in names if name not in header]
        if missing:
            raise ValueError(f"{str(path)!r} has no column {missing[0]!r}; the model's columns are {names}")
        # as csv.DictReader: the last of repeated header names, blank lines skipped, short lines padded
        position = {name: index for index, name in enumerate(header)}
        while True:
            lines = [line for line in itertools.islice(reader, chunk_rows) if line]
            if not lines:
                break
            columns: dict[str, np.ndarray] = {}
            for name in names:
                index = position[name]
                texts = [line[index].strip() if index < len(line) else "" for line in lines]
                if name in numbers:
                    values, bad = _numbers(texts)
                    unreadable += bad
                    columns[name] = values
                else:
                    columns[name] = np.array([text or None for text in texts], dtype=object)
            yield columns
    if unreadable:
        raise ValueError(f"{str(path)!r} has {unreadable} number fields that are not numbers; fix or blank them")


def _numbers(texts: Sequence[str]) -> tuple[np.ndarray, int]:
    """The texts as float64 (NaN for empty and unreadable ones) and how many were unreadable."""
    try:
        return np.array([float(text) if text else math.nan for text in texts], dtype=np.float64), 0
    except ValueError:
        pass
    values = np.full(len(texts), math.nan)
    unreadable = 0
    for index, text in enumerate(texts):
        if text:
            try:
                values[index] = float(text)
            except ValueError:
                unreadable += 1
    return values, unreadable


def read_csv_window(path: str | Path, manifest: Manifest) -> Window:
    """Recent inputs from a CSV with a header naming the model's columns (other columns are ignored).

    Empty fields are missing; a number column's text must parse as a number, or the value counts as
    missing and the row is reported in the error message's count. This holds the whole file in
    memory; drift over a large one uses :func:`count_csv_window`.
    """
    chunks = list(_csv_chunks(path, manifest, CHUNK_ROWS))
    columns = {
        spec.name: np.concatenate([chunk[spec.name] for chunk in chunks])
        if chunks
        else np.array([], dtype=np.float64 if spec.kind == "number" else object)
        for spec in manifest.inputs
    }
    rows = sum(len(next(iter(chunk.values()))) for chunk in chunks) if chunks else 0
    return Window(columns, rows, f"CSV {path}", [], [], None)


def count_csv_window(path: str | Path, manifest: Manifest, *, chunk_rows: int = CHUNK_ROWS) -> DriftAccumulator:
    """A CSV's inputs (as :func:`read_csv_window` reads them) counted ``chunk_rows`` rows at a time,
    whatever the file's length: the CSV is the window, so no cap applies."""
    accumulator = DriftAccumulator(manifest)
    for chunk in _csv_chunks(path, manifest, chunk_rows):
        accumulator.add(chunk)
    return accumulator


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


def _macro_f1(confusion: Mapping[tuple[str, str], int], classes: list[str]) -> float:
    scores = []
    for label in classes:
        tp = confusion.get((label, label), 0)
        fp = sum(n for (t, p), n in confusion.items() if t != label and p == label)
        fn = sum(n for (t, p), n in confusion.items() if t == label and p != label)
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores)) if scores else 0.0


def accuracy_report(
    log_path: str | Path, window: Window, manifest: Manifest, *, max_drop: float = Thresholds.accuracy_drop
) -> dict[str, Any]:
    """Accuracy and macro F1 over the window's predictions that have a true label, against the
    baseline in the manifest; "alert" when accuracy falls more than ``max_drop`` below it, "warn"
    past half of that (the default is ``Thresholds.accuracy_drop``).

    This reads every fed-back label; :func:`count_log_window` joins them with its chunks instead.
    """
    connection = _connect(Path(log_path))
    try:
        labels = {
            (rid, row): label for rid, row, label in connection.execute("SELECT request_id, row, label FROM feedback")
        }
    finally:
        connection.close()
    confusion: Counter[tuple[str, str]] = Counter()
    for request_id, row, label in zip(window.request_ids, window.row_numbers, window.labels or []):
        true_label = labels.get((request_id, row))
        if true_label is not None and label is not None:
            confusion[(true_label, str(label))] += 1
    return _accuracy(confusion, manifest, max_drop=max_drop)


def _accuracy(confusion: Mapping[tuple[str, str], int], manifest: Manifest, *, max_drop: float) -> dict[str, Any]:
    """The accuracy report from the count of each (true, predicted) label pair."""
    baseline_accuracy = manifest.metrics.accuracy
    labelled = sum(confusion.values())
    report: dict[str, Any] = {
        "labelled_rows": labelled,
        "baseline_accuracy": baseline_accuracy,
        "baseline_macro_f1": manifest.metrics.macro_f1,
        "max_drop": max_drop,
    }
    if labelled < MIN_LABELLED_ROWS or baseline_accuracy is None:
        report.update(
            status=INSUFFICIENT,
            note=f"too few labelled predictions to judge ({labelled} < {MIN_LABELLED_ROWS})"
            if baseline_accuracy is not None
            else "the manifest records no baseline accuracy",
        )
        return report
    accuracy = sum(n for (true, predicted), n in confusion.items() if true == predicted) / labelled
    drop = float(baseline_accuracy) - accuracy
    report.update(
        accuracy=accuracy,
        macro_f1=_macro_f1(confusion, [str(c) for c in manifest.classes or ()]),
        drop=drop,
        status="alert" if drop > max_drop else "warn" if drop > max_drop / 2 else "ok",
    )
    return report


def report_log_window(counts: LogWindowCounts, *, thresholds: Thresholds | None = None) -> dict[str, Any]:
    """The whole drift report over a counted log window (see :func:`drift_from_log`)."""
    manifest = counts.drift.manifest
    if counts.rows == 0:
        return {
            "model": manifest.name,
            "version": manifest.version,
            "rows": 0,
            "status": "no data",
            "source": counts.source,
        }
    report = drift_report_from(counts.drift, thresholds=thresholds)
    if manifest.is_classifier:
        report.accuracy = _accuracy(counts.confusion, manifest, max_drop=report.thresholds.accuracy_drop)
        report.status = worst([report.status, report.accuracy["status"]])
    return report.to_dict() | {"source": counts.source}


def drift_from_log(
    path: str | Path,
    manifest: Manifest,
    *,
    since_s: float | None = None,
    last: int | None = None,
    thresholds: Thresholds | None = None,
    max_rows: int = MAX_WINDOW_ROWS,
) -> dict[str, Any]:
    """The whole drift report over a window of the log, as the CLI prints it and the server serves it.

    The window is the ``last`` most recent predictions of this model (of the last ``since_s``
    seconds), at most ``max_rows`` of them (``ValueError`` for a larger ``last``), read and counted
    in chunks: memory does not grow with the window. Status is the worst of the columns, the
    predictions and (with fed-back labels) accuracy; ``"no data"`` when the window holds no
    prediction of this model.
    """
    counts = count_log_window(path, manifest, since_s=since_s, last=last, max_rows=max_rows)
    return report_log_window(counts, thresholds=thresholds)
