"""The parity proof: the hard cases, both sides on them, and deliberate breaks that must fail it.

Fast tests run the stages on the tiny export's 400 rows; the slow ones break a demo-sized export on
purpose and check that nothing is made current.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("skl2onnx")

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

import export  # noqa: E402
import runtime  # noqa: E402
from export import ExportConfig, ParityError, run_export  # noqa: E402
from export._cli import main as export_main  # noqa: E402
from export._columns import column_specs  # noqa: E402
from export._config import Destination, PreparedData  # noqa: E402
from export._convert import convert  # noqa: E402
from export._data import DEMO_NUMERIC_RANGES, prepare_data  # noqa: E402
from export._manifest import draft_manifest  # noqa: E402
from export._parity import device_model, prove_parity  # noqa: E402
from export._parity.cases import THRESHOLD_OFFSETS, UNKNOWN_CATEGORY, generate_cases  # noqa: E402
from export._pipeline import build_pipeline  # noqa: E402
from export._train import train  # noqa: E402
from runtime._contract import ExitCode  # noqa: E402


def _proof(data: PreparedData, estimator: str, params: dict, *, break_graph=None):
    """The export's stages up to the proof: build, fit, convert (optionally sabotaged), prove."""
    pipeline = build_pipeline(data.spec, estimator, seed=0, params=params)
    pipeline, _ = train(pipeline, data.x_train, data.y_train, task=data.task)
    converted = convert(pipeline, data.spec, data.x_train)
    if break_graph is not None:
        model = break_graph(onnx.load_from_string(converted.onnx_bytes))
        converted = dataclasses.replace(converted, onnx_bytes=model.SerializeToString())
    columns = column_specs(data.spec, data.features, {}, demo_ranges=DEMO_NUMERIC_RANGES)
    manifest = draft_manifest(
        ExportConfig(), Destination("quality", Path("unused"), "1.0.0"), data, columns, pipeline, converted
    )
    return prove_parity(pipeline, device_model(manifest, converted.onnx_bytes), data, seed=0)


def test_every_kind_of_case_is_built(tiny_export, tiny_data):
    sets = {
        s.kind: s
        for s in generate_cases(
            tiny_export.pipeline,
            tiny_data.spec,
            tiny_data.x_train,
            tiny_data.x_test,
            nullable={c.name: c.nullable for c in tiny_export.manifest.inputs},
            ranges={c.name: c.valid_range for c in tiny_export.manifest.inputs if c.valid_range},
        )
    }
    assert list(sets) == [
        "held-out",
        "threshold",
        "missing",
        "unknown-category",
        "range-boundary",
        "recombined",
        "near-tie",
    ]
    assert len(sets["held-out"].frame) == len(tiny_data.x_test)
    assert (sets["unknown-category"].frame[["machine_type", "shift"]] == UNKNOWN_CATEGORY).any(axis=None)
    missing = sets["missing"].frame
    assert missing["temperature"].isna().any() and (missing["shift"] == "").any()
    assert len(sets["recombined"].frame) == 20_000
    gaps = np.diff(np.sort(tiny_export.pipeline.predict_proba(sets["near-tie"].frame), axis=1)[:, -2:], axis=1)
    assert (gaps < 0.02).all() and sets["near-tie"].details["pool"] > 0


def test_threshold_cases_straddle_every_split(tiny_export):
    threshold = tiny_export.parity.kinds["threshold"]
    assert threshold["split_nodes"] > 10 and threshold["probes_per_node"] == len(THRESHOLD_OFFSETS)
    assert threshold["at_or_below_threshold"] == threshold["above_threshold"] > 0
    assert threshold["max_ulps_from_boundary"] <= 2


def test_the_tiny_proof_passes_with_golden_cases_of_every_kind(tiny_export):
    parity = tiny_export.parity
    assert parity.passed and parity.label_mismatches == 0 and parity.max_abs_diff <= parity.tolerance == 1e-9
    assert parity.total_cases == sum(row["cases"] for kind, row in parity.kinds.items() if kind != "tie")
    kinds = {case.kind for case in parity.golden}
    assert kinds >= {"held-out", "threshold", "missing", "unknown-category", "range-boundary", "recombined"}
    assert all(case.probabilities is not None and case.label in (0, 1) for case in parity.golden)


@pytest.mark.parametrize(
    ("estimator", "params", "regression"),
    [
        ("gradient_boosting", {"n_estimators": 20}, False),
        ("hist_gradient_boosting", {"max_iter": 20}, False),
        ("logistic_regression", {}, False),
        ("random_forest_regressor", {"n_estimators": 5, "max_depth": 5}, True),
        ("hist_gradient_boosting_regressor", {"max_iter": 20}, True),
        ("ridge", {}, True),
    ],
)
def test_other_estimators_agree_on_tiny_data(estimator, params, regression):
    data = prepare_data(ExportConfig(demo_rows=400, task="regression" if regression else None))
    parity = _proof(data, estimator, params)
    assert parity.passed and parity.label_mismatches == 0
    assert parity.max_abs_diff <= 1e-12
    assert ("near-tie" in parity.kinds) is not regression


def _shift_scaler_mean(model: onnx.ModelProto) -> onnx.ModelProto:
    """Sabotage: move the scaler's temperature mean by 0.05 scaled units, as a wrong converter would."""
    subtract = next(node for node in model.graph.node if node.op_type == "Sub")
    initializer = next(i for i in model.graph.initializer if i.name == subtract.input[1])
    mean = numpy_helper.to_array(initializer).copy()
    mean.flat[0] += 0.05
    initializer.CopyFrom(numpy_helper.from_array(mean, initializer.name))
    return model


def _round_thresholds_to_float32(model: onnx.ModelProto) -> onnx.ModelProto:
    """Sabotage: store split thresholds as the nearest float32, the classic converter bug."""
    trees = next(node for node in model.graph.node if node.op_type == "TreeEnsemble")
    splits = next(a for a in trees.attribute if a.name == "nodes_splits")
    values = numpy_helper.to_array(splits.t)
    splits.t.CopyFrom(numpy_helper.from_array(values.astype(np.float32).astype(np.float64), splits.t.name))
    return model


def test_a_broken_graph_fails_the_tiny_proof(tiny_data):
    parity = _proof(tiny_data, "random_forest", {"n_estimators": 8, "max_depth": 4}, break_graph=_shift_scaler_mean)
    assert not parity.passed and parity.max_abs_diff > 1e-6
    failed = [case for case in parity.worst if case["failed"]]
    assert failed and failed == sorted(failed, key=lambda case: -case["abs_diff"])
    assert str(ParityError(parity)).startswith("parity failed: ")


@pytest.mark.slow
def test_broken_parity_fails_the_export_and_keeps_the_current_version(tmp_path, monkeypatch, capsys):
    run_export(ExportConfig(output=tmp_path, demo_rows=3000, measure=False))
    real = export._convert.to_onnx
    monkeypatch.setattr(export._convert, "to_onnx", lambda *args: _shift_scaler_mean(real(*args)))
    with pytest.raises(ParityError) as caught:
        run_export(ExportConfig(output=tmp_path, demo_rows=3000, measure=False))
    message = str(caught.value)
    assert message.startswith("parity failed: ")
    assert "the current version was not changed" in message
    assert "threshold: {'temperature': " in message
    assert caught.value.report.max_abs_diff > 1e-6
    assert (tmp_path / "quality" / "CURRENT").read_text().strip() == "1.0.0"
    assert not (tmp_path / "quality" / "1.0.1").exists()
    assert (tmp_path / "quality" / ".rejected" / "1.0.1" / "parity.json").is_file()
    assert message.endswith(f"full parity report: {tmp_path / 'quality' / '.rejected' / '1.0.1' / 'parity.json'}")
    # the CLI reports the same with exit code 9 (PARITY_FAILED)
    assert (
        export_main(["--output", str(tmp_path), "--demo-rows", "3000", "--no-measure"]) == ExitCode.PARITY_FAILED == 9
    )
    assert "parity failed" in capsys.readouterr().err
    assert (tmp_path / "quality" / "CURRENT").read_text().strip() == "1.0.0"
    assert sorted(p.name for p in (tmp_path / "quality").iterdir()) == [".rejected", "1.0.0", "1.0.0.joblib", "CURRENT"]


@pytest.mark.slow
def test_float32_thresholds_are_caught_by_the_threshold_cases(tmp_path, monkeypatch):
    real = export._convert.to_onnx
    monkeypatch.setattr(export._convert, "to_onnx", lambda *args: _round_thresholds_to_float32(real(*args)))
    with pytest.raises(ParityError) as caught:
        run_export(ExportConfig(output=tmp_path, demo_rows=3000, measure=False))
    kinds = caught.value.report.kinds
    assert kinds["threshold"]["max_abs_diff"] > 1e-3
    assert kinds["held-out"]["max_abs_diff"] < kinds["threshold"]["max_abs_diff"]
    assert not (tmp_path / "quality" / "CURRENT").exists()


@pytest.mark.slow
def test_threshold_cases_straddle_every_split_of_the_demo_forest(demo_export):
    threshold = demo_export.parity.kinds["threshold"]
    assert threshold["split_nodes"] > 1000
    assert threshold["at_or_below_threshold"] == threshold["above_threshold"] > 0
    assert threshold["max_ulps_from_boundary"] <= 2


@pytest.mark.slow
def test_fully_grown_forest_ties_are_broken_like_scikit_learn(tmp_path):
    result = run_export(ExportConfig(output=tmp_path, demo_rows=3000, measure=False, params={"max_depth": None}))
    assert result.parity.ties > 0  # pure leaves: many exact 0.5/0.5 votes
    assert result.parity.kinds["tie"]["label_mismatches"] == 0
    assert result.parity.graphs["device.onnx"] == {**result.parity.graphs["device.onnx"], "passed": True}
    assert result.parity.graphs["device.onnx"]["label_mismatches"] == 0
    assert "versus_unconstrained" not in result.metrics
    assert any(case.kind == "tie" for case in result.manifest.golden_cases)


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["gradient_boosting", "hist_gradient_boosting", "logistic_regression"])
def test_other_estimators_pass_parity(tmp_path, estimator):
    # parity is the point here, not quality: a linear model of the demo's band rules misses the quality gate
    config = ExportConfig(output=tmp_path, demo_rows=3000, measure=False, estimator=estimator, allow_weak=True)
    result = run_export(config)
    assert result.parity.passed and result.parity.label_mismatches == 0
    assert result.parity.max_abs_diff <= 1e-12
    # a linear model does not fold into trees: no device graph, the runtime runs model.onnx
    folded = estimator != "logistic_regression"
    assert (result.manifest.device_graph is not None) == folded == (result.bundle / "device.onnx").exists()
    assert runtime.load(result.bundle).graph_file == ("device.onnx" if folded else "model.onnx")


def test_a_long_case_set_is_compared_in_chunks_with_progress_and_the_same_outcome(tiny_export, tiny_data, monkeypatch):
    """The threshold cases of a big forest take ~20 s: they are compared in chunks that report progress."""
    from export._parity import compare

    model = device_model(tiny_export.manifest, (tiny_export.bundle / "model.onnx").read_bytes())
    whole = prove_parity(tiny_export.pipeline, model, tiny_data, seed=0)
    monkeypatch.setattr(compare, "CHUNK_ROWS", 1_000)
    monkeypatch.setattr(compare, "PROGRESS_EVERY_S", 0.0)
    said: list[str] = []
    chunked = prove_parity(tiny_export.pipeline, model, tiny_data, seed=0, progress=said.append)
    # the same cases and verdicts; differences move by an ulp or so (onnxruntime's batch size changes its summation)
    assert chunked.passed and whole.passed and chunked.label_mismatches == whole.label_mismatches == 0
    assert {k: r["cases"] for k, r in chunked.kinds.items()} == {k: r["cases"] for k, r in whole.kinds.items()}
    assert abs(chunked.max_abs_diff - whole.max_abs_diff) <= 1e-15
    recombined = chunked.kinds["recombined"]["cases"]
    assert recombined > 2_000
    steps = [line for line in said if line.startswith("parity: recombined: ")]
    assert steps[0] == f"parity: recombined: 1,000 of {recombined:,} cases compared"
    assert len(steps) == (recombined - 1) // 1_000  # every chunk but the last says how far it got
