"""Branches that do not fold keep their nodes: each runs in the device graph on its packed slots.

A kept branch (see :mod:`.plan`) is converted by skl2onnx as the public graph converts it, over one
``[N, columns]`` double input, and wired into the device graph: a ``Gather`` takes its columns'
value slots from the packed input (NaN where a value is missing, as the public graph's inputs hold
it), its nodes compute its outputs, and for ``sklearn.tree`` models the float32 cast the trees
compare with follows. The outputs are appended after the packed slots in the tensor the trees read.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx
import onnx.compose
import onnx.helper
from onnx import TensorProto, numpy_helper
from skl2onnx.common.data_types import DoubleTensorType
from sklearn.pipeline import Pipeline

from .._convert import _convert, scaler_options
from .plan import KeptBranch

__all__ = ["KeptNodes", "kept_nodes"]


@dataclass
class KeptNodes:
    """One kept branch in the device graph: its nodes, initializers, opsets and output name."""

    nodes: list[onnx.NodeProto]
    initializers: list[onnx.TensorProto]
    opsets: dict[str, int]
    output: str


def kept_nodes(branch: KeptBranch, index: int, packed: str, slots: list[int], float32: bool) -> KeptNodes:
    """The nodes computing ``branch`` from ``packed`` (its columns at ``slots``), ending in its
    ``[N, width]`` output as the trees compare it."""
    prefix = f"kept{index}_"
    transformer = branch.transformer
    model = _convert(
        transformer,
        [("x", DoubleTensorType([None, len(slots)]))],
        scaler_options(transformer),
        transformer if isinstance(transformer, Pipeline) else Pipeline([(branch.name, transformer)]),
        final_types=[("y", DoubleTensorType([None, branch.width]))],
    )
    model = onnx.compose.add_prefix(model, prefix)
    indices = numpy_helper.from_array(np.asarray(slots, dtype=np.int64), f"{prefix}slots")
    nodes = [onnx.helper.make_node("Gather", [packed, indices.name], [f"{prefix}x"], f"{prefix}gather", axis=1)]
    nodes += list(model.graph.node)
    output = f"{prefix}y"
    if float32:
        nodes.append(
            onnx.helper.make_node("Cast", [output], [f"{prefix}y32"], f"{prefix}as_float32", to=TensorProto.FLOAT)
        )
        nodes.append(
            onnx.helper.make_node(
                "Cast", [f"{prefix}y32"], [f"{prefix}compared"], f"{prefix}as_double", to=TensorProto.DOUBLE
            )
        )
        output = f"{prefix}compared"
    opsets = {opset.domain: opset.version for opset in model.opset_import}
    return KeptNodes(nodes, [indices, *model.graph.initializer], opsets, output)
