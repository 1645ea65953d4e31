"""Held-out metrics, importances, and the quality cost a size limit is recorded with."""

from __future__ import annotations

import pytest

pytest.importorskip("sklearn")

from export._config import ExportConfig  # noqa: E402
from export._data import prepare_data  # noqa: E402
from export._errors import ExportError  # noqa: E402
from export._format import size_limit_sentence  # noqa: E402
from export._metrics import measure_quality, positive_class, predict_held_out, target_unit  # noqa: E402
from export._pipeline import build_pipeline  # noqa: E402
from export._train import train  # noqa: E402


def test_classification_metrics_of_the_tiny_export(tiny_export, tiny_data):
    metrics = tiny_export.metrics
    assert metrics["held_out_rows"] == len(tiny_data.y_test) == 80
    assert 0.5 < metrics["accuracy"] <= 1 and 0 < metrics["macro_f1"] <= 1 and 0.5 < metrics["roc_auc"] <= 1
    matrix = metrics["confusion_matrix"]
    assert matrix["labels"] == ["0", "1"] and sum(map(sum, matrix["matrix"])) == 80
    assert metrics["class_balance_test"] == {str(c): int((tiny_data.y_test == c).sum()) for c in (0, 1)}
    by_column = metrics["feature_importance"]["by_column"]
    assert set(by_column) == set(tiny_data.spec.features) and sum(by_column.values()) == pytest.approx(1.0)
    assert set(metrics["permutation_importance"]["mean"]) == set(tiny_data.spec.features)
    assert metrics["in_words"] and metrics["quality_gate"]["passed"]
    # the manifest's typed section holds the same numbers
    assert tiny_export.manifest.metrics.accuracy == metrics["accuracy"]
    assert tiny_export.manifest.metrics.to_dict() == metrics


def test_a_size_limited_forest_records_its_unconstrained_twin(tiny_export):
    check = tiny_export.metrics["versus_unconstrained"]
    assert check["limits"] == {"max_depth": 4}
    assert set(check["difference_pp"]) == {"accuracy", "macro_f1"}
    for key, difference in check["difference_pp"].items():
        assert difference == pytest.approx(100 * (check["this_model"][key] - check["unconstrained"][key]))
    assert check["within_bound"] == all(v >= -check["bound_pp"] for v in check["difference_pp"].values())
    sentence = size_limit_sentence(check)
    assert sentence.startswith("limited by `max_depth=4`; against the same forest grown fully on the same held-out")
    assert sentence.endswith(("within the 0.5-point bound", "**not** within the 0.5-point bound"))


def test_the_rare_class_is_measured_as_scikit_learn_measures_it(tiny_export, tiny_data):
    from sklearn import metrics as skm

    metrics, held_out = tiny_export.metrics, tiny_export.held_out
    truth, predicted = tiny_data.y_test, tiny_export.pipeline.predict(tiny_data.x_test)
    assert (held_out.truth == truth).all() and (held_out.predicted == predicted).all()
    assert metrics["positive_class"] == "1"
    assert metrics["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(truth, predicted))
    caught = metrics["per_class"]["1"]
    assert caught["recall"] == pytest.approx(skm.recall_score(truth, predicted))
    assert caught["precision"] == pytest.approx(skm.precision_score(truth, predicted, zero_division=0))
    assert caught["support"] == int((truth == 1).sum())
    scores = tiny_export.pipeline.predict_proba(tiny_data.x_test)[:, 1]
    assert metrics["pr_auc"] == pytest.approx(skm.average_precision_score(truth, scores))
    assert metrics["pr_auc_chance"] == pytest.approx((truth == 1).mean())
    assert metrics["permutation_importance"]["scoring"] == "balanced_accuracy"


@pytest.mark.parametrize(
    ("classes", "positive"),
    [((0, 1), 1), ((False, True), True), (("fail", "ok"), "fail"), (("good", "scrap"), "scrap"), (("A", "B"), "B")],
)
def test_the_class_to_catch_is_the_one_that_is_not_nothing(classes, positive):
    assert positive_class(classes) == positive


@pytest.mark.parametrize(
    ("target", "schema", "unit"),
    [
        ("Torque [Nm]", {}, ("Nm", "the column name")),
        ("Torque [Nm]", {"Torque [Nm]": {"unit": "N·m"}}, ("N·m", "the schema file")),
        ("torque", {}, (None, None)),
        ("wear [min] total", {}, (None, None)),
    ],
)
def test_the_targets_unit_comes_from_the_schema_file_or_the_name(target, schema, unit):
    assert target_unit(target, schema) == unit


def test_a_unit_that_is_not_text_is_refused():
    with pytest.raises(ExportError, match=r"schema file: 'torque' unit == 5, must be a non-empty string"):
        target_unit("torque", {"torque": {"unit": 5}})


def test_regression_metrics_and_no_twin_for_a_model_without_size_limits():
    data = prepare_data(ExportConfig(demo_rows=400, task="regression"))
    pipeline, _ = train(build_pipeline(data.spec, "ridge"), data.x_train, data.y_train, task=data.task)
    metrics = measure_quality(pipeline, data, predict_held_out(pipeline, data), seed=0)
    assert set(metrics) >= {"held_out_rows", "mae", "rmse", "r2", "permutation_importance"}
    assert metrics["feature_importance"] is None and "versus_unconstrained" not in metrics
    assert metrics["rmse"] >= metrics["mae"] >= 0
