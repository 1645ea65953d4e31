"""The Pipeline and training stages: built-in estimators, --param, user Pipelines, fit and --tune."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("sklearn")

from export import ExportError  # noqa: E402
from export._pipeline import ESTIMATORS, TUNING_GRIDS, build_pipeline, load_user_pipeline, parse_params  # noqa: E402
from export._train import TUNING_FOLDS, train, tuning_grid  # noqa: E402


@pytest.mark.parametrize(
    ("pairs", "params"),
    [
        (["max_depth=8", "n_estimators=50"], {"max_depth": 8, "n_estimators": 50}),
        (
            ["max_depth=None", "bootstrap=false", "max_features=0.5", "criterion=gini"],
            {"max_depth": None, "bootstrap": False, "max_features": 0.5, "criterion": "gini"},
        ),
    ],
)
def test_parse_params(pairs, params):
    assert parse_params(pairs) == params


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda spec: parse_params(["=3"]), "--param '=3' must look like name=value, e.g. max_depth=8"),
        (lambda spec: build_pipeline(spec, "svm"), "estimator 'svm' is not known; choose one of "),
        (lambda spec: build_pipeline(spec, params={"depth": 3}), "--param for random_forest: Invalid parameter"),
        (lambda spec: load_user_pipeline("no_colon"), "--pipeline 'no_colon' must look like module:function"),
        (
            lambda spec: load_user_pipeline("user_pipelines:nothing"),
            "--pipeline 'user_pipelines:nothing': user_pipelines has no callable 'nothing'",
        ),
        (
            lambda spec: load_user_pipeline("user_pipelines:NUMERIC"),
            "--pipeline 'user_pipelines:NUMERIC': user_pipelines has no callable 'NUMERIC'",
        ),
    ],
)
def test_refusals_name_the_option(tiny_data, call, message):
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        with pytest.raises(ValueError) as caught:
            call(tiny_data.spec)
    finally:
        sys.path.remove(str(Path(__file__).parent))
    assert str(caught.value).startswith(message)


def test_every_estimator_has_a_grid_and_the_default_forest_is_depth_limited(tiny_data):
    assert set(TUNING_GRIDS) == set(ESTIMATORS)
    forest = build_pipeline(tiny_data.spec, seed=7).steps[-1][1]
    assert (forest.max_depth, forest.n_estimators, forest.random_state) == (10, 100, 7)
    with pytest.raises(ExportError, match="^--tune has no grid for 'mod:factory'$"):
        tuning_grid("random_forest", "mod:factory")


def test_a_plain_fit_records_no_search(tiny_data):
    pipeline = build_pipeline(tiny_data.spec, params={"n_estimators": 5, "max_depth": 3})
    messages: list[str] = []
    fitted, search = train(
        pipeline, tiny_data.x_train, tiny_data.y_train, task=tiny_data.task, progress=messages.append
    )
    assert search is None and fitted is pipeline and hasattr(fitted.steps[-1][1], "estimators_")
    assert messages == [f"training: RandomForestClassifier on {len(tiny_data.x_train):,} rows"]


def test_tuning_records_every_candidate(tiny_data):
    pipeline = build_pipeline(tiny_data.spec, params={"n_estimators": 5})
    grid = {"model__max_depth": [2, None], "model__min_samples_leaf": [1, 5]}
    fitted, search = train(pipeline, tiny_data.x_train, tiny_data.y_train, task=tiny_data.task, grid=grid)
    assert search["grid"] == grid and search["cv"] == TUNING_FOLDS and search["scoring"] == "average_precision"
    assert len(search["candidates"]) == 4
    best = max(search["candidates"], key=lambda c: c["mean_score"])
    assert search["best_score"] == best["mean_score"] and search["best_params"] == best["params"]
    assert fitted.steps[-1][1].max_depth == search["best_params"]["model__max_depth"]


@pytest.mark.slow
def test_tuning_records_the_search(tmp_path):
    from export import ExportConfig, run_export

    result = run_export(ExportConfig(output=tmp_path, demo_rows=1500, measure=False, tune=True))
    search = result.manifest.training.tuning
    assert len(search["candidates"]) == 6
    assert search["grid"] == {"model__n_estimators": [100, 200], "model__max_depth": [5, 10, None]}
    assert result.parity.passed
