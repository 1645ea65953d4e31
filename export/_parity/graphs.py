"""One parity proof over several graphs of one bundle: the same cases on each, one report.

The public ``model.onnx`` and the device graph must both agree with scikit-learn on every case;
the report's figures are the worst over the graphs (mismatches summed), each failing case says
which graph it failed on, and ``graphs`` keeps each graph's own figures for ``parity.json``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from .._config import ParityReport

__all__ = ["merge_reports"]


def _merged_kinds(reports: list[ParityReport]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for report in reports:
        for kind, row in report.kinds.items():
            if kind not in kinds:
                kinds[kind] = dict(row)
                continue
            merged = kinds[kind]
            merged["label_mismatches"] += row["label_mismatches"]
            if "max_abs_diff" in row:
                merged["max_abs_diff"] = max(merged["max_abs_diff"], row["max_abs_diff"])
    return kinds


def _figures(report: ParityReport) -> dict[str, Any]:
    return {
        "passed": report.passed,
        "label_mismatches": report.label_mismatches,
        "max_abs_diff": report.max_abs_diff,
        "cases": report.total_cases,
    }


def merge_reports(reports: Mapping[str, ParityReport], golden_graph: str) -> ParityReport:
    """The reports of each graph (file name -> report, on the same case sets) as one."""
    items = list(reports.values())
    first = items[0]
    worst = [{**case, "graph": name} for name, report in reports.items() for case in report.worst]
    worst.sort(key=lambda case: (not case["failed"], -case["abs_diff"]))
    names = list(reports)
    return dataclasses.replace(
        first,
        passed=all(report.passed for report in items),
        kinds=_merged_kinds(items),
        worst=worst[: max(len(report.worst) for report in items)],
        label_mismatches=sum(report.label_mismatches for report in items),
        max_abs_diff=max(report.max_abs_diff for report in items),
        notes=[*first.notes, f"every case ran on each of {names}: the figures are the worst over them"],
        golden=list(reports[golden_graph].golden),
        graphs={name: _figures(report) for name, report in reports.items()},
        golden_graph=golden_graph,
    )
