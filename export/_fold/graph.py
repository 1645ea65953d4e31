"""The device graph: one packed ``[N, k]`` double input straight into the folded ``TreeEnsemble``.

It starts from the public graph's tree part (:func:`export._trees.tree_ensemble_model`, the same
leaves, averaging and link function) and rewrites only the split nodes: each split on a folded
model input becomes a split on a slot of the packed input (a raw number, its negation, or a
category's indicator) with the folded threshold, branches swapped where the negated column is used,
no missing-value tracks, every node ``BRANCH_LEQ``. The float32 casts before the trees are dropped:
the fold already includes them (see :mod:`.thresholds`).

A branch kept as nodes (:mod:`.kept`) computes its outputs from the packed input; the trees then
read ``Concat(packed, kept outputs...)``, and a split on a kept output keeps its threshold and its
missing-value track.

Slots are laid out column by column in the manifest's order (value, negation, then indicators in
category order, each category column's indicators adjacent), and only the slots some split or kept
branch reads exist.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import onnx.helper
from onnx import TensorProto, numpy_helper

from .. import _trees
from .._errors import ConversionError
from .kept import KeptNodes, kept_nodes
from .onehot import indicator_splits
from .plan import CodeSource, FoldPlan, IndicatorSource, KeptSource, NumberSource
from .routing import ThresholdRule, number_splits

__all__ = ["PACKED_INPUT", "PackedLayout", "device_graph"]

PACKED_INPUT = "packed"
TREE_INPUT = "tree_input"
_CASTS = ("as_float32", "as_double")
SlotKey = tuple[str, str, str]  # (column, "value" | "negated" | "indicator" | "code", category or "")
KEPT = "kept"  # a SlotKey (str(branch), KEPT, str(output)) names a kept branch's output, not a slot


@dataclass
class PackedLayout:
    """Column -> its slots: ``value`` and ``negated`` for numbers; ``categories`` (value -> indicator
    slot) and ``code`` (with ``codes``, value -> code, and ``unknown_code``) for categories."""

    width: int = 0
    columns: dict[str, dict[str, Any]] = field(default_factory=dict)


def _attributes(node: onnx.NodeProto) -> dict[str, Any]:
    return {attribute.name: onnx.helper.get_attribute_value(attribute) for attribute in node.attribute}


def _set(node: onnx.NodeProto, name: str, value: Any) -> None:
    for attribute in node.attribute:
        if attribute.name == name:
            attribute.CopyFrom(onnx.helper.make_attribute(name, value))
            return
    raise ConversionError(f"the TreeEnsemble node has no attribute {name!r}")


def _fold_splits(
    plan: FoldPlan, features: np.ndarray, thresholds: np.ndarray, rule: ThresholdRule
) -> tuple[list[SlotKey], np.ndarray, np.ndarray]:
    """Per split node: its packed slot, its new threshold, and whether its branches swap."""
    keys: list[SlotKey] = [("", "", "")] * len(features)
    folded = thresholds.copy()
    swap = np.zeros(len(features), dtype=bool)
    for feature in np.unique(features).tolist():
        nodes = np.flatnonzero(features == feature)
        source = plan.sources[feature]
        if isinstance(source, NumberSource):
            negated, folded[nodes] = number_splits(source, thresholds[nodes], rule)
            swap[nodes] = negated
            for node, is_negated in zip(nodes.tolist(), negated.tolist()):
                keys[node] = (source.column, "negated" if is_negated else "value", "")
        elif isinstance(source, IndicatorSource):
            folded[nodes] = indicator_splits(thresholds[nodes])
            for node in nodes.tolist():
                keys[node] = (source.column, "indicator", source.category)
        elif isinstance(source, CodeSource):  # the code itself is in the slot: threshold as it is
            for node in nodes.tolist():
                keys[node] = (source.column, "code", "")
        elif isinstance(source, KeptSource):  # computed by the branch's own nodes: threshold as it is
            for node in nodes.tolist():
                keys[node] = (str(source.branch), KEPT, str(source.output))
        else:
            raise ConversionError(f"model input {feature} has no folded source")
    return keys, folded, swap


def _layout(keys: list[SlotKey], plan: FoldPlan, column_order: list[str]) -> tuple[PackedLayout, dict[SlotKey, int]]:
    """Slot numbers for the keys in use (and the value of every kept branch's column), column by column."""
    used = set(keys) | {(column, "value", "") for branch in plan.kept for column in branch.columns}
    categories: dict[str, list[IndicatorSource]] = {}
    codes: dict[str, CodeSource] = {}
    for source in plan.sources:
        if isinstance(source, IndicatorSource):
            categories.setdefault(source.column, []).append(source)
        elif isinstance(source, CodeSource):
            codes[source.column] = source
    layout, slots = PackedLayout(), {}
    for column in column_order:
        entry: dict[str, Any] = {}
        for kind in ("value", "negated"):
            if (column, kind, "") in used:
                slots[(column, kind, "")] = entry[kind] = layout.width
                layout.width += 1
        for source in categories.get(column, []):
            key = (column, "indicator", source.category)
            if key in used:
                slots[key] = layout.width
                entry.setdefault("categories", {})[source.category] = layout.width
                if source.missing_as == source.category:
                    entry["categories"][""] = layout.width  # a missing category is imputed with this one
                layout.width += 1
        code = codes.get(column)
        if code is not None and (column, "code", "") in used:  # after the indicators: the slots stay adjacent
            slots[(column, "code", "")] = entry["code"] = layout.width
            entry["codes"] = dict(code.codes)
            if code.missing_as is not None:  # a missing category is imputed with this one
                entry["codes"][""] = code.codes.get(code.missing_as, code.unknown)
            entry["unknown_code"] = code.unknown
            layout.width += 1
        if entry:
            layout.columns[column] = entry
    return layout, slots


def device_graph(
    estimator: Any, plan: FoldPlan, column_order: list[str], rule: ThresholdRule = "exact"
) -> tuple[onnx.ModelProto, PackedLayout]:
    """The folded, packed model of ``estimator`` under ``plan``, and the layout of its input."""
    model = _trees.tree_ensemble_model(estimator, len(plan.sources), PACKED_INPUT)
    graph = model.graph
    kept = [node for node in graph.node if node.name not in _CASTS]
    del graph.node[:]
    graph.node.extend(kept)
    trees = next(node for node in graph.node if node.op_type == "TreeEnsemble")
    trees.input[0] = PACKED_INPUT
    attributes = _attributes(trees)
    features = np.asarray(attributes["nodes_featureids"], dtype=np.int64)
    thresholds = numpy_helper.to_array(attributes["nodes_splits"]).astype(np.float64)
    true_ids, false_ids = list(attributes["nodes_truenodeids"]), list(attributes["nodes_falsenodeids"])
    true_leafs, false_leafs = list(attributes["nodes_trueleafs"]), list(attributes["nodes_falseleafs"])
    # a tree that is one leaf is written as a split whose branches both reach it: any slot will do
    real = ~((np.asarray(true_ids) == np.asarray(false_ids)) & (np.asarray(true_leafs) == np.asarray(false_leafs)))
    keys, folded, swap = _fold_splits(plan, features[real], thresholds[real], rule)
    layout, slots = _layout(keys, plan, column_order)
    if not layout.width:
        raise ConversionError("no tree splits on any input: there is nothing to fold")
    float32 = type(estimator).__name__ in _trees.FLOAT32_INPUT
    kept = [
        kept_nodes(branch, index, PACKED_INPUT, [slots[(column, "value", "")] for column in branch.columns], float32)
        for index, branch in enumerate(plan.kept)
    ]
    offsets = np.cumsum([layout.width] + [branch.width for branch in plan.kept]).tolist()
    for index in range(len(plan.kept)):
        slots.update(
            {(str(index), KEPT, str(output)): offsets[index] + output for output in range(plan.kept[index].width)}
        )
    new_features = np.zeros(len(features), dtype=np.int64)
    new_features[real] = [slots[key] for key in keys]
    new_thresholds = thresholds.copy()
    new_thresholds[real] = folded
    swapped = np.zeros(len(features), dtype=bool)
    swapped[real] = swap
    for index in np.flatnonzero(swapped).tolist():
        true_ids[index], false_ids[index] = false_ids[index], true_ids[index]
        true_leafs[index], false_leafs[index] = false_leafs[index], true_leafs[index]
    _set(trees, "nodes_featureids", new_features.tolist())
    _set(trees, "nodes_splits", numpy_helper.from_array(new_thresholds))
    _set(trees, "nodes_truenodeids", true_ids)
    _set(trees, "nodes_falsenodeids", false_ids)
    _set(trees, "nodes_trueleafs", true_leafs)
    _set(trees, "nodes_falseleafs", false_leafs)
    # NaN reaches a split only on a kept output (packed slots are routed by the fold): keep its track
    tracks = np.zeros(len(features), dtype=np.int64)
    on_kept = np.zeros(len(features), dtype=bool)
    on_kept[real] = [key[1] == KEPT for key in keys]
    tracks[on_kept] = np.asarray(attributes.get("nodes_missing_value_tracks_true", tracks), dtype=np.int64)[on_kept]
    _set(trees, "nodes_missing_value_tracks_true", tracks.tolist())
    del graph.input[:]
    graph.input.append(onnx.helper.make_tensor_value_info(PACKED_INPUT, TensorProto.DOUBLE, [None, layout.width]))
    if kept:
        _wire_kept(model, trees, kept)
    graph.name = "device"
    return model, layout


def _wire_kept(model: onnx.ModelProto, trees: onnx.NodeProto, kept: list[KeptNodes]) -> None:
    """Put the kept branches' nodes before the trees, which then read the packed slots and their outputs."""
    graph = model.graph
    concat = onnx.helper.make_node(
        "Concat", [PACKED_INPUT, *(part.output for part in kept)], [TREE_INPUT], "with_kept_outputs", axis=1
    )
    trees.input[0] = TREE_INPUT
    nodes = [node for part in kept for node in part.nodes] + [concat] + list(graph.node)
    del graph.node[:]
    graph.node.extend(nodes)
    for part in kept:
        graph.initializer.extend(part.initializers)
    versions = {opset.domain: opset.version for opset in model.opset_import}
    for part in kept:
        for domain, version in part.opsets.items():
            versions[domain] = max(versions.get(domain, 0), version)
    del model.opset_import[:]
    model.opset_import.extend(onnx.helper.make_opsetid(domain, version) for domain, version in sorted(versions.items()))
