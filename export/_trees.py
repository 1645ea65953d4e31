"""scikit-learn tree ensembles as ONNX ``TreeEnsemble`` (ai.onnx.ml opset 5) in float64.

Why not skl2onnx's tree converters: they emit the legacy ``TreeEnsembleClassifier`` /
``TreeEnsembleRegressor`` with float32 leaf weights, and onnxruntime then sums the trees in float32
(probability errors up to ~8e-7 for 100-200 trees, within 1e-6 only just), and they cannot state
HistGradientBoosting's float64 thresholds at all (nor convert it with scikit-learn >= 1.8). The
standard ``TreeEnsemble`` operator takes float64 thresholds and leaf weights and sums in float64,
so the graph can do exactly what scikit-learn does:

- ``sklearn.tree`` models (decision trees, random forests, extra trees, gradient boosting) cast X to
  float32 and compare it with float64 thresholds: the graph casts to float and back to double, then
  compares with the same thresholds.
- HistGradientBoosting compares float64 X with float64 thresholds: the graph compares directly.
- Leaf values are scikit-learn's own (class fractions, or learning rate x value) and are summed in
  float64; averaging, the initial raw prediction, the sigmoid and the softmax follow scikit-learn's
  formulas with standard operators.

``TreeEnsemble`` leaves carry one weight each, so a random forest with K > 2 classes repeats each
tree once per class; binary forests compute class 1 and take class 0 as its complement.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import onnx.helper
from onnx import TensorProto, numpy_helper

__all__ = ["FLOAT32_INPUT", "tree_ensemble_model", "supports"]

ML_OPSET = 5
ONNX_OPSET = 18
BRANCH_LEQ = 0
AGGREGATE_SUM = 1


@dataclass
class _Ensemble:
    """TreeEnsemble attributes being built, one tree at a time."""

    featureids: list[int] = field(default_factory=list)
    splits: list[float] = field(default_factory=list)
    truenodeids: list[int] = field(default_factory=list)
    trueleafs: list[int] = field(default_factory=list)
    falsenodeids: list[int] = field(default_factory=list)
    falseleafs: list[int] = field(default_factory=list)
    missing_tracks_true: list[int] = field(default_factory=list)
    leaf_targetids: list[int] = field(default_factory=list)
    leaf_weights: list[float] = field(default_factory=list)
    tree_roots: list[int] = field(default_factory=list)

    def add_tree(
        self,
        left: np.ndarray,
        right: np.ndarray,
        feature: np.ndarray,
        threshold: np.ndarray,
        is_leaf: np.ndarray,
        weight: np.ndarray,
        target: int,
        missing_left: np.ndarray | None = None,
    ) -> None:
        """Add one tree given per-node arrays (node 0 is the root)."""
        split_index = np.full(len(left), -1, dtype=np.int64)
        leaf_index = np.full(len(left), -1, dtype=np.int64)
        splits = np.flatnonzero(~is_leaf)
        leaves = np.flatnonzero(is_leaf)
        split_index[splits] = np.arange(len(self.splits), len(self.splits) + len(splits))
        leaf_index[leaves] = np.arange(len(self.leaf_weights), len(self.leaf_weights) + len(leaves))
        self.leaf_targetids.extend([target] * len(leaves))
        self.leaf_weights.extend(weight[leaves].tolist())
        if not len(splits):
            # a tree that is a single leaf: a split whose both branches reach that leaf
            self.tree_roots.append(len(self.splits))
            self.featureids.append(0)
            self.splits.append(0.0)
            self.truenodeids.append(int(leaf_index[0]))
            self.falsenodeids.append(int(leaf_index[0]))
            self.trueleafs.append(1)
            self.falseleafs.append(1)
            self.missing_tracks_true.append(0)
            return
        self.tree_roots.append(int(split_index[0]))
        for node in splits.tolist():
            low, high = int(left[node]), int(right[node])
            self.featureids.append(int(feature[node]))
            self.splits.append(float(threshold[node]))
            self.trueleafs.append(int(is_leaf[low]))
            self.truenodeids.append(int(leaf_index[low] if is_leaf[low] else split_index[low]))
            self.falseleafs.append(int(is_leaf[high]))
            self.falsenodeids.append(int(leaf_index[high] if is_leaf[high] else split_index[high]))
            self.missing_tracks_true.append(int(missing_left[node]) if missing_left is not None else 0)

    def node(self, input_name: str, output_name: str, n_targets: int) -> onnx.NodeProto:
        return onnx.helper.make_node(
            "TreeEnsemble",
            [input_name],
            [output_name],
            domain="ai.onnx.ml",
            name="tree_ensemble",
            aggregate_function=AGGREGATE_SUM,
            post_transform=0,
            n_targets=n_targets,
            nodes_featureids=self.featureids,
            nodes_splits=numpy_helper.from_array(np.asarray(self.splits, dtype=np.float64)),
            nodes_modes=numpy_helper.from_array(np.full(len(self.splits), BRANCH_LEQ, dtype=np.uint8)),
            nodes_truenodeids=self.truenodeids,
            nodes_trueleafs=self.trueleafs,
            nodes_falsenodeids=self.falsenodeids,
            nodes_falseleafs=self.falseleafs,
            nodes_missing_value_tracks_true=self.missing_tracks_true,
            leaf_targetids=self.leaf_targetids,
            leaf_weights=numpy_helper.from_array(np.asarray(self.leaf_weights, dtype=np.float64)),
            tree_roots=self.tree_roots,
        )


def _sklearn_tree(ensemble: _Ensemble, tree: Any, leaf_values: np.ndarray, target: int) -> None:
    structure = tree.tree_
    ensemble.add_tree(
        structure.children_left,
        structure.children_right,
        structure.feature,
        structure.threshold,
        structure.children_left == -1,
        leaf_values,
        target,
    )


def _hist_tree(ensemble: _Ensemble, predictor: Any, target: int) -> None:
    nodes = predictor.nodes
    if nodes["is_categorical"].any():
        raise NotImplementedError("categorical splits")
    ensemble.add_tree(
        nodes["left"],
        nodes["right"],
        nodes["feature_idx"],
        nodes["num_threshold"],
        nodes["is_leaf"].astype(bool),
        nodes["value"].astype(np.float64),
        target,
        nodes["missing_go_to_left"].astype(bool),
    )


def supports(estimator: Any) -> bool:
    """True for the tree ensembles this module converts: single output, default losses."""
    name = type(estimator).__name__
    if name not in _CONVERTERS or getattr(estimator, "n_outputs_", 1) != 1:
        return False
    if name.startswith(("GradientBoosting", "HistGradientBoosting")):
        # only losses whose inverse link is the identity (regression) or sigmoid/softmax (log loss)
        loss = getattr(estimator, "loss", None)
        if loss not in ("log_loss", "squared_error", "absolute_error", "huber", "quantile"):
            return False
        if name.startswith("Hist") and loss != "log_loss" and loss != "squared_error":
            return False
        init = getattr(estimator, "init_", None)
        if init is not None and init != "zero" and type(init).__name__ not in ("DummyClassifier", "DummyRegressor"):
            return False
    return True


def _forest_classifier(estimator: Any) -> tuple[_Ensemble, int, str]:
    trees = estimator.estimators_ if hasattr(estimator, "estimators_") else [estimator]
    n_classes = len(estimator.classes_)
    ensemble = _Ensemble()
    targets = [1] if n_classes == 2 else list(range(n_classes))
    for tree in trees:
        values = tree.tree_.value[:, 0, :n_classes].astype(np.float64)
        normalizer = values.sum(axis=1, keepdims=True)
        normalizer[normalizer == 0.0] = 1.0
        fractions = values / normalizer  # as DecisionTreeClassifier.predict_proba
        for target in targets:
            _sklearn_tree(ensemble, tree, fractions[:, target], 0 if n_classes == 2 else target)
    return ensemble, (1 if n_classes == 2 else n_classes), "average-proba"


def _forest_regressor(estimator: Any) -> tuple[_Ensemble, int, str]:
    trees = estimator.estimators_ if hasattr(estimator, "estimators_") else [estimator]
    ensemble = _Ensemble()
    for tree in trees:
        _sklearn_tree(ensemble, tree, tree.tree_.value[:, 0, 0].astype(np.float64), 0)
    return ensemble, 1, "average"


def _gradient_boosting(estimator: Any) -> tuple[_Ensemble, int, str]:
    stages = estimator.estimators_  # shape (n_stages, K)
    ensemble = _Ensemble()
    rate = float(estimator.learning_rate)
    for stage in stages:
        for target, tree in enumerate(stage):
            # predict_stages adds learning_rate * value, in float64
            _sklearn_tree(ensemble, tree, rate * tree.tree_.value[:, 0, 0].astype(np.float64), target)
    return ensemble, stages.shape[1], "raw"


def _hist_gradient_boosting(estimator: Any) -> tuple[_Ensemble, int, str]:
    ensemble = _Ensemble()
    for iteration in estimator._predictors:
        for target, predictor in enumerate(iteration):
            _hist_tree(ensemble, predictor, target)
    return ensemble, estimator.n_trees_per_iteration_, "raw"


_CONVERTERS = {
    "DecisionTreeClassifier": _forest_classifier,
    "ExtraTreeClassifier": _forest_classifier,
    "RandomForestClassifier": _forest_classifier,
    "ExtraTreesClassifier": _forest_classifier,
    "DecisionTreeRegressor": _forest_regressor,
    "ExtraTreeRegressor": _forest_regressor,
    "RandomForestRegressor": _forest_regressor,
    "ExtraTreesRegressor": _forest_regressor,
    "GradientBoostingClassifier": _gradient_boosting,
    "GradientBoostingRegressor": _gradient_boosting,
    "HistGradientBoostingClassifier": _hist_gradient_boosting,
    "HistGradientBoostingRegressor": _hist_gradient_boosting,
}
FLOAT32_INPUT = {name for name in _CONVERTERS if not name.startswith("Hist")}


def _initial_raw(estimator: Any, n_targets: int) -> np.ndarray:
    """The raw prediction before any tree (gradient boosting's init / baseline), shape (1, K)."""
    if hasattr(estimator, "_baseline_prediction"):
        return np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(1, n_targets)
    if estimator.init_ == "zero":
        return np.zeros((1, n_targets))
    # _raw_predict_init maps the init estimator's prediction to raw space; for the default
    # (Dummy*) init, the only one `supports` accepts, it does not depend on X.
    probe = np.zeros((1, estimator.n_features_in_), dtype=np.float32)
    return np.asarray(estimator._raw_predict_init(probe), dtype=np.float64).reshape(1, n_targets)


class _Graph:
    """Nodes and float64 constants of the graph being built, in the order they are added."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, label: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=np.float64), label))
        return label

    def add(self, op: str, inputs: list[str], output: str, name: str, **attributes: Any) -> None:
        self.nodes.append(onnx.helper.make_node(op, inputs, [output], name=name, **attributes))


def tree_ensemble_model(estimator: Any, n_features: int, input_name: str) -> onnx.ModelProto:
    """A model from float64 features ``input_name`` [N, n_features] to ``probabilities`` [N, classes]
    (classifiers) or ``value`` [N, 1] (regressors), both float64."""
    name = type(estimator).__name__
    ensemble, n_targets, combine = _CONVERTERS[name](estimator)
    graph = _Graph()
    tree_input = input_name
    if name in FLOAT32_INPUT:
        graph.add("Cast", [input_name], "x_float32", "as_float32", to=TensorProto.FLOAT)
        graph.add("Cast", ["x_float32"], "x_compared", "as_double", to=TensorProto.DOUBLE)
        tree_input = "x_compared"
    graph.nodes.append(ensemble.node(tree_input, "tree_sum", n_targets))
    classifier = hasattr(estimator, "classes_")
    output = "probabilities" if classifier else "value"
    # a binary classifier's trees compute class 1 ("positive"); class 0 is its complement
    binary = classifier and n_targets == 1
    if combine in ("average-proba", "average"):
        n_trees = len(getattr(estimator, "estimators_", [estimator]))
        divisor = graph.constant("n_trees", np.array(float(n_trees)))
        graph.add("Div", ["tree_sum", divisor], "positive" if binary else output, "average")
    else:  # gradient boosting: raw = init + sum of trees, then the loss's inverse link
        initial = graph.constant("initial_raw", _initial_raw(estimator, n_targets))
        graph.add("Add", ["tree_sum", initial], "raw" if classifier else output, "add_initial_raw")
        if binary:
            graph.add("Sigmoid", ["raw"], "positive", "sigmoid")
        elif classifier:
            graph.add("Softmax", ["raw"], output, "softmax", axis=1)
    if binary:
        # proba[:, 0] = 1 - proba[:, 1], as scikit-learn writes it
        graph.add("Sub", [graph.constant("one", np.array(1.0)), "positive"], "negative", "complement")
        graph.add("Concat", ["negative", "positive"], output, "both_classes", axis=1)
    width = len(estimator.classes_) if classifier else 1
    return onnx.helper.make_model(
        onnx.helper.make_graph(
            graph.nodes,
            "trees",
            [onnx.helper.make_tensor_value_info(input_name, TensorProto.DOUBLE, [None, n_features])],
            [onnx.helper.make_tensor_value_info(output, TensorProto.DOUBLE, [None, width])],
            initializer=graph.initializers,
        ),
        opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET), onnx.helper.make_opsetid("ai.onnx.ml", ML_OPSET)],
    )
