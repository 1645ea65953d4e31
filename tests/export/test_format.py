"""How numbers are written for people: one formatter for the documents and the benchmark report."""

from __future__ import annotations

import math

import pytest

from export._format import format_bytes, format_number, format_ratio, format_seconds, format_value


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (None, 4, "n/a"),
        (math.nan, 4, "n/a"),
        (True, 4, "True"),
        (2000, 4, "2,000"),
        (0.94451, 4, "0.9445"),
        (0.25, 4, "0.25"),
        (18.2, 3, "18.2"),
        (19.0, 3, "19"),
        (999.4, 3, "999"),
        (23530.9, 3, "23,531"),
        (1.1102230246251565e-15, 3, "1.11e-15"),
        (1e-9, 3, "1e-09"),
        (0.0, 3, "0"),
        ("RandomForestClassifier", 4, "RandomForestClassifier"),
    ],
)
def test_format_number(value, digits, text):
    assert format_number(value, digits) == text


def test_the_figures_of_the_benchmark_report():
    assert [format_value(v) for v in (0.012345, 1.0, 21.04, 999.4, 23530.9)] == ["0.0123", "1", "21", "999", "23,531"]
    assert [format_seconds(s) for s in (2.5e-5, 0.187, 1.2)] == ["25 µs", "187 ms", "1.2 s"]
    assert [format_ratio(r) for r in (1 / 357, 0.4123, None, -1.0)] == ["1/357", "0.412", "n/a", "n/a"]


@pytest.mark.parametrize(
    ("size", "text"), [(680_443, "680.44 kB"), (4_312_115, "4.31 MB"), (1_000_000, "1.00 MB"), (None, "n/a")]
)
def test_sizes_are_si(size, text):
    # the shipped model.onnx is 680,443 bytes: the documents used to call that "664.5 KB" (KiB)
    assert format_bytes(size) == text


BINARY = {"labels": ["0", "1"], "matrix": [[1928, 4], [37, 31]]}


@pytest.mark.parametrize(
    ("metrics", "target", "sentences"),
    [
        (
            {"confusion_matrix": BINARY, "positive_class": "1"},
            "Machine failure",
            [
                'catches 31 of 68 "Machine failure" cases (37 missed); 4 false alarms among 1,932 rows without '
                '"Machine failure"'
            ],
        ),
        (
            {"confusion_matrix": {"labels": ["fail", "ok"], "matrix": [[5, 1], [1, 93]]}, "positive_class": "fail"},
            "result",
            ['catches 5 of 6 "fail" rows (1 missed); 1 false alarm among 94 "ok" rows'],
        ),
        (
            {"confusion_matrix": {"labels": ["HDF", "none", "TWF"], "matrix": [[20, 3, 0], [2, 1900, 1], [0, 9, 0]]}},
            "Failure mode",
            [
                'catches 20 of 23 "HDF" rows (3 missed); 2 false alarms among 1,912 rows of other classes',
                'catches 1,900 of 1,903 "none" rows (3 missed); 12 false alarms among 32 rows of other classes',
                'catches 0 of 9 "TWF" rows (9 missed); 1 false alarm among 1,926 rows of other classes',
            ],
        ),
        (
            {"mae": 2.9844, "rmse": 4.0104, "r2": 0.83681, "target_unit": "Nm"},
            "Torque [Nm]",
            [
                "off by 2.98 Nm on average (MAE), RMSE 4.01 Nm; R² 0.837 (1 is perfect, 0 no better than always "
                "predicting the mean)"
            ],
        ),
        (
            {"mae": 0.5, "rmse": 0.75, "r2": -0.01},
            "wear",
            [
                "off by 0.5 on average (MAE), RMSE 0.75; R² -0.01 (1 is perfect, 0 no better than always predicting the mean)"
            ],
        ),
    ],
)
def test_the_held_out_results_in_words(metrics, target, sentences):
    from export._format import confusion_sentences

    assert confusion_sentences(metrics, target) == sentences


def test_many_classes_are_cut_short_in_words():
    from export._format import CLASSES_IN_WORDS, confusion_sentences

    labels = [f"c{i}" for i in range(CLASSES_IN_WORDS + 3)]
    matrix = [[5 if row == column else 0 for column in range(len(labels))] for row in range(len(labels))]
    sentences = confusion_sentences({"confusion_matrix": {"labels": labels, "matrix": matrix}}, "y")
    assert len(sentences) == CLASSES_IN_WORDS + 1
    assert sentences[-1] == "and 3 more classes: see the confusion matrix"


@pytest.mark.parametrize(
    ("gate", "text"),
    [
        (
            {
                "passed": False,
                "overridden": True,
                "baseline": 'DummyRegressor(strategy="mean")',
                "checks": [{"metric": "r2", "model": 0.07, "baseline": -0.0002, "margin": 0.1, "passed": False}],
            },
            'FAILED, exported anyway (--allow-weak): against DummyRegressor(strategy="mean") on the same held-out '
            "split, R² 0.07 vs -0.0002 (needs at least +0.1)",
        ),
        (
            {
                "passed": True,
                "overridden": False,
                "baseline": 'DummyClassifier(strategy="prior")',
                "checks": [
                    {"metric": "balanced_accuracy", "model": 0.7269, "baseline": 0.5, "margin": 0.1, "passed": True},
                    {"metric": "macro_f1", "model": 0.7957, "baseline": 0.4914, "margin": 0.1, "passed": True},
                ],
            },
            'passed: against DummyClassifier(strategy="prior") on the same held-out split, balanced accuracy 0.7269 '
            "vs 0.5 (needs at least +0.1); macro F1 0.7957 vs 0.4914 (needs at least +0.1)",
        ),
    ],
)
def test_the_gate_in_words(gate, text):
    from export._format import gate_sentence

    assert gate_sentence(gate) == text
