"""The benchmark's errors, rooted in built-ins so callers' ``except`` clauses keep working.

::

    BenchmarkError                      base of everything below
    ├── SetupError(ValueError)          the bundle, its joblib twin or an option is unusable (exit 2)
    └── MeasurementError(RuntimeError)  a measurement could not be taken, e.g. a probe process failed (exit 3)
"""

from __future__ import annotations

__all__ = ["BenchmarkError", "MeasurementError", "SetupError"]


class BenchmarkError(Exception):
    """Base of the benchmark's own errors."""


class SetupError(BenchmarkError, ValueError):
    """The run cannot start: a missing joblib twin, a twin from another export, an unreadable notes file."""


class MeasurementError(BenchmarkError, RuntimeError):
    """A measurement failed while running, e.g. a cold-start probe process exited with an error."""
