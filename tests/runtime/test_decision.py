"""The decision threshold (``manifest.decision``): read strictly, and followed by every label the runtime gives.

The bundle is a copy of the shipped one with a decision added and its golden labels rewritten under the
rule, the threshold placed exactly on one golden case's probability: that record is *at* the threshold,
its neighbours in probability just below and just above it. No scikit-learn needed.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import runtime
from runtime._cli import main as runtime_main
from runtime._serve.protocol_v2 import model_metadata
from tests.runtime.damage import bundle_copy, edit_manifest

SHIPPED_MANIFEST = Path(__file__).resolve().parents[2] / "models" / "quality" / "1.0.0" / "manifest.json"


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED_MANIFEST.read_text(encoding="utf-8"))
    return data


def _positive_probabilities(manifest: dict[str, Any]) -> list[float]:
    return [case["probabilities"][1] for case in manifest["golden_cases"]]


def _at_below_above(manifest: dict[str, Any]) -> tuple[int, int, int]:
    """Golden cases whose P(1) is the 10th smallest (the threshold), the 9th and the 11th: all below 0.5,
    so the default rule says 0 for all three and the threshold says 1 for two of them."""
    order = np.argsort(_positive_probabilities(manifest))
    below, at, above = (int(i) for i in order[8:11])
    return at, below, above


def _with_decision(manifest: dict[str, Any], threshold: float, **decision: Any) -> None:
    """Set the decision and relabel every golden case by its rule, as the export would have."""
    manifest["decision"] = {"threshold": threshold, "positive_class": 1, "source": "fixed", "objective": None}
    manifest["decision"].update(decision)
    cutoff = threshold - manifest["label_tie_tolerance"]
    for case in manifest["golden_cases"]:
        case["label"] = 1 if case["probabilities"][1] >= cutoff else 0


@pytest.fixture()
def decided(shipped_bundle: Path, tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """A bundle whose threshold is exactly the 'at' golden case's probability of class 1."""
    bundle = bundle_copy(shipped_bundle / "1.0.0", tmp_path)
    manifest = _shipped()
    at, _, _ = _at_below_above(manifest)
    threshold = manifest["golden_cases"][at]["probabilities"][1]
    edit_manifest(bundle, lambda data: _with_decision(data, threshold, source="tuned", objective="f1"))
    return bundle, json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))


def test_labels_follow_the_threshold_at_just_below_and_just_above_it(decided):
    bundle, manifest = decided
    model = runtime.load(bundle, on_unknown="flag")  # golden cases include unknown categories
    at, below, above = _at_below_above(manifest)
    records = {name: manifest["golden_cases"][index]["inputs"] for name, index in (("at", at), ("below", below))}
    records["above"] = manifest["golden_cases"][above]["inputs"]
    threshold = model.manifest.decision.threshold
    labels = {name: model.predict(record) for name, record in records.items()}
    assert labels["below"].probabilities[1] < threshold < 0.5 and labels["below"].label == 0
    assert math.isclose(labels["at"].probabilities[1], threshold, rel_tol=0, abs_tol=1e-12) and labels["at"].label == 1
    assert threshold < labels["above"].probabilities[1] < 0.5 and labels["above"].label == 1
    # probabilities are unchanged by the rule: the same as the shipped bundle gives
    plain = runtime.load(SHIPPED_MANIFEST.parent, on_unknown="flag")
    for name, record in records.items():
        assert labels[name].probabilities == plain.predict(record).probabilities
        assert plain.predict(record).label == 0  # the default rule (argmax) says 0 for all three
    batch = model.predict_batch([records["below"], records["at"], records["above"]])
    assert batch.labels.tolist() == [0, 1, 1]
    assert model.labels_from_probabilities(batch.probabilities).tolist() == [0, 1, 1]


def test_a_threshold_two_tolerances_above_a_probability_labels_it_negative(shipped_bundle, tmp_path):
    """The tie tolerance (1e-9) is the only slack: 2e-9 above the record's probability, the record is below."""
    bundle = bundle_copy(shipped_bundle / "1.0.0", tmp_path)
    manifest = _shipped()
    at, _, _ = _at_below_above(manifest)
    probability = manifest["golden_cases"][at]["probabilities"][1]
    edit_manifest(bundle, lambda data: _with_decision(data, probability + 2 * data["label_tie_tolerance"]))
    assert runtime.load(bundle, on_unknown="flag").predict(manifest["golden_cases"][at]["inputs"]).label == 0


def test_golden_labels_are_replayed_under_the_rule(shipped_bundle, tmp_path):
    """A golden case labelled by argmax where the threshold says otherwise refuses the load."""
    bundle = bundle_copy(shipped_bundle / "1.0.0", tmp_path)
    manifest = _shipped()
    at, _, _ = _at_below_above(manifest)
    threshold = manifest["golden_cases"][at]["probabilities"][1]

    def argmax_labels_kept(data: dict[str, Any]) -> None:
        labels = [case["label"] for case in data["golden_cases"]]
        _with_decision(data, threshold)
        for case, label in zip(data["golden_cases"], labels):
            case["label"] = label

    edit_manifest(bundle, argmax_labels_kept)
    with pytest.raises(runtime.BundleError, match=r"label rule: 1 if P\(1\) >= .*, else 0"):
        runtime.load(bundle)


def test_the_rule_is_shown_by_info_and_the_model_metadata(decided, capsys):
    bundle, _ = decided
    model = runtime.load(bundle)
    rule = f"1 if P(1) >= {model.manifest.decision.threshold:.6g}, else 0"
    assert model.manifest.label_rule() == rule
    assert runtime_main(["info", str(bundle)]) == 0
    assert f"label       {rule} (decision threshold tuned for f1; probabilities unchanged)" in capsys.readouterr().out
    assert runtime_main(["info", str(bundle), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)["output"]
    assert output["label_rule"] == rule and output["decision"]["source"] == "tuned"
    parameters = model_metadata(model)["parameters"]
    assert parameters["label_rule"] == rule and parameters["decision"] == model.manifest.decision.to_dict()
    plain = runtime.load(SHIPPED_MANIFEST.parent)
    assert model_metadata(plain)["parameters"]["decision"] is None
    assert plain.manifest.label_rule() == "the most probable class (the first in class order among ties)"


def test_a_decision_round_trips_and_is_absent_when_unset():
    data = _shipped()
    assert "decision" not in runtime.Manifest.from_dict(data).to_dict()
    _with_decision(data, 0.25, source="tuned", objective="recall_at_precision=0.9")
    manifest = runtime.Manifest.from_dict(data)
    assert manifest.decision == runtime.Decision(0.25, 1, "tuned", "recall_at_precision=0.9")
    assert manifest.to_dict() == data


DECISION = {"threshold": 0.3, "positive_class": 1, "source": "fixed", "objective": None}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"threshold": 0}, "manifest field decision.threshold == 0, expected a finite number strictly between 0 and 1"),
        ({"threshold": 1.0}, "manifest field decision.threshold == 1.0, expected a finite number strictly between 0 "),
        ({"threshold": -0.2}, "manifest field decision.threshold == -0.2, expected a finite number strictly between "),
        ({"threshold": math.nan}, "manifest field decision.threshold == nan, expected a finite number"),
        ({"threshold": math.inf}, "manifest field decision.threshold == inf, expected a finite number"),
        ({"threshold": "0.3"}, "manifest field decision.threshold == '0.3' has type str, expected int or float"),
        ({"threshold": True}, "manifest field decision.threshold == True has type bool, expected int or float"),
        ({"positive_class": 2}, "manifest field decision.positive_class == 2 is not one of the classes [0, 1]"),
        ({"positive_class": True}, "manifest field decision.positive_class == True is not one of the classes [0, 1]"),
        ({"positive_class": [1]}, "manifest field decision.positive_class == [1], expected a class label"),
        ({"source": "guessed"}, "manifest field decision.source == 'guessed', expected one of ['fixed', 'tuned']"),
        ({"objective": 3}, "manifest field decision.objective == 3 has type int, expected str"),
    ],
)
def test_a_malformed_decision_is_refused_naming_the_field(change, message):
    data = _shipped()
    data["decision"] = {**DECISION, **change}
    with pytest.raises(runtime.BundleError) as caught:
        runtime.Manifest.from_dict(data)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(decision="yes"), "manifest field decision == 'yes' has type str, expected dict"),
        (lambda d: d["decision"].pop("positive_class"), "manifest field decision.positive_class is missing"),
        (lambda d: d["decision"].pop("threshold"), "manifest field decision.threshold is missing"),
        (
            lambda d: d.update(task="multiclass_classification"),
            "manifest field decision is set for a multiclass_classification model; a decision threshold needs",
        ),
    ],
)
def test_a_decision_out_of_place_is_refused(change, message):
    data = _shipped()
    data["decision"] = copy.deepcopy(DECISION)
    change(data)
    with pytest.raises(runtime.BundleError) as caught:
        runtime.Manifest.from_dict(data)
    assert str(caught.value).startswith(message)
