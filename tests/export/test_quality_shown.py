"""What a person sees of a model's quality (issue 11, must show 1 and 3): a regressor's report draws its
predicted-vs-actual and residual plots and a classifier's its PR curve, checked on headless
Chromium's screenshot of the page; the console names the rare class's recall and precision and
says the confusion matrix in words.

The fast tests use a 1,500-row slice of ai4i2020 (10 trees); the slow ones run the real exports.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("sklearn")
pd = pytest.importorskip("pandas")

from export import ExportConfig, run_export  # noqa: E402
from tests.conftest import AI4I  # noqa: E402
from tests.export.rendered import CHROMIUM, embedded_charts, screenshot, where_drawn  # noqa: E402

AI4I_DROP = ("UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF")
TORQUE = "Torque [Nm]"
REGRESSION_PLOTS = ("predicted vs actual values", "residuals against predicted values")
needs_ai4i = pytest.mark.skipif(not AI4I.is_file(), reason="needs ../shared/datasets/ai4i2020.csv")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium-headless-shell (see .ci/run)")


def _torque_export(output: Path, data: Path, **options):
    config = ExportConfig(data=data, target=TORQUE, drop=(*AI4I_DROP, "Machine failure"), output=output, **options)
    return run_export(config)


@pytest.fixture(scope="module")
def torque_slice_export(tmp_path_factory):
    if not AI4I.is_file():
        pytest.skip("needs ../shared/datasets/ai4i2020.csv")
    folder = tmp_path_factory.mktemp("torque")
    pd.read_csv(AI4I).head(1500).to_csv(folder / "ai4i-slice.csv", index=False)
    return _torque_export(folder / "models", folder / "ai4i-slice.csv", measure=False, params={"n_estimators": 10})


def _assert_charts_drawn(report: Path, alts: tuple[str, ...], tmp_path: Path) -> None:
    charts = embedded_charts(report.read_text(encoding="utf-8"))
    assert set(alts) <= set(charts), sorted(charts)
    shot = screenshot(report, tmp_path / "report.png")
    for alt in alts:
        assert where_drawn(shot, charts[alt]) is not None, f"{alt} is not drawn on the rendered page"


def test_a_torque_target_gets_the_depth_limited_regressor(torque_slice_export):
    result = torque_slice_export
    manifest = result.manifest
    assert manifest.task == "regression" and result.config.estimator == "random_forest_regressor"
    assert manifest.training.estimator == "RandomForestRegressor"
    assert manifest.training.estimator_params["max_depth"] == 8
    metrics = result.metrics
    assert metrics["target_unit"] == "Nm" and metrics["target_unit_source"] == "the column name"
    assert metrics["rmse"] >= metrics["mae"] > 0 and metrics["r2"] > 0.5
    assert metrics["versus_unconstrained"]["limits"] == {"max_depth": 8}
    assert metrics["quality_gate"]["passed"]


def test_the_regression_report_shows_r2_errors_in_nm_and_both_plots(torque_slice_export, tmp_path):
    report = (torque_slice_export.bundle / "report.html").read_text(encoding="utf-8")
    metrics = torque_slice_export.metrics
    for name, key in (("MAE", "mae"), ("RMSE", "rmse")):
        assert re.search(rf"<td>{name}</td><td>[0-9.]+ Nm</td>", report), name
        assert f"{metrics[key]:.4g} Nm" in report or f"{metrics[key]:.3g} Nm" in report
    assert "<td>R²</td>" in report
    assert "Off by " in report and " Nm on average (MAE)" in report
    for alt in REGRESSION_PLOTS:
        assert f'alt="{alt}"' in report


@needs_chromium
def test_the_regression_plots_are_drawn_on_the_rendered_page(torque_slice_export, tmp_path):
    _assert_charts_drawn(torque_slice_export.bundle / "report.html", REGRESSION_PLOTS, tmp_path)


@needs_chromium
def test_the_pr_curve_is_drawn_on_the_rendered_page(tiny_export, tmp_path):
    _assert_charts_drawn(tiny_export.bundle / "report.html", ("PR curve", "confusion matrix heatmap"), tmp_path)


# -- the real exports ------------------------------------------------------------------------------


@pytest.mark.slow
@needs_ai4i
def test_ai4i_failure_console_shows_recall_precision_and_words(tmp_path, capsys):
    from export._cli import main

    argv = ["--data", str(AI4I), "--target", "Machine failure", "--drop", *AI4I_DROP]
    assert main([*argv, "--output", str(tmp_path), "--no-measure"]) == 0
    out = capsys.readouterr().out
    import runtime

    metrics = runtime.load(tmp_path / "ai4i2020-machine-failure").manifest.metrics.to_dict()
    failure = metrics["per_class"]["1"]
    line = (
        f"class 1 (the one to catch): recall {failure['recall']:.4f}, precision {failure['precision']:.4f}, "
        f"F1 {failure['f1']:.4f}, {failure['support']:,} held-out rows"
    )
    assert line in out
    (good, alarms), (missed, caught) = metrics["confusion_matrix"]["matrix"]
    words = (
        f'catches {caught:,} of {caught + missed:,} "Machine failure" cases ({missed:,} missed); '
        f'{alarms:,} false alarms among {good + alarms:,} rows without "Machine failure"'
    )
    assert words in out
    assert caught + missed == failure["support"] and failure["recall"] == pytest.approx(caught / (caught + missed))
    assert "quality gate passed" in out


@pytest.mark.slow
@needs_ai4i
@needs_chromium
def test_ai4i_torque_exports_a_small_regressor_with_both_plots(tmp_path):
    result = _torque_export(tmp_path / "models", AI4I, measure=False)
    manifest, metrics = result.manifest, result.metrics
    assert manifest.training.estimator_params["max_depth"] == 8
    assert manifest.model_file.size < 2_000_000  # a fully grown forest is 17 MB
    assert metrics["r2"] > 0.8 and metrics["quality_gate"]["passed"]
    assert metrics["versus_unconstrained"]["difference_pp"]["r2"] > -0.5  # no quality lost to the limit
    _assert_charts_drawn(result.bundle / "report.html", REGRESSION_PLOTS, tmp_path)


def test_a_regressors_parity_is_told_in_values_not_labels(torque_slice_export, capsys):
    """A regressor has no labels: the console, ``export check`` and ``runtime info`` speak of values."""
    from export._cli import _parity_lines
    from export._cli import main as export_main
    from runtime._cli import main as runtime_main

    result = torque_slice_export
    lines = _parity_lines(result.parity)
    assert lines[0].startswith(f"  parity: {result.parity.total_cases:,} cases, max relative |diff| of values ")
    assert not any("mismatch" in line for line in lines)
    assert export_main(["check", str(result.bundle)]) == 0
    captured = capsys.readouterr()
    assert "mismatch" not in captured.out + captured.err and "parity holds: " in captured.err
    assert runtime_main(["info", str(result.bundle)]) == 0
    [parity_line] = [line for line in capsys.readouterr().out.splitlines() if line.startswith("parity ")]
    assert "max relative |diff| of values" in parity_line and "mismatch" not in parity_line
