"""The decision threshold at export: ``--threshold auto | P``, ``--objective``, ``--scoring``, ``--class-weight``.

Fast tests use the tiny demo data (400 rows, 8 depth-4 trees); the slow one is the full ai4i2020 export
of issue 11: the threshold tuned for F1 catches more failures than the default rule, it is in the
manifest, the device follows it and parity holds at and around it.
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402

import runtime  # noqa: E402
from export import ExportConfig, ExportError, run_export  # noqa: E402
from export._check import check_bundle  # noqa: E402
from export._cli import main as export_main  # noqa: E402
from export._pipeline import build_pipeline  # noqa: E402
from export._threshold import (  # noqa: E402
    ThresholdRequest,
    fit_threshold,
    negative_cost,
    recall_at_precision,
    threshold_request,
)
from export._train import check_training_options, fit_model, train, with_class_weight  # noqa: E402
from tests.conftest import AI4I  # noqa: E402
from tests.export.conftest import TINY  # noqa: E402

AI4I_DROP = ("UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF")
SMALL = {"n_estimators": 8, "max_depth": 4}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"objective": "f1"}, "--objective chooses what --threshold auto tunes for: add --threshold auto"),
        ({"threshold": "0"}, "--threshold '0': expected 'auto' or a probability strictly between 0 and 1 (e.g. 0.3)"),
        ({"threshold": "1"}, "--threshold '1': expected 'auto' or a probability strictly between 0 and 1"),
        ({"threshold": "1.5"}, "--threshold '1.5': expected 'auto' or a probability strictly between 0 and 1"),
        ({"threshold": "nan"}, "--threshold 'nan': expected 'auto' or a probability strictly between 0 and 1"),
        ({"threshold": "high"}, "--threshold 'high': expected 'auto' or a probability strictly between 0 and 1"),
        (
            {"threshold": "0.3", "objective": "f1"},
            "--objective f1 tunes the threshold, but --threshold 0.3 fixes it: pass one or the other",
        ),
        (
            {"threshold": "auto", "objective": "recall"},
            "--objective 'recall': expected one of f1, balanced_accuracy, recall_at_precision=P, cost=FN:FP (P a ",
        ),
        ({"threshold": "auto", "objective": "recall_at_precision=0"}, "--objective 'recall_at_precision=0': expected"),
        ({"threshold": "auto", "objective": "recall_at_precision=1.5"}, "--objective 'recall_at_precision=1.5': "),
        ({"threshold": "auto", "objective": "cost=0:1"}, "--objective 'cost=0:1': expected one of f1"),
        ({"threshold": "auto", "objective": "cost=10"}, "--objective 'cost=10': expected one of f1"),
        ({"scoring": "f1"}, "--scoring f1 scores the --tune search: add --tune"),
        (
            {"scoring": "precision_recall", "tune": True},
            "--scoring 'precision_recall' is not a scikit-learn scorer; choose one of accuracy, adjusted_mutual_info",
        ),
        ({"class_weight": "inverse"}, "--class-weight 'inverse': the only choice is 'balanced'"),
    ],
)
def test_option_mistakes_are_refused_before_any_data_is_read(options, message):
    with pytest.raises(ExportError) as caught:
        check_training_options(ExportConfig(**options))
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("options", "request_"),
    [
        ({}, None),
        ({"threshold": "auto"}, ThresholdRequest(objective="f1")),
        ({"threshold": " 0.25 "}, ThresholdRequest(fixed=0.25, objective="fixed")),
        (
            {"threshold": "auto", "objective": "recall_at_precision=0.90"},
            ThresholdRequest(objective="recall_at_precision=0.9", min_precision=0.9),
        ),
        ({"threshold": "auto", "objective": "cost=10:1"}, ThresholdRequest(objective="cost=10:1", costs=(10.0, 1.0))),
    ],
)
def test_threshold_options_are_parsed(options, request_):
    assert threshold_request(ExportConfig(**options)) == request_


def test_the_custom_objectives_score_as_documented():
    truth = np.array(["fail", "fail", "ok", "ok", "ok"])
    said = np.array(["fail", "ok", "fail", "ok", "ok"])  # precision 1/2, recall 1/2, one miss, one false alarm
    assert recall_at_precision(truth, said, pos_label="fail", min_precision=0.5) == 0.5
    assert recall_at_precision(truth, said, pos_label="fail", min_precision=0.6) == -0.5
    assert negative_cost(truth, said, pos_label="fail", fn_cost=10.0, fp_cost=1.0) == pytest.approx(-11 / 5)
    assert negative_cost(truth, truth, pos_label="fail", fn_cost=10.0, fp_cost=1.0) == 0.0


def test_class_weight_is_set_where_the_estimator_takes_one(tiny_data):
    forest = with_class_weight(build_pipeline(tiny_data.spec, params=SMALL), "balanced")
    assert forest.steps[-1][1].class_weight == "balanced"
    with pytest.raises(ExportError, match=r"^--class-weight: GradientBoostingClassifier takes no class_weight; use "):
        with_class_weight(build_pipeline(tiny_data.spec, "gradient_boosting"), "balanced")
    with pytest.raises(ExportError, match=r"^--class-weight balanced weighs classes, but Ridge is a regressor$"):
        with_class_weight(build_pipeline(tiny_data.spec, "ridge"), "balanced")


def test_tune_scores_by_average_precision_unless_told_otherwise(tiny_data):
    pipeline = build_pipeline(tiny_data.spec, params={"n_estimators": 5})
    grid = {"model__max_depth": [2, 4]}
    messages: list[str] = []
    x, y = tiny_data.x_train, tiny_data.y_train
    _, search = train(pipeline, x, y, task=tiny_data.task, grid=grid, progress=messages.append)
    assert search["scoring"] == "average_precision"
    best = clone(pipeline).set_params(**search["best_params"])
    assert search["best_score"] == pytest.approx(cross_val_score(best, x, y, cv=3, scoring="average_precision").mean())
    assert messages[-1] == (
        f"tuning: chose {search['best_params']} (mean average_precision {search['best_score']:.4f})"
    )
    _, search = train(pipeline, x, y, task=tiny_data.task, grid=grid, scoring="accuracy")
    assert search["scoring"] == "accuracy"


@pytest.mark.parametrize("threshold", ["0.3", "auto"])
def test_the_sklearn_labels_follow_the_threshold(tiny_data, threshold):
    """Fixed and tuned: scikit-learn's classifier labels 1 exactly where the inner Pipeline's P(1) >= threshold."""
    request = threshold_request(ExportConfig(threshold=threshold))
    fitted = fit_threshold(build_pipeline(tiny_data.spec, params=SMALL), tiny_data.x_train, tiny_data.y_train, request)
    decision = fitted.decision
    assert decision.positive_class == 1 and 0 < decision.threshold < 1
    assert decision.source == ("fixed" if threshold == "0.3" else "tuned")
    probability = fitted.pipeline.predict_proba(tiny_data.x_test)[:, 1]
    expected = np.where(probability >= decision.threshold, 1, 0)
    assert fitted.classifier.predict(tiny_data.x_test).tolist() == expected.tolist()


def test_tune_then_threshold_tunes_the_threshold_of_the_best_candidate(tiny_data):
    config = ExportConfig(tune=True, threshold="auto", objective="cost=5:1", class_weight="balanced")
    pipeline = build_pipeline(tiny_data.spec, params={"n_estimators": 5})
    fitted = fit_model(pipeline, tiny_data, config, grid={"model__max_depth": [2, 4]})
    best = fitted.search["best_params"]["model__max_depth"]
    model = fitted.pipeline.steps[-1][1]
    assert (model.max_depth, model.class_weight) == (best, "balanced")
    assert fitted.classifier.estimator_ is fitted.pipeline and fitted.decision.objective == "cost=5:1"
    assert fitted.threshold["cv_score"] <= 0  # minus a cost
    assert set(fitted.threshold["held_out"]) == {"positive_class", "positives", "rule", "default", "threshold"}


def test_a_threshold_needs_a_binary_classifier(tiny_data):
    three_classes = dataclasses.replace(tiny_data, task="multiclass_classification")
    with pytest.raises(ExportError, match="^--threshold needs a binary classifier, but the target 'defect' makes"):
        fit_model(build_pipeline(tiny_data.spec, params=SMALL), three_classes, ExportConfig(threshold="auto"))


def _near_threshold_records(manifest: runtime.Manifest) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The golden cases of the decision-threshold kind, split by scikit-learn's P(positive) below / at or above."""
    decision = manifest.decision
    index = decision.positive_index(manifest.classes)
    cases = [case for case in manifest.golden_cases if case.kind == "decision-threshold"]
    below = [case.inputs for case in cases if case.probabilities[index] < decision.threshold]
    above = [case.inputs for case in cases if case.probabilities[index] >= decision.threshold]
    return below, above


def _assert_device_follows_the_rule(bundle: Path, within: float = 1.0) -> runtime.Model:
    """The device labels the golden rows found at and around the threshold by the rule; the closest on
    each side is ``within`` of the threshold (a tiny forest's probabilities come in coarse steps)."""
    model = runtime.load(bundle, on_unknown="flag")
    decision = model.manifest.decision
    below, above = _near_threshold_records(model.manifest)
    assert below and above
    for records, label in ((below, 0), (above, 1)):
        predictions = [model.predict(record) for record in records]
        assert [prediction.label for prediction in predictions] == [label] * len(records)
        assert min(abs(p.probabilities[1] - decision.threshold) for p in predictions) < within
    return model


def test_a_fixed_threshold_export_end_to_end(tmp_path, capsys):
    """--threshold 0.3 through the command line: the console, the manifest, parity, the device, check, documents.

    Ten fully grown trees vote 0 or 1 each, so P(1) is a multiple of 0.1: many rows land exactly on the
    threshold, where scikit-learn's ``>=`` says 1 and the device must too."""
    tiny = ["--demo-rows", "400", "--no-measure", "--param", "n_estimators=10", "max_depth=None"]
    code = export_main([*tiny, "--output", str(tmp_path), "--threshold", "0.3"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "  label:  1 if P(1) >= 0.3, else 0 (threshold fixed)\n" in out
    assert "held-out recall of 1: " in out and " at the default rule -> " in out
    bundle = tmp_path / "quality" / "1.0.0"
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["decision"] == {"threshold": 0.3, "positive_class": 1, "source": "fixed", "objective": None}
    around = manifest["parity"]["kinds"]["decision-threshold"]
    assert around["cases"] > 0 and around["label_mismatches"] == 0 and manifest["parity"]["passed"]
    assert around["below_threshold"] > 0 and around["at_or_above_threshold"] > 0
    assert around["exactly_at_threshold"] > 0 and around["closest_above"] == 0.0
    _assert_device_follows_the_rule(bundle)
    report = check_bundle(bundle)
    assert report.passed and report.kinds["decision-threshold"]["cases"] == around["cases"]
    card = (bundle / "model_card.md").read_text(encoding="utf-8")
    assert "## Decision threshold" in card and "the label is `1 if P(1) >= 0.3, else 0`" in card
    assert (
        "| Label rule | `1 if P(1) &gt;= 0.3, else 0` |" in card
        or "| Label rule | `1 if P(1) >= 0.3, else 0` |" in card
    )
    report_html = (bundle / "report.html").read_text(encoding="utf-8")
    assert "<code>1 if P(1) &gt;= 0.3, else 0</code>" in report_html
    checklist = (bundle / "deployment_checklist.md").read_text(encoding="utf-8")
    assert (
        f"labels under the decision threshold 0.3: {around['cases']:,} cases at and around it, 0 mismatches"
        in checklist
    )


def test_held_out_metrics_are_those_of_the_thresholded_labels(tmp_path):
    result = run_export(ExportConfig(output=tmp_path, threshold="auto", objective="balanced_accuracy", **TINY))
    model = runtime.load(result.bundle, on_unknown="flag")
    from export._data import prepare_data

    data = prepare_data(ExportConfig(demo_rows=TINY["demo_rows"]))
    labels = model.predict_batch(data.x_test).labels
    assert result.metrics["accuracy"] == pytest.approx(float(np.mean(labels == data.y_test)))
    assert result.manifest.decision.objective == "balanced_accuracy" and result.manifest.decision.source == "tuned"
    held_out = result.threshold["held_out"]
    caught = int(((labels == 1) & (data.y_test == 1)).sum())
    assert held_out["threshold"]["caught"] == caught and held_out["positives"] == int((data.y_test == 1).sum())


@pytest.mark.slow
@pytest.mark.skipif(not AI4I.is_file(), reason="shared/datasets/ai4i2020.csv is not beside the repo")
def test_ai4i_threshold_tuned_for_f1_catches_more_failures(tmp_path, capsys):
    arguments = ["--data", str(AI4I), "--target", "Machine failure", "--drop", *AI4I_DROP]
    code = export_main(
        [*arguments, "--threshold", "auto", "--objective", "f1", "--no-measure", "--output", str(tmp_path)]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    bundle = tmp_path / "ai4i2020-machine-failure" / "1.0.0"
    model = _assert_device_follows_the_rule(bundle, within=0.01)
    decision = model.manifest.decision
    assert decision.source == "tuned" and decision.objective == "f1" and decision.threshold < 0.5
    around = model.manifest.parity.kinds["decision-threshold"]
    assert model.manifest.parity.passed and around.cases > 0 and around.label_mismatches == 0
    # failure recall through the device path itself: the threshold's labels against the default rule's
    from export._data import prepare_data

    data = prepare_data(ExportConfig(data=AI4I, target="Machine failure", drop=AI4I_DROP))
    batch = model.predict_batch(data.x_test, on_unknown="flag")
    failures = data.y_test == 1
    default_recall = float(np.mean(np.argmax(batch.probabilities, axis=1)[failures] == 1))
    threshold_recall = float(np.mean(batch.labels[failures] == 1))
    print(
        f"ai4i failure recall: default {default_recall:.4f} -> threshold {threshold_recall:.4f} at {decision.threshold}"
    )
    assert threshold_recall > default_recall
    held_out = json.loads(json.dumps(out.split("held-out recall of 1: ")[1].split(" ")[0]))
    assert math.isclose(float(held_out), default_recall, abs_tol=5e-5)
