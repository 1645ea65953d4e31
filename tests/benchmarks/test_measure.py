"""The measurement helpers that hold no timing logic: repeats per batch size and thread control."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

pytest.importorskip(
    "benchmarks",
    reason='benchmarks/ is not an installed package: run the tests from the repository root with "python -m pytest"',
)

from benchmarks._measure import batch_repeats, estimator_n_jobs, sklearn_threads  # noqa: E402
from benchmarks._run import DEFAULT, QUICK  # noqa: E402


@pytest.mark.parametrize(
    ("rows", "expected"),
    [(1, 50), (1_000, 50), (10_000, 30), (100_000, 5)],
)
def test_default_repeats_shrink_with_batch_size(rows, expected):
    assert DEFAULT.batch_repeats(rows) == expected


def test_batch_repeats_stay_within_bounds():
    assert batch_repeats(10, 1_000, 2, 10) == 10
    assert batch_repeats(1_000_000, 1_000, 2, 10) == 2
    assert QUICK.batch_sizes == (1, 100, 10_000)


def _pipeline(n_jobs: int | None = -1) -> SimpleNamespace:
    estimator = SimpleNamespace() if n_jobs is None else SimpleNamespace(n_jobs=n_jobs)
    return SimpleNamespace(steps=[("preprocess", object()), ("model", estimator)])


def test_n_jobs_is_set_for_the_duration_and_restored():
    pipeline = _pipeline(-1)
    with estimator_n_jobs(pipeline, 1) as has_n_jobs:
        assert has_n_jobs and pipeline.steps[-1][1].n_jobs == 1
    assert pipeline.steps[-1][1].n_jobs == -1
    with estimator_n_jobs(pipeline, None):
        assert pipeline.steps[-1][1].n_jobs == -1


def test_n_jobs_is_restored_after_an_error():
    pipeline = _pipeline(-1)
    with pytest.raises(RuntimeError), estimator_n_jobs(pipeline, 2):
        raise RuntimeError("boom")
    assert pipeline.steps[-1][1].n_jobs == -1


def test_sklearn_threads_says_how_threads_were_controlled():
    pipeline = _pipeline(-1)
    with sklearn_threads(pipeline, 2) as how:
        assert pipeline.steps[-1][1].n_jobs == 2
        assert how.startswith("SimpleNamespace.n_jobs = 2")
    assert pipeline.steps[-1][1].n_jobs == -1
    with sklearn_threads(_pipeline(None), 1) as how:
        assert "n_jobs" not in how
