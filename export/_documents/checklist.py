"""The deployment checklist (``deployment_checklist.md``): each item ticked only when the export's
results or the bundle's files prove it, with the evidence beside it; nothing is ticked by hand.

It is written on the staging folder after every machine-readable file is in it, so it judges the
files actually on disk (a missing example, a model.onnx whose hash does not match, an unpinned
requirement unticks its item).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

from runtime._contract import MANIFEST_FILE, is_semver

from .._config import ExportResult
from .._format import format_bytes, format_number, gate_sentence
from ._facts import metric_rows, not_measured, parity_figures
from ._markup import MARKDOWN, capped

__all__ = ["CHECKS", "ChecklistItem", "checklist_items", "deployment_checklist"]


@dataclasses.dataclass(frozen=True)
class ChecklistItem:
    """One deployment requirement, whether the export met it, and the evidence either way."""

    title: str
    done: bool
    evidence: str


def _check_metrics(folder: Path, result: ExportResult) -> ChecklistItem:
    title, metrics = "Metrics recorded", result.metrics
    if not metrics:
        return ChecklistItem(title, False, "the export recorded no metrics")
    headline = ", ".join(f"{name} {value}" for name, value in metric_rows(metrics)[1:])
    rows = format_number(metrics.get("held_out_rows"))
    return ChecklistItem(title, True, f"{headline} on {rows} held-out rows")


def _check_gate(folder: Path, result: ExportResult) -> ChecklistItem:
    """Done only when the model beat the baseline; a gate overridden with --allow-weak is not done."""
    title, gate = "Quality gate", result.metrics.get("quality_gate")
    if not gate:
        return ChecklistItem(title, False, "no quality gate was run")
    return ChecklistItem(title, bool(gate["passed"]), gate_sentence(gate))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_bundle(folder: Path, result: ExportResult) -> ChecklistItem:
    title, manifest = "Bundle saved and versioned", result.manifest
    model = folder / manifest.model_file.path
    missing = [name for name in (manifest.model_file.path, MANIFEST_FILE) if not (folder / name).is_file()]
    if missing:
        return ChecklistItem(title, False, f"missing from the bundle: {', '.join(missing)}")
    if not is_semver(manifest.version):
        return ChecklistItem(title, False, f"version {manifest.version!r} is not semantic")
    if _sha256(model) != manifest.model_file.sha256:
        evidence = f"{model.name} does not match the sha256 in {MANIFEST_FILE}"
        return ChecklistItem(title, False, evidence)
    on_disk = format_bytes(model.stat().st_size)
    return ChecklistItem(
        title, True, f"{model.name} ({on_disk}, sha256 matches) and {MANIFEST_FILE}; version {manifest.version}"
    )


def _check_schema(folder: Path, result: ExportResult) -> ChecklistItem:
    title, path = "Input schema", folder / "input_schema.json"
    if not path.is_file():
        return ChecklistItem(title, False, "input_schema.json is missing")
    try:
        properties = json.loads(path.read_text(encoding="utf-8")).get("properties", {})
    except (ValueError, AttributeError):
        return ChecklistItem(title, False, "input_schema.json is not a JSON Schema object")
    absent = [c.name for c in result.manifest.inputs if c.name not in properties]
    if absent:
        evidence = f"input_schema.json lacks {capped(absent, 5, MARKDOWN)}"
        return ChecklistItem(title, False, evidence)
    return ChecklistItem(title, True, f"input_schema.json describes all {len(properties)} columns")


def _check_missing(folder: Path, result: ExportResult) -> ChecklistItem:
    title, columns = "Missing-value handling", result.manifest.inputs
    undecided = [c.name for c in columns if not isinstance(c.nullable, bool)]
    nullable = [c.name for c in columns if c.nullable is True]
    missing = result.parity.kinds.get("missing", {})
    cases = int(missing.get("cases", 0))
    if undecided:
        evidence = f"nullable not decided for {capped(undecided, 5, MARKDOWN)}"
        return ChecklistItem(title, False, evidence)
    if not nullable:
        evidence = "no column accepts missing values; the runtime refuses them"
        return ChecklistItem(title, True, evidence)
    agreement = (
        f"{format_number(missing.get('label_mismatches', 0))} label mismatches"
        if result.manifest.is_classifier
        else f"max |diff| {format_number(missing.get('max_abs_diff'), 3)}"
    )
    evidence = (
        f"{len(nullable)} of {len(columns)} columns nullable; "
        f"{format_number(cases)} missing-value parity cases, {agreement}"
    )
    return ChecklistItem(title, cases > 0, evidence)


def _check_ranges(folder: Path, result: ExportResult) -> ChecklistItem:
    title = "Range validation"
    numbers = [c for c in result.manifest.inputs if c.kind == "number"]
    unbounded = [c.name for c in numbers if c.valid_range is None]
    if unbounded:
        return ChecklistItem(title, False, f"no valid range for {capped(unbounded, 5, MARKDOWN)}")
    if not numbers:
        return ChecklistItem(title, True, "no number columns")
    sources = "; ".join(sorted({c.range_source or "unrecorded source" for c in numbers}))
    return ChecklistItem(title, True, f"all {len(numbers)} number columns have a valid range (from {sources})")


def _check_examples(folder: Path, result: ExportResult) -> ChecklistItem:
    title, names = "Example input and output", ("example_input.json", "example_output.json")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        return ChecklistItem(title, False, f"missing: {', '.join(missing)}")
    return ChecklistItem(title, True, " and ".join(names))


def _check_requirements(folder: Path, result: ExportResult) -> ChecklistItem:
    title, path = "Requirements with versions", folder / "requirements-device.txt"
    if not path.is_file():
        return ChecklistItem(title, False, "requirements-device.txt is missing")
    text = path.read_text(encoding="utf-8")
    pins = {
        name: re.search(rf"^{name}==(\S+)", text, re.MULTILINE | re.IGNORECASE) for name in ("numpy", "onnxruntime")
    }
    unpinned = [name for name, match in pins.items() if match is None]
    if unpinned:
        return ChecklistItem(title, False, f"requirements-device.txt does not pin {', '.join(unpinned)} with ==")
    pinned = ", ".join(f"{name}=={match.group(1)}" for name, match in pins.items() if match)
    return ChecklistItem(title, True, f"requirements-device.txt pins {pinned}")


def _check_performance(folder: Path, result: ExportResult) -> ChecklistItem:
    title, performance = "Memory and latency measured", result.manifest.performance
    latency, rss = performance.single_record_latency_us, performance.peak_rss_mb
    if latency is None or rss is None:
        return ChecklistItem(title, False, not_measured(result))
    machine = performance.machine or "machine not recorded"
    return ChecklistItem(title, True, f"p50 {latency.p50:.1f} µs, peak RSS {rss:.0f} MiB ({machine})")


def _check_parity(folder: Path, result: ExportResult) -> ChecklistItem:
    parity = result.parity
    done = parity.passed and parity.label_mismatches == 0
    figures = parity_figures(parity.summary(), result.manifest.task)
    decision = result.manifest.decision
    if decision is not None:  # the labels a device gives follow the threshold: proven around it too
        around = parity.kinds.get("decision-threshold", {})
        cases, mismatches = around.get("cases", 0), around.get("label_mismatches", 0)
        done = done and cases > 0 and mismatches == 0
        figures += (
            f"; labels under the decision threshold {decision.threshold:.6g}: {format_number(cases)} cases at and "
            f"around it, {format_number(mismatches)} mismatches"
        )
    return ChecklistItem("Parity proven", done, figures if done else f"FAILED: {figures}")


def _check_golden(folder: Path, result: ExportResult) -> ChecklistItem:
    title, cases = "Tests (golden cases)", result.manifest.golden_cases
    if not cases:
        return ChecklistItem(title, False, "the manifest holds no golden cases")
    kinds: dict[str, int] = {}
    for case in cases:
        kinds[case.kind] = kinds.get(case.kind, 0) + 1
    listed = ", ".join(f"{kind} {count}" for kind, count in kinds.items())
    return ChecklistItem(title, True, f"{len(cases)} golden cases ({listed}), replayed by runtime.load at every load")


CHECKS: tuple[Callable[[Path, ExportResult], ChecklistItem], ...] = (
    _check_metrics,
    _check_gate,
    _check_bundle,
    _check_schema,
    _check_missing,
    _check_ranges,
    _check_examples,
    _check_requirements,
    _check_performance,
    _check_parity,
    _check_golden,
)


def checklist_items(folder: Path, result: ExportResult) -> list[ChecklistItem]:
    """Judge every deployment requirement from ``result`` and the files in the bundle ``folder``."""
    return [check(folder, result) for check in CHECKS]


def deployment_checklist(folder: Path, result: ExportResult) -> str:
    """The checklist as Markdown task items: ``[x]`` only where there is proof, evidence beside."""
    items = checklist_items(folder, result)
    done = sum(item.done for item in items)
    title = f"{MARKDOWN.code(result.manifest.name)} {result.manifest.version}"
    intro = (
        "Computed by the export from its results and the files in this bundle; nothing here "
        f"is ticked by hand. {done} of {len(items)} done."
    )
    lines = [f"# Deployment checklist: {title}", "", intro, ""]
    lines += [f"- [{'x' if item.done else ' '}] **{item.title}**: {item.evidence}" for item in items]
    return "\n".join(lines) + "\n"
