"""The single-record path reuses per-thread input buffers: concurrent callers must not mix records."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import runtime

BASE = {
    "temperature": 201.5,
    "pressure": 48.0,
    "speed": 101.0,
    "humidity": 45.0,
    "vibration": 0.8,
    "machine_type": "B",
    "shift": "night",
}


def test_concurrent_predictions_match_sequential_ones(shipped_bundle):
    model = runtime.load(shipped_bundle)
    records = [
        {**BASE, "temperature": 150.0 + i % 100, "vibration": 0.3 + (i % 40) / 10, "machine_type": "ABC"[i % 3]}
        for i in range(300)
    ]
    expected = [model.predict(record).probabilities for record in records]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for _ in range(3):
            got = list(pool.map(lambda record: model.predict(record).probabilities, records))
            assert got == expected
    batch = model.predict_batch(records)
    assert [dict(zip(model.classes, row)) for row in batch.probabilities.tolist()] == expected
