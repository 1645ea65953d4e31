"""Predictions written to a log as the server writes them: one helper for the monitoring tests."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import runtime
from runtime._monitor.predictlog import LogEntry, PredictionLog


def log_predictions(
    model: runtime.Model, path: Path, records: Sequence[Mapping[str, Any]], *, per_request: int = 100
) -> dict[tuple[str, int], Any]:
    """Predict ``records`` in requests of ``per_request`` rows and log each request through the real
    writer; returns what was predicted (label, or value for a regressor) by (request id, row)."""
    predicted: dict[tuple[str, int], Any] = {}
    log = PredictionLog(path)
    try:
        for start in range(0, len(records), per_request):
            chunk = [dict(record) for record in records[start : start + per_request]]
            result = model.predict_batch(chunk)
            request_id = f"req-{start // per_request}"
            outputs = result.labels if result.labels is not None else result.values
            assert outputs is not None
            entry = LogEntry(
                request_id=request_id,
                epoch=time.time(),
                endpoint="/v1/predict",
                status=200,
                model=model.name,
                version=model.version,
                latency_ms=1.0,
                inputs=chunk,
                classes=model.classes,
                labels=result.labels.tolist() if result.labels is not None else None,
                probabilities=result.probabilities.tolist() if result.probabilities is not None else None,
                values=result.values.tolist() if result.values is not None else None,
            )
            assert log.submit(entry).result(timeout=10) == "written"
            predicted.update({(request_id, row): value for row, value in enumerate(outputs.tolist())})
    finally:
        log.close()
    return predicted
