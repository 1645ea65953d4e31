"""scikit-learn Pipeline -> ONNX, built to reproduce scikit-learn's arithmetic.

Why the graph looks the way it does (see shared/KNOWLEDGE.md and skl2onnx issues #1183, #958):

- One graph input per column, named as the column: numbers as ``double``, categories as ``string``.
- The preprocessing runs in float64, as scikit-learn's does: the median imputer is ``IsNaN`` +
  ``Where`` with float64 medians (skl2onnx's own converter rounds them to float32), and the scaler
  uses ``Sub`` + ``Div`` (skl2onnx's ``div`` option) instead of a multiply by the reciprocal.
- Tree ensembles are written by :mod:`export._trees` as the standard float64 ``TreeEnsemble``
  operator with scikit-learn's own thresholds and leaf values (see there why). Other estimators
  (linear models, ...) are converted by skl2onnx from float64 features, as they compute in float64.
- No ZipMap: probabilities come out as one [N, classes] tensor.

Nothing here writes files: :func:`convert` returns the bytes of ``model.onnx`` and the graph's shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import onnx
import onnx.compose
import onnx.helper
import pandas as pd
from onnx import TensorProto
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
from skl2onnx.operator_converters.common import concatenate_variables
from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from . import _trees
from ._config import ConvertedModel, TableSpec
from ._errors import ConversionError

__all__ = ["ConversionError", "OPSETS", "convert", "describe_onnx", "to_onnx"]

# Opsets asked of skl2onnx for the preprocessing and non-tree estimators (it may use lower ones);
# tree ensembles come from export._trees at ai.onnx.ml 5. Fixed so the same Pipeline gives the
# same bytes.
OPSETS = {"": 18, "ai.onnx.ml": 3}
# The lowest IR version that carries ai.onnx.ml opset 5; onnx.helper stamps its newest (14 with onnx
# 1.23), which onnxruntime 1.23 (the last release with Python 3.10 wheels, max IR 11) refuses.
IR_VERSION = 10
FEATURES = "features"


def _double_imputer(scope: Any, operator: Any, container: Any) -> None:
    """SimpleImputer on float64 input, keeping float64 statistics (skl2onnx's casts to float32)."""
    imputer = operator.raw_operator
    if not isinstance(operator.inputs[0].type, DoubleTensorType) or imputer.strategy == "constant":
        convert_sklearn_imputer(scope, operator, container)
        return
    if not (isinstance(imputer.missing_values, float) and np.isnan(imputer.missing_values)):
        raise ConversionError(f"SimpleImputer(missing_values={imputer.missing_values!r}) on numbers: use NaN")
    stacked = concatenate_variables(scope, operator.inputs, container)
    statistics = scope.get_unique_variable_name("imputer_statistics")
    container.add_initializer(
        statistics, TensorProto.DOUBLE, [1, len(imputer.statistics_)], imputer.statistics_.astype(np.float64).tolist()
    )
    is_missing = scope.get_unique_variable_name("is_missing")
    container.add_node("IsNaN", [stacked], [is_missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where",
        [is_missing, statistics, stacked],
        [operator.outputs[0].full_name],
        name=scope.get_unique_operator_name("Where"),
    )


_CUSTOM_CONVERTERS = {SimpleImputer: _double_imputer}


def _walk(estimator: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path or type(estimator).__name__, estimator
    if isinstance(estimator, Pipeline):
        for name, step in estimator.steps:
            yield from _walk(step, f"{path}/{name}" if path else name)
    elif isinstance(estimator, ColumnTransformer):
        for name, transformer, _ in getattr(estimator, "transformers_", estimator.transformers):
            if isinstance(transformer, BaseEstimator):
                yield from _walk(transformer, f"{path}/{name}" if path else name)


def scaler_options(preprocess: Any) -> dict[int, Any]:
    """skl2onnx options for every StandardScaler in ``preprocess``: ``Sub`` + ``Div``, as scikit-learn
    computes it (see the module docstring)."""
    return {id(part): {"div": "div"} for _, part in _walk(preprocess) if isinstance(part, StandardScaler)}


def _convert(
    estimator: Any, initial_types: list[Any], options: dict[int, Any], where: Pipeline, **kwargs: Any
) -> onnx.ModelProto:
    try:
        model: onnx.ModelProto = convert_sklearn(
            estimator,
            initial_types=initial_types,
            target_opset=OPSETS,
            options=options,
            custom_conversion_functions=_CUSTOM_CONVERTERS,
            **kwargs,
        )
        return model
    except ConversionError:
        raise
    except Exception as error:
        text = str(error)
        for step, part in _walk(where):
            if type(part).__name__ in text and not isinstance(part, (Pipeline, ColumnTransformer)):
                raise ConversionError(
                    f"step {step!r} ({type(part).__name__}) cannot be converted to ONNX by skl2onnx: "
                    f"{text.splitlines()[0]}. Replace the step or register a converter for it."
                ) from error
        raise ConversionError(f"skl2onnx could not convert the Pipeline: {text.splitlines()[0]}") from error


def _unify_opsets(*models: onnx.ModelProto) -> None:
    versions: dict[str, int] = {}
    for model in models:
        for opset in model.opset_import:
            versions[opset.domain] = max(versions.get(opset.domain, 0), opset.version)
    ir_version = max(model.ir_version for model in models)
    for model in models:
        del model.opset_import[:]
        model.opset_import.extend(onnx.helper.make_opsetid(domain, v) for domain, v in sorted(versions.items()))
        model.ir_version = ir_version


def _unsupported_steps(pipeline: Pipeline) -> None:
    from skl2onnx._supported_operators import sklearn_operator_name_map

    for step, part in _walk(pipeline):
        if isinstance(part, (Pipeline, ColumnTransformer)):
            continue
        if type(part) not in sklearn_operator_name_map:
            raise ConversionError(
                f"step {step!r} ({type(part).__name__}) cannot be converted to ONNX by skl2onnx: "
                "it has no registered converter. Replace the step or register a converter for it."
            )


def convert(pipeline: Pipeline, spec: TableSpec, sample: pd.DataFrame) -> ConvertedModel:
    """The fitted Pipeline as the bytes of ``model.onnx``, and a description of the graph.

    ``sample`` is a few rows of prepared features: the preprocessing's output width is read from them.
    """
    n_features = int(np.asarray(pipeline[:-1].transform(sample.iloc[:2])).shape[1])
    model = to_onnx(pipeline, spec, n_features)
    return ConvertedModel(model.SerializeToString(), describe_onnx(model))


def to_onnx(pipeline: Pipeline, spec: TableSpec, n_features: int) -> onnx.ModelProto:
    """Convert a fitted ``Pipeline([..., ("model", estimator)])`` into one ONNX graph.

    ``n_features`` is the width of the preprocessing's output (the estimator's input).
    """
    _unsupported_steps(pipeline)
    preprocess = Pipeline(pipeline.steps[:-1]) if len(pipeline.steps) > 1 else None
    estimator = pipeline.steps[-1][1]
    inputs = [(name, DoubleTensorType([None, 1])) for name in spec.numeric]
    inputs += [(name, StringTensorType([None, 1])) for name in spec.categorical]
    if preprocess is None:
        raise ConversionError("the Pipeline needs a preprocessing step before the estimator (one input per column)")

    pre_model = _convert(
        preprocess,
        inputs,
        scaler_options(preprocess),
        pipeline,
        final_types=[(FEATURES, DoubleTensorType([None, n_features]))],
    )
    if _trees.supports(estimator):
        model_part = _trees.tree_ensemble_model(estimator, n_features, FEATURES)
    else:
        estimator_options = {id(estimator): {"zipmap": False}} if hasattr(estimator, "predict_proba") else {}
        model_part = _convert(
            estimator, [(FEATURES, DoubleTensorType([None, n_features]))], estimator_options, pipeline
        )
    model_part = onnx.compose.add_prefix(model_part, "model_")
    _unify_opsets(pre_model, model_part)
    merged = onnx.compose.merge_models(pre_model, model_part, io_map=[(FEATURES, "model_" + FEATURES)])
    _restore_input_names(merged, spec)
    _name_outputs(merged)
    merged.ir_version = IR_VERSION
    merged.graph.name = "factory_edge_pipeline"  # skl2onnx and merge_models name graphs with random uuids
    merged.graph.doc_string = ""
    merged.producer_name = "factory-edge"
    merged.doc_string = f"{type(estimator).__name__} pipeline converted by factory-edge with skl2onnx"
    try:
        onnx.checker.check_model(merged, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as error:
        node = next((line for line in str(error).splitlines() if "node name" in line), str(error).splitlines()[0])
        raise ConversionError(
            f"skl2onnx converted the Pipeline into a graph that does not check ({node.strip()}): a step's "
            "converter mixes float32 and float64 (skl2onnx's PolynomialFeatures does). Replace the step or "
            "register a converter for it."
        ) from error
    return merged


# The estimator's outputs, as the manifest names them.
OUTPUT_NAMES = {
    "model_label": "label",
    "model_probabilities": "probabilities",
    "model_variable": "value",
    "model_value": "value",
}


def _rename(graph: onnx.GraphProto, renames: dict[str, str]) -> None:
    taken = {name for node in graph.node for name in (*node.input, *node.output)}
    taken |= {value.name for value in (*graph.input, *graph.output, *graph.initializer)}
    clashes = sorted(new for old, new in renames.items() if new in taken and new != old)
    if clashes:
        raise ConversionError(f"cannot name graph values {clashes}: the converted graph already uses those names")
    for node in graph.node:
        node.input[:] = [renames.get(name, name) for name in node.input]
        node.output[:] = [renames.get(name, name) for name in node.output]
    for value in (*graph.input, *graph.output):
        value.name = renames.get(value.name, value.name)


def _restore_input_names(model: onnx.ModelProto, spec: TableSpec) -> None:
    """Give every graph input its column's exact name.

    skl2onnx rewrites names that are not identifiers ("Air temperature [K]" becomes
    "Air_temperature__K_"); ONNX itself allows any string, and users' payloads carry the real
    names, so the graph takes them unchanged. Inputs keep the order they were declared in.
    """
    columns = list(spec.numeric) + list(spec.categorical)
    inputs = [value.name for value in model.graph.input]
    if len(inputs) != len(columns):
        raise ConversionError(f"the converted graph has {len(inputs)} inputs for {len(columns)} columns")
    _rename(model.graph, {old: new for old, new in zip(inputs, columns) if old != new})


def _name_outputs(model: onnx.ModelProto) -> None:
    _rename(
        model.graph, {old: new for old, new in OUTPUT_NAMES.items() if any(o.name == old for o in model.graph.output)}
    )


def describe_onnx(model: onnx.ModelProto) -> dict[str, Any]:
    """Size facts about the graph: operators, and tree and node counts of tree ensembles."""
    operators: dict[str, int] = {}
    trees = nodes = 0
    for node in model.graph.node:
        operators[node.op_type] = operators.get(node.op_type, 0) + 1
        attributes = {attribute.name: attribute for attribute in node.attribute}
        if node.op_type == "TreeEnsemble":
            trees += len(attributes["tree_roots"].ints)
            nodes += len(attributes["nodes_featureids"].ints) + len(attributes["leaf_targetids"].ints)
        elif node.op_type.startswith("TreeEnsemble"):
            nodes += len(attributes["nodes_treeids"].ints)
            trees += len(set(attributes["nodes_treeids"].ints))
    return {
        "operators": dict(sorted(operators.items())),
        "trees": trees,
        "tree_nodes": nodes,
        "opsets": {o.domain or "ai.onnx": o.version for o in model.opset_import},
    }
