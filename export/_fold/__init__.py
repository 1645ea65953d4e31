"""The device graph: the Pipeline's preprocessing folded into its trees, fed one packed input.

:func:`fold_pipeline` plans the fold (:mod:`.plan`), rewrites the trees (:mod:`.graph`, with
:mod:`.thresholds`, :mod:`.routing` and :mod:`.onehot`) and returns the graph's bytes with the
manifest section that tells the runtime how to pack a row, or no graph and the reasons (the steps
that can neither be folded exactly nor kept as nodes). Number branches that do not fold keep their
nodes in the device graph (:mod:`.kept`); the section lists which steps were folded and which kept.
The export proves the graph like the public one, by the full parity proof against scikit-learn,
before it ships it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sklearn.pipeline import Pipeline

import runtime
from runtime._contract import DEVICE_MODEL_FILE

from .._config import TableSpec
from .._convert import IR_VERSION
from .._errors import ConversionError
from .graph import PackedLayout, device_graph
from .plan import plan_fold
from .routing import ThresholdRule

__all__ = ["FoldedGraph", "fold_pipeline"]


@dataclass(frozen=True)
class FoldedGraph:
    """The device graph's bytes and manifest section, or None and why not; the steps folded and kept."""

    onnx_bytes: bytes | None
    section: runtime.DeviceGraph | None
    folded: tuple[str, ...] = ()
    not_folded: tuple[str, ...] = ()
    kept: tuple[str, ...] = ()


def _section(
    layout: PackedLayout, onnx_bytes: bytes, folded: tuple[str, ...], kept: tuple[str, ...]
) -> runtime.DeviceGraph:
    return runtime.DeviceGraph(
        file=runtime.FileSpec(DEVICE_MODEL_FILE, hashlib.sha256(onnx_bytes).hexdigest(), len(onnx_bytes)),
        width=layout.width,
        columns={
            name: runtime.DeviceColumn(
                value=entry.get("value"),
                negated=entry.get("negated"),
                categories=entry.get("categories", {}),
                code=entry.get("code"),
                codes=entry.get("codes", {}),
                unknown_code=entry.get("unknown_code", 0.0),
            )
            for name, entry in layout.columns.items()
        },
        folded=folded,
        kept=kept,
    )


def fold_pipeline(pipeline: Pipeline, spec: TableSpec, *, rule: ThresholdRule = "exact") -> FoldedGraph:
    """The device graph of a fitted Pipeline, or why there is none.

    ``rule="naive"`` folds thresholds as ``mean + t * scale``; it is wrong, and exists only for the
    test proving that the parity proof refuses it.
    """
    plan = plan_fold(pipeline, spec)
    estimator = pipeline.steps[-1][1]
    n_features = getattr(estimator, "n_features_in_", None)
    if plan.complete and n_features != len(plan.sources):
        plan.not_folded.append(f"preprocessing: {len(plan.sources)} outputs planned, the model takes {n_features}")
    if not plan.complete:
        return FoldedGraph(None, None, tuple(plan.folded), tuple(plan.not_folded))
    try:
        model, layout = device_graph(estimator, plan, list(spec.features), rule)
    except ConversionError as error:
        return FoldedGraph(None, None, tuple(plan.folded), (str(error),))
    model.ir_version = IR_VERSION
    onnx_bytes = model.SerializeToString()
    folded, kept = tuple(plan.folded), tuple(plan.kept_steps)
    return FoldedGraph(onnx_bytes, _section(layout, onnx_bytes, folded, kept), folded, kept=kept)
