"""Export-side errors, completing the tree of :class:`runtime.FactoryEdgeError` (drawn in the runtime).

::

    runtime.FactoryEdgeError
    ├── ExportError(ValueError)         the export was asked for something it cannot do (bad option, data)
    │   ├── BudgetError                 the bundle misses the device budget: nothing is made current
    │   ├── WeakModelError              the model does not beat the baseline by the quality gate's margin
    │   ├── DataRefusedError            the column checks found an ID-like or leaking column: nothing is trained
    │   └── InterfaceChangedError       the interface differs from the current version's: nothing is made current
    ├── ConversionError(RuntimeError)   a Pipeline step skl2onnx cannot convert; the message names it
    └── ParityError(RuntimeError)       scikit-learn and onnxruntime disagree: nothing is made current
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime import FactoryEdgeError

from ._format import gate_sentence

if TYPE_CHECKING:
    from ._config import ParityReport

__all__ = [
    "BudgetError",
    "ConversionError",
    "DataRefusedError",
    "ExportError",
    "InterfaceChangedError",
    "ParityError",
    "WeakModelError",
]


class ExportError(FactoryEdgeError, ValueError):
    """The export cannot run as asked; the message says what to change."""


class BudgetError(ExportError):
    """The measured memory or latency exceeds the device budget given to the export."""


class WeakModelError(ExportError):
    """The quality gate failed (``export._gate``): nothing was exported, ``CURRENT`` did not move.

    ``gate`` is the gate's record, as ``metrics.quality_gate`` would have held it.
    """

    def __init__(self, gate: dict[str, Any]) -> None:
        super().__init__(
            f"quality gate {gate_sentence(gate)}; nothing was exported and CURRENT was not changed: check the "
            "target and the --drop columns, or pass --allow-weak to export it anyway"
        )
        self.gate = gate


class DataRefusedError(ExportError):
    """The column checks found a hard case (an ID-like or leaking column); the message names each
    column with the ``--drop`` that fixes it. ``findings`` are the refused :class:`Finding` objects."""

    def __init__(self, message: str, findings: Sequence[Any] = ()) -> None:
        super().__init__(message)
        self.findings = list(findings)


class InterfaceChangedError(ExportError):
    """The export's task, target, classes or input columns differ from the model's current version."""

    def __init__(self, message: str, changes: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.changes = list(changes)


class ConversionError(FactoryEdgeError, RuntimeError):
    """A Pipeline step skl2onnx cannot convert; the message names the step."""


def _describe(case: dict[str, Any]) -> str:
    where = f"{case['graph']} " if "graph" in case else ""
    if "expected_label" in case:
        return (
            f"{where}{case['kind']}: {case['inputs']} -> scikit-learn {case['expected_label']!r} "
            f"{[round(p, 9) for p in case['expected']]}, onnxruntime {case['got_label']!r} "
            f"{[round(p, 9) for p in case['got']]} (|diff| {case['abs_diff']:.3g})"
        )
    return (
        f"{where}{case['kind']}: {case['inputs']} -> scikit-learn {case['expected']!r}, onnxruntime {case['got']!r} "
        f"(relative diff {case['abs_diff']:.3g})"
    )


class ParityError(FactoryEdgeError, RuntimeError):
    """scikit-learn and the device path disagree beyond tolerance; the bundle was not made current."""

    def __init__(self, report: ParityReport, report_path: Path | None = None) -> None:
        failed = [case for case in report.worst if case.get("failed")]
        lines = [
            f"parity failed: {report.mismatch_phrase}largest difference "
            f"{report.max_abs_diff:.3g} (tolerance {report.tolerance:g}) over {report.total_cases:,} cases; "
            "the current version was not changed. Worst cases:"
        ]
        lines += [f"  {_describe(case)}" for case in failed[:5]]
        if report_path is not None:
            lines.append(f"full parity report: {report_path}")
        super().__init__("\n".join(lines))
        self.report = report
        self.report_path = report_path
