"""The device graph: exact threshold folds, the leaves of every tree, and a wrong fold the proof catches.

Fast tests fold small Pipelines trained on the demo data's 400 rows; the slow ones fold the
demo-sized and fully grown forests.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import OrdinalEncoder  # noqa: E402

import runtime  # noqa: E402
from export import ExportConfig, ParityError  # noqa: E402
from export._columns import column_specs  # noqa: E402
from export._config import Destination, PreparedData  # noqa: E402
from export._convert import convert  # noqa: E402
from export._data import DEMO_NUMERIC_RANGES, prepare_data  # noqa: E402
from export._fold import fold_pipeline  # noqa: E402
from export._fold.plan import NumberSource, plan_fold  # noqa: E402
from export._fold.thresholds import raw_thresholds  # noqa: E402
from export._manifest import draft_manifest  # noqa: E402
from export._parity import device_model, generate_cases, prove_graphs  # noqa: E402
from export._pipeline import build_pipeline  # noqa: E402
from export._train import train  # noqa: E402

FOREST = {"n_estimators": 12, "max_depth": 6}


def _fitted(data: PreparedData, estimator: str = "random_forest", params: dict | None = None) -> Pipeline:
    pipeline = build_pipeline(data.spec, estimator, seed=0, params=FOREST if params is None else params)
    return train(pipeline, data.x_train, data.y_train, task=data.task)[0]


@pytest.fixture(scope="module")
def forest(tiny_data):
    return _fitted(tiny_data)


def _models(data: PreparedData, pipeline: Pipeline, rule: str = "exact") -> dict[str, runtime.Model]:
    """The public graph's and the device graph's runtime models, as the export proves them."""
    converted = convert(pipeline, data.spec, data.x_train)
    folded = fold_pipeline(pipeline, data.spec, rule=rule)
    assert folded.section is not None and folded.onnx_bytes is not None, folded.not_folded
    columns = column_specs(data.spec, data.features, {}, demo_ranges=DEMO_NUMERIC_RANGES)
    manifest = draft_manifest(
        ExportConfig(), Destination("quality", Path("unused"), "1.0.0"), data, columns, pipeline, converted
    )
    manifest = dataclasses.replace(manifest, device_graph=folded.section)
    return {
        "model.onnx": device_model(manifest, converted.onnx_bytes),
        "device.onnx": device_model(manifest, folded.onnx_bytes, device_graph=folded.section),
    }


def _tree_thresholds(pipeline: Pipeline, feature: int) -> np.ndarray:
    trees = pipeline.steps[-1][1].estimators_
    return np.concatenate([tree.tree_.threshold[tree.tree_.feature == feature] for tree in trees])


def test_the_exact_fold_is_the_last_raw_value_on_the_left(tiny_data, forest):
    """By scikit-learn's own ColumnTransformer: x* goes left, the next float64 above it goes right."""
    plan = plan_fold(forest, tiny_data.spec)
    preprocess = forest.steps[0][1]
    row = tiny_data.x_train.dropna().iloc[[0]]
    checked = 0
    for feature, source in enumerate(plan.sources):
        if not isinstance(source, NumberSource):
            continue
        thresholds = _tree_thresholds(forest, feature)
        raw = raw_thresholds(source.compared, thresholds)
        for x_star, threshold in zip(raw.tolist(), thresholds.tolist()):
            frame = row.loc[row.index.repeat(2)].reset_index(drop=True)
            frame[source.column] = [x_star, np.nextafter(x_star, np.inf)]
            compared = np.asarray(preprocess.transform(frame))[:, feature].astype(np.float32).astype(np.float64)
            assert compared[0] <= threshold < compared[1]
            checked += 1
    assert checked > 50


def test_the_naive_fold_differs_from_the_exact_one(tiny_data, forest):
    source = next(s for s in plan_fold(forest, tiny_data.spec).sources if isinstance(s, NumberSource))
    thresholds = _tree_thresholds(forest, 0)
    naive = source.mean + thresholds * source.scale
    assert (naive != raw_thresholds(source.compared, thresholds)).mean() > 0.2


def test_the_device_graph_passes_the_full_proof_on_every_case_kind(tiny_data, forest):
    report = prove_graphs(forest, _models(tiny_data, forest), tiny_data, seed=0)
    assert report.passed and report.label_mismatches == 0 and report.max_abs_diff <= 1e-12
    device = report.graphs["device.onnx"]
    assert device["passed"] and device["label_mismatches"] == 0 and device["max_abs_diff"] <= 1e-12
    assert {"held-out", "threshold", "missing", "unknown-category", "range-boundary", "recombined", "near-tie"} <= set(
        report.kinds
    )
    assert report.golden_graph == "device.onnx" and report.golden


def test_a_naive_fold_fails_the_proof_naming_cases(tiny_data, forest):
    report = prove_graphs(forest, _models(tiny_data, forest, rule="naive"), tiny_data, seed=0)
    assert not report.passed and report.graphs["model.onnx"]["passed"]
    assert not report.graphs["device.onnx"]["passed"]
    failed = [case for case in report.worst if case["failed"]]
    assert failed and all(case["graph"] == "device.onnx" for case in failed)
    message = str(ParityError(report))
    assert message.startswith("parity failed: ") and "device.onnx" in message and "{'temperature': " in message


def _leaf_id_session(device_bytes: bytes, estimator: Any) -> ort.InferenceSession:
    """The device graph's trees alone, each leaf's weight its scikit-learn node id, one output per tree."""
    model = onnx.load_from_string(device_bytes)
    trees = next(node for node in model.graph.node if node.op_type == "TreeEnsemble")
    leaf_ids, leaf_tree = [], []
    for index, tree in enumerate(estimator.estimators_):
        leaves = np.flatnonzero(tree.tree_.children_left == -1)
        leaf_ids += leaves.tolist()
        leaf_tree += [index] * len(leaves)
    for attribute in trees.attribute:
        if attribute.name == "leaf_weights":
            attribute.t.CopyFrom(numpy_helper.from_array(np.asarray(leaf_ids, dtype=np.float64), attribute.t.name))
        elif attribute.name == "leaf_targetids":
            attribute.CopyFrom(onnx.helper.make_attribute("leaf_targetids", leaf_tree))
        elif attribute.name == "n_targets":
            attribute.CopyFrom(onnx.helper.make_attribute("n_targets", len(estimator.estimators_)))
    del model.graph.output[:]
    model.graph.output.append(onnx.helper.make_tensor_value_info(trees.output[0], onnx.TensorProto.DOUBLE, None))
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _same_leaves_as_apply(data: PreparedData, forest: Pipeline) -> int:
    """Run every parity case set through the device graph's trees and compare each tree's leaf with
    ``forest.apply``; returns how many rows were compared."""
    device = _models(data, forest)["device.onnx"]
    estimator = forest.steps[-1][1]
    session = _leaf_id_session(fold_pipeline(forest, data.spec).onnx_bytes, estimator)
    sets = generate_cases(
        forest,
        data.spec,
        data.x_train,
        data.x_test,
        nullable={c.name: c.nullable for c in device.manifest.inputs},
        ranges={c.name: c.valid_range for c in device.manifest.inputs if c.valid_range},
    )
    compared = 0
    for case_set in sets:
        if not len(case_set.frame):
            continue
        feeds, _, problems, _ = device.validate_batch(case_set.frame, on_unknown="flag")
        assert not problems
        packed = device._packed.batch(feeds)
        got = session.run(None, packed)[0]
        expected = estimator.apply(np.asarray(forest.steps[0][1].transform(case_set.frame)))
        np.testing.assert_array_equal(got, expected.astype(np.float64), err_msg=case_set.kind)
        compared += len(case_set.frame)
    return compared


def test_every_tree_reaches_the_same_leaf_as_forest_apply(tiny_data, forest):
    assert _same_leaves_as_apply(tiny_data, forest) > 20_000


@pytest.mark.slow
def test_every_tree_of_a_fully_grown_forest_reaches_the_same_leaf_as_apply_and_passes_the_proof():
    data = prepare_data(ExportConfig(demo_rows=3000))
    forest = _fitted(data, params={"n_estimators": 30, "max_depth": None})
    assert _same_leaves_as_apply(data, forest) > 40_000
    report = prove_graphs(forest, _models(data, forest), data, seed=0)
    device = report.graphs["device.onnx"]
    assert device["passed"] and device["label_mismatches"] == 0 and device["max_abs_diff"] <= 1e-12
    assert {"held-out", "threshold", "missing", "unknown-category", "recombined", "near-tie"} <= set(report.kinds)


def test_a_step_that_cannot_fold_means_no_device_graph_and_says_which(tiny_data, forest):
    logistic = _fitted(tiny_data, "logistic_regression", {})
    folded = fold_pipeline(logistic, tiny_data.spec)
    assert folded.onnx_bytes is None and folded.section is None
    assert folded.not_folded == ("model: LogisticRegression is not a tree ensemble",)
    with_pca = Pipeline([("preprocess", forest.steps[0][1]), ("pca", PCA(3)), ("model", forest.steps[-1][1])])
    assert fold_pipeline(with_pca, tiny_data.spec).not_folded == (
        "preprocessing: only one ColumnTransformer before the trees folds",
    )


def test_a_number_branch_that_cannot_fold_keeps_its_nodes_and_passes_the_full_proof(tiny_data, forest):
    """PCA mixes the numbers, so no threshold maps back to one column: the branch runs as nodes on
    the packed numbers, the one-hot branch still folds, and the proof covers every case kind."""
    preprocess = clone(forest.steps[0][1])
    number_steps = preprocess.transformers[0][1]
    number_steps.steps.append(("pca", PCA(3, random_state=0)))
    pipeline = Pipeline([("preprocess", preprocess), ("model", clone(forest.steps[-1][1]))])
    pipeline.fit(tiny_data.x_train, tiny_data.y_train)
    folded = fold_pipeline(pipeline, tiny_data.spec)
    assert folded.kept == ("num/impute", "num/scale", "num/pca") and folded.folded == ("cat/impute", "cat/onehot")
    assert folded.section is not None and folded.section.kept == folded.kept and not folded.not_folded
    graph = onnx.load_from_string(folded.onnx_bytes)
    assert [tensor.name for tensor in graph.graph.input] == ["packed"]
    assert {node.op_type for node in graph.graph.node} >= {"Gather", "MatMul", "Concat", "TreeEnsemble"}
    assert not {"OneHotEncoder", "LabelEncoder"} & {node.op_type for node in graph.graph.node}  # categories folded
    report = prove_graphs(pipeline, _models(tiny_data, pipeline), tiny_data, seed=0)
    device = report.graphs["device.onnx"]
    assert device["passed"] and device["label_mismatches"] == 0 and device["max_abs_diff"] <= 1e-12
    assert {"held-out", "threshold", "missing", "unknown-category", "recombined"} <= set(report.kinds)


def test_an_ordinal_encoder_folds_into_a_code_slot_and_passes_the_full_proof(tiny_data, forest):
    """An OrdinalEncoder's output is the category's code: the runtime writes the code (or the
    encoder's unknown value) into one slot and each split keeps its threshold."""
    preprocess = clone(forest.steps[0][1])
    category_steps = preprocess.transformers[1][1]
    # unknown categories coded above every known one: they go right of every split (-1 would route as 0 does)
    category_steps.steps[-1] = ("ordinal", OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=9))
    pipeline = Pipeline([("preprocess", preprocess), ("model", clone(forest.steps[-1][1]))])
    pipeline.fit(tiny_data.x_train, tiny_data.y_train)
    folded = fold_pipeline(pipeline, tiny_data.spec)
    assert folded.folded == ("num/impute", "num/scale", "cat/impute", "cat/ordinal") and not folded.kept
    assert folded.section is not None
    shift = folded.section.columns["shift"]
    assert shift.code is not None and shift.unknown_code == 9.0 and not shift.categories
    imputer, encoder = (step for _, step in pipeline.steps[0][1].named_transformers_["cat"].steps)
    codes = {str(category): float(code) for code, category in enumerate(encoder.categories_[1])}
    assert shift.codes == {**codes, "": codes[str(imputer.statistics_[1])]} and len(codes) == 3
    models = _models(tiny_data, pipeline)
    report = prove_graphs(pipeline, models, tiny_data, seed=0)
    device = report.graphs["device.onnx"]
    assert device["passed"] and device["label_mismatches"] == 0 and device["max_abs_diff"] <= 1e-12
    assert {"held-out", "threshold", "missing", "unknown-category", "recombined"} <= set(report.kinds)
    # one record and a batch fill the code slot alike, unknown and missing categories included
    flagging = models["device.onnx"]
    records = [
        {name: (None if value != value or value == "" else value) for name, value in row.items()}
        for row in tiny_data.x_test.to_dict(orient="records")
    ]
    records += [{**records[0], "shift": "dawn"}]
    records += [{**records[0], c.name: None} for c in flagging.manifest.inputs if c.kind == "category" and c.nullable]
    flagging.on_unknown = "flag"
    batch = flagging.predict_batch(records)
    for index, record in enumerate(records):
        assert list(flagging.predict(record).probabilities.values()) == pytest.approx(
            batch.probabilities[index], abs=1e-12
        )
    expected = pipeline.predict_proba(tiny_data.x_test)
    np.testing.assert_allclose(flagging.predict_batch(tiny_data.x_test).probabilities, expected, rtol=0, atol=1e-12)


def test_an_ordinal_encoder_that_codes_unknown_as_nan_does_not_fold(tiny_data, forest):
    preprocess = clone(forest.steps[0][1])
    preprocess.transformers[1][1].steps[-1] = (
        "ordinal",
        OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan),
    )
    pipeline = Pipeline([("preprocess", preprocess), ("model", clone(forest.steps[-1][1]))])
    pipeline.fit(tiny_data.x_train, tiny_data.y_train)
    folded = fold_pipeline(pipeline, tiny_data.spec)
    assert folded.onnx_bytes is None and folded.not_folded == (
        "cat: an OrdinalEncoder that refuses unknown categories, codes them as NaN or groups infrequent ones",
    )


@pytest.mark.parametrize(
    ("estimator", "params", "regression"),
    [
        ("random_forest_regressor", {"n_estimators": 8, "max_depth": 6}, True),
        ("gradient_boosting", {"n_estimators": 20}, False),
        ("hist_gradient_boosting", {"max_iter": 20}, False),
        ("hist_gradient_boosting_regressor", {"max_iter": 20}, True),
    ],
)
def test_other_tree_models_fold_exactly(estimator, params, regression):
    data = prepare_data(ExportConfig(demo_rows=400, task="regression" if regression else None))
    pipeline = _fitted(data, estimator, params)
    report = prove_graphs(pipeline, _models(data, pipeline), data, seed=0)
    assert report.passed and report.graphs["device.onnx"]["max_abs_diff"] <= 1e-12
    assert report.label_mismatches == 0
