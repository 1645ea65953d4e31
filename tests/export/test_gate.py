"""The quality gate (issue 11, must show 2): every export is compared with scikit-learn's Dummy
baseline on the same held-out split; a target of pure noise fails with exit code 11 and CURRENT
unchanged, unless --allow-weak, which exports it with the gate unticked in the checklist."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")

from export._data import make_demo_data  # noqa: E402
from export._errors import WeakModelError  # noqa: E402
from export._gate import CLASSIFIER_MARGINS, REGRESSOR_MARGINS, baseline_scores, quality_gate  # noqa: E402
from runtime._contract import ExitCode  # noqa: E402
from tests.export.conftest import TINY_ARGS  # noqa: E402

NOISE_ROWS = 2000


def _at(scores: dict[str, float], above: float) -> dict[str, float]:
    return {metric: value + above for metric, value in scores.items()}


def test_the_baseline_is_scikit_learns_dummy_on_the_same_split(tiny_data):
    from sklearn import metrics as skm
    from sklearn.dummy import DummyClassifier

    name, scores = baseline_scores(tiny_data)
    majority = DummyClassifier(strategy="most_frequent").fit(tiny_data.x_train, tiny_data.y_train)
    predicted = majority.predict(tiny_data.x_test)
    assert name == 'DummyClassifier(strategy="prior")'
    assert scores["balanced_accuracy"] == skm.balanced_accuracy_score(tiny_data.y_test, predicted) == 0.5
    assert scores["macro_f1"] == pytest.approx(skm.f1_score(tiny_data.y_test, predicted, average="macro"))


@pytest.mark.parametrize(
    ("above", "passed"),
    [
        (0.5, True),
        (CLASSIFIER_MARGINS["macro_f1"], True),
        (CLASSIFIER_MARGINS["macro_f1"] - 0.001, False),
        (0.0, False),
    ],
)
def test_the_gate_needs_each_margin_above_the_baseline(tiny_data, above, passed):
    _, scores = baseline_scores(tiny_data)
    metrics = _at(scores, above)
    if passed:
        record = quality_gate(tiny_data, metrics)
        assert record["passed"] and not record["overridden"]
        assert [check["metric"] for check in record["checks"]] == list(CLASSIFIER_MARGINS)
        return
    with pytest.raises(WeakModelError) as caught:
        quality_gate(tiny_data, metrics)
    message = str(caught.value)
    assert message.startswith('quality gate FAILED: against DummyClassifier(strategy="prior") on the same held-out')
    assert message.endswith(
        "nothing was exported and CURRENT was not changed: check the target and the --drop "
        "columns, or pass --allow-weak to export it anyway"
    )
    assert "\n" not in message
    record = quality_gate(tiny_data, metrics, allow_weak=True)
    assert not record["passed"] and record["overridden"]


def test_one_margin_missed_is_enough_to_fail(tiny_data):
    _, scores = baseline_scores(tiny_data)
    metrics = {"balanced_accuracy": scores["balanced_accuracy"] + 0.3, "macro_f1": scores["macro_f1"] + 0.05}
    record = quality_gate(tiny_data, metrics, allow_weak=True)
    assert [check["passed"] for check in record["checks"]] == [True, False] and not record["passed"]


def _noise_csv(tmp_path: Path, kind: str) -> Path:
    """The demo features with the real target replaced by pure noise: coin flips or normal numbers."""
    frame = make_demo_data(NOISE_ROWS, seed=11).drop(columns=["defect"])
    rng = np.random.default_rng(5)
    frame["noise"] = rng.integers(0, 2, NOISE_ROWS) if kind == "binary" else rng.normal(50.0, 5.0, NOISE_ROWS)
    path = tmp_path / "noise.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_a_pure_noise_target_fails_the_gate_and_current_stays(tiny_copy, tmp_path, capsys, kind):
    from export._cli import main

    before = sorted(path.name for path in tiny_copy.iterdir())
    current = (tiny_copy / "CURRENT").read_text()
    # another target under the same name is another interface: --major lets the interface guard pass
    argv = ["--data", str(_noise_csv(tmp_path, kind)), "--target", "noise", "--name", "quality", "--major"]
    argv += ["--output", str(tiny_copy.parent), *TINY_ARGS]
    assert main(argv) == ExitCode.WEAK_MODEL == 11
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]
    assert len(lines) == 1 and lines[0].startswith("error: quality gate FAILED: against Dummy"), lines
    assert sorted(path.name for path in tiny_copy.iterdir()) == before
    assert (tiny_copy / "CURRENT").read_text() == current

    # --allow-weak exports it, says so in the manifest, and the checklist does not tick the gate
    assert main([*argv, "--allow-weak"]) == ExitCode.OK
    bundle = tiny_copy / (tiny_copy / "CURRENT").read_text().strip()
    gate = json.loads((bundle / "manifest.json").read_text())["metrics"]["quality_gate"]
    assert not gate["passed"] and gate["overridden"]
    margins = REGRESSOR_MARGINS if kind == "regression" else CLASSIFIER_MARGINS
    assert [check["metric"] for check in gate["checks"]] == list(margins)
    # balanced accuracy (R²) of noise stays near the baseline's; the prior's macro F1 of coin flips is
    # low (0.34: one class never predicted), so that margin alone would not catch noise
    first = gate["checks"][0]
    assert abs(first["model"] - first["baseline"]) < 0.06 and not first["passed"], gate
    checklist = (bundle / "deployment_checklist.md").read_text()
    line = next(line for line in checklist.splitlines() if "**Quality gate**" in line)
    assert line.startswith("- [ ] **Quality gate**: FAILED, exported anyway (--allow-weak): against Dummy")
