"""factory-edge export stage: train a scikit-learn Pipeline, convert it to ONNX, prove parity, write a bundle.

Runs on the dev machine and needs the "export" extra: pip install ".[export]". The heavy libraries
are imported on first use, so ``python -m export --help`` and the error for a missing extra work
without them.

>>> from export import ExportConfig, run_export
>>> result = run_export(ExportConfig())  # doctest: +SKIP
>>> result.bundle  # doctest: +SKIP
PosixPath('models/quality/1.0.0')
"""

from __future__ import annotations

from typing import Any

from ._errors import BudgetError, ExportError, ParityError

__all__ = ["BudgetError", "ExportConfig", "ExportError", "ExportResult", "ParityError", "check_bundle", "run_export"]


def __getattr__(name: str) -> Any:
    if name in ("ExportConfig", "ExportResult"):
        from . import _config

        return getattr(_config, name)
    if name == "run_export":
        from ._job import run_export

        return run_export
    if name == "check_bundle":
        from ._check import check_bundle

        return check_bundle
    raise AttributeError(f"module 'export' has no attribute {name!r}")
