"""The task from the target: scikit-learn's type_of_target rules, --task, the task's default estimator,
and an estimator that does not fit the task refused with the estimators that do (issue 11)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn")

from export._config import DEFAULT_ESTIMATORS, ExportConfig  # noqa: E402
from export._data import detect_task, make_demo_data, prepare_data  # noqa: E402
from export._errors import ExportError  # noqa: E402
from export._pipeline import ESTIMATORS, fitting_estimator  # noqa: E402

CLASSIFIERS = "random_forest, gradient_boosting, hist_gradient_boosting, logistic_regression"
REGRESSORS = "random_forest_regressor, gradient_boosting_regressor, hist_gradient_boosting_regressor, ridge"
COIN = np.array([0, 1] * 10)
TORQUE = np.linspace(3.8, 76.6, 40)
THREE = np.array(["HDF", "none", "TWF"] * 5, dtype=object)


@pytest.mark.parametrize(
    ("values", "requested", "task"),
    [
        (COIN, None, "binary_classification"),
        (np.array([True, False, True]), None, "binary_classification"),
        (np.array(["fail", "ok", "ok"], dtype=object), None, "binary_classification"),
        (THREE, None, "multiclass_classification"),
        (np.array([1.0, 2.0, 3.0, 2.0]), None, "multiclass_classification"),  # whole numbers, as scikit-learn reads
        (TORQUE, None, "regression"),
        (COIN, "regression", "regression"),
        (np.arange(200), "regression", "regression"),
        (np.arange(200), "multiclass", "multiclass_classification"),
        (COIN, "binary", "binary_classification"),
    ],
)
def test_the_task_follows_type_of_target_or_task(values, requested, task):
    assert detect_task(values, "y", requested=requested) == task


@pytest.mark.parametrize(
    ("values", "requested", "message"),
    [
        (
            np.arange(246),
            None,
            "target 'y' holds 246 distinct whole numbers: pass --task regression to predict it as a number, "
            "or --task multiclass for 246 classes",
        ),
        (np.zeros(5), None, "target 'y' has a single value (np.float64(0.0)) in every labelled row: nothing to learn"),
        (
            COIN,
            "multiclass",
            "--task multiclass does not fit target 'y', which has 2 distinct values: use --task binary",
        ),
        (THREE, "binary", "--task binary does not fit target 'y', which has 3 distinct values: use --task multiclass"),
        (
            THREE,
            "regression",
            "target 'y' == 'HDF' is not a number: a regression needs numbers; leave out --task regression to "
            "predict classes",
        ),
        (COIN, "ordinal", "--task 'ordinal' is not known; choose one of binary, multiclass, regression"),
        (
            TORQUE,
            "multiclass",
            "--task multiclass needs classes, but target 'y' holds fractional numbers: use --task regression, or "
            "leave out --task",
        ),
    ],
)
def test_a_target_that_does_not_fit_is_refused_with_the_fix(values, requested, message):
    with pytest.raises(ExportError) as caught:
        detect_task(values, "y", requested=requested)
    assert str(caught.value) == message


def test_each_task_has_a_default_estimator_of_its_kind():
    for task, estimator in DEFAULT_ESTIMATORS.items():
        assert fitting_estimator(None, task, "y") == estimator
        assert ESTIMATORS[estimator][1] == ("regression" if task == "regression" else "classification")
    # the default regressor is depth-limited for the device, like the classifier
    for estimator in set(DEFAULT_ESTIMATORS.values()):
        assert ESTIMATORS[estimator][0](0).max_depth is not None


@pytest.mark.parametrize(
    ("estimator", "task", "message"),
    [
        (
            "random_forest",
            "regression",
            f"--estimator random_forest predicts classes, but target 'Torque [Nm]' is regression: use one of "
            f"{REGRESSORS} (or no --estimator for random_forest_regressor)",
        ),
        (
            "ridge",
            "binary_classification",
            f"--estimator ridge predicts a number, but target 'Torque [Nm]' is binary classification: use one of "
            f"{CLASSIFIERS} (or no --estimator for random_forest), or --task regression to predict the classes as "
            "a number",
        ),
    ],
)
def test_an_estimator_that_does_not_fit_the_task_names_those_that_do(estimator, task, message):
    with pytest.raises(ExportError) as caught:
        fitting_estimator(estimator, task, "Torque [Nm]")
    assert str(caught.value) == message


def test_a_continuous_target_becomes_a_regression_with_a_numeric_target(tmp_path):
    frame = make_demo_data(300, seed=3)
    path = tmp_path / "line.csv"
    frame.to_csv(path, index=False)
    data = prepare_data(ExportConfig(data=path, target="temperature", drop=("defect",)))
    assert data.task == "regression" and data.y_train.dtype == np.float64
    labelled = frame[frame["temperature"].notna()]["temperature"].to_numpy()
    assert sorted(np.concatenate([data.y_train, data.y_test])) == sorted(labelled)


def test_the_cli_names_the_regressors_instead_of_unknown_label_type(tmp_path, capsys):
    from export._cli import main

    path = tmp_path / "line.csv"
    make_demo_data(300, seed=3).to_csv(path, index=False)
    argv = ["--data", str(path), "--target", "temperature", "--estimator", "random_forest"]
    assert main([*argv, "--output", str(tmp_path / "models"), "--no-measure"]) == 4
    lines = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("[")]
    assert lines == [
        f"error: --estimator random_forest predicts classes, but target 'temperature' is regression: use one of "
        f"{REGRESSORS} (or no --estimator for random_forest_regressor)"
    ]
    assert not (tmp_path / "models").exists()


def test_a_user_pipeline_that_does_not_fit_the_task_is_refused():
    from export._pipeline import check_user_pipeline
    from tests.export.user_pipelines import extra_trees

    check_user_pipeline(extra_trees(), "binary_classification", "defect")
    with pytest.raises(ExportError) as caught:
        check_user_pipeline(extra_trees(), "regression", "temperature")
    assert str(caught.value) == (
        f"the Pipeline's last step (ExtraTreesClassifier) predicts classes, but target 'temperature' is regression: "
        f"use one of {REGRESSORS} (or no --estimator for random_forest_regressor)"
    )
