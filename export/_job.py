"""The export job: data -> fitted Pipeline -> ONNX -> parity proof -> versioned bundle.

:func:`run_export` is what ``python -m export`` calls: the stages in order, each given what it
needs and returning its result, so data flows one way; every stage reports through ``progress``.

1. options (:func:`check_options`), data (:mod:`._data`) and the task, from the target
   (:func:`._data.detect_task`), column checks (:mod:`._column_checks`: an ID-like or leaking
   column refuses the export here, before training), columns (:mod:`._columns`), destination and
   interface guard (:mod:`._interface`), the estimator that fits the task
2. train (:mod:`._train`), metrics (:mod:`._metrics`), the quality gate (:mod:`._gate`: a model no
   better than the baseline raises :class:`WeakModelError` before anything is written), convert
   (:mod:`._convert`)
3. draft manifest (:mod:`._manifest`), parity proof (:mod:`._parity`): on failure the report goes
   to ``.rejected/`` and :class:`ParityError` is raised before anything a device could pick up
4. evidence into the manifest, then in a staging folder (:mod:`._publish`): model and manifest,
   performance and budget (:mod:`._performance`), side files, joblib twin, documents
   (:mod:`._documents`), the signature last when a key is given; renamed into place, loaded back
   (verifying the signature), and only then made current.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from sklearn.pipeline import Pipeline

import runtime
from runtime._contract import DEVICE_MODEL_FILE, MODEL_FILE

from . import _convert, _fold, _manifest, _parity, _performance, _publish
from ._column_checks import check_columns, refuse_hard_findings
from ._columns import column_specs, read_schema_file
from ._config import ConvertedModel, Destination, ExportConfig, ExportResult, ParityReport, PreparedData, check_options
from ._data import DEMO_NUMERIC_RANGES, prepare_data
from ._documents import write_documents
from ._errors import ParityError
from ._gate import quality_gate
from ._heartbeat import Heartbeat
from ._interface import interface_of
from ._metrics import measure_quality, predict_held_out
from ._pipeline import build_pipeline, check_user_pipeline, fitting_estimator, load_user_pipeline
from ._sign import public_key_pem
from ._train import check_training_options, fit_model, tuning_grid

__all__ = ["run_export"]

Progress = Callable[[str], None]


@contextlib.contextmanager
def _timed(timings: dict[str, float], key: str, progress: Progress, message: str | None = None) -> Iterator[None]:
    if message:
        progress(message)
    start = time.perf_counter()
    yield
    timings[key] = time.perf_counter() - start


def run_export(config: ExportConfig, progress: Progress = lambda message: None) -> ExportResult:
    """Run the whole export; see the module docstring for the order of things and guarantees.

    No step stays silent for more than a few seconds: :class:`._heartbeat.Heartbeat` speaks up for
    the steps that cannot report their own progress.
    """
    with Heartbeat(progress) as heartbeat:
        return _run_stages(config, heartbeat)


def _run_stages(config: ExportConfig, progress: Progress) -> ExportResult:
    timings: dict[str, float] = {}
    started = time.perf_counter()
    check_options(config)
    check_training_options(config)  # --scoring, --class-weight, --threshold, --objective
    if config.sign_key is not None:
        public_key_pem(config.sign_key)  # a missing or wrong key fails now, not after training
    user_pipeline = load_user_pipeline(config.pipeline) if config.pipeline else None
    data = prepare_data(config)
    findings = check_columns(data, allowed=config.allow_columns, progress=progress)
    refuse_hard_findings(findings, data.spec.target)
    for finding in findings:
        progress(f"warning: {finding.describe()}")
    schema = read_schema_file(config.schema) if config.schema else {}
    demo_ranges = DEMO_NUMERIC_RANGES if config.demo else None
    columns = column_specs(data.spec, data.features, schema, demo_ranges=demo_ranges, range_margin=config.range_margin)
    where = _publish.destination(config, interface_of(data, columns))
    config, pipeline = _pipeline_for(config, user_pipeline, data)
    grid = tuning_grid(config.estimator, config.pipeline) if config.tune else None

    with _timed(timings, "train_s", progress):
        fitted = fit_model(pipeline, data, config, grid=grid, progress=progress)
    pipeline, search = fitted.pipeline, fitted.search  # with --threshold, fitted.classifier wraps pipeline
    with _timed(timings, "metrics_s", progress, "metrics: held-out split, permutation importance"):
        held_out = predict_held_out(fitted.classifier, data)
        positive = fitted.decision.positive_class if fitted.decision else None
        metrics = measure_quality(
            pipeline, data, held_out, seed=config.seed, schema=schema, classifier=fitted.classifier, positive=positive
        )
    metrics["quality_gate"] = quality_gate(data, metrics, allow_weak=config.allow_weak, progress=progress)
    with _timed(timings, "convert_s", progress, "converting to ONNX"):
        converted = _convert.convert(pipeline, data.spec, data.x_train)
        folded = _fold.fold_pipeline(pipeline, data.spec)
    progress(_fold_message(folded))

    manifest = _manifest.draft_manifest(config, where, data, columns, pipeline, converted)
    manifest = dataclasses.replace(manifest, decision=fitted.decision, device_graph=folded.section)
    with _timed(timings, "parity_s", progress, "parity: building hard cases"):
        device = _parity.device_model(manifest, converted.onnx_bytes)
        graphs = {MODEL_FILE: device}
        if folded.onnx_bytes is not None and folded.section is not None:
            graphs[DEVICE_MODEL_FILE] = device = _parity.device_model(
                manifest, folded.onnx_bytes, device_graph=folded.section
            )
        parity = _parity.prove_graphs(
            pipeline, graphs, data, seed=config.seed, progress=progress, classifier=fitted.classifier
        )
    if not parity.passed:
        raise ParityError(parity, _publish.reject(where, parity))
    manifest = _manifest.with_evidence(
        manifest, device, data, pipeline, metrics=metrics, parity=parity, search=search, user_pipeline=config.pipeline
    )
    result = ExportResult(
        config=config,
        manifest=manifest,
        bundle=where.bundle,
        joblib_path=where.joblib_path,
        pipeline=pipeline,
        parity=parity,
        metrics=metrics,
        search=search,
        joblib_report=[],  # measured when the twin is saved
        data_summary=data.summary,
        onnx_summary=converted.summary,
        documents=[],  # written last, into the staging folder
        timings=timings,
        column_findings=[finding.to_dict() for finding in findings],
        classifier=fitted.classifier,
        threshold=fitted.threshold,
        held_out=held_out,
    )
    result = _publish_bundle(result, where, converted, folded, data, progress)
    timings["total_s"] = time.perf_counter() - started
    return result


def _fold_message(folded: _fold.FoldedGraph) -> str:
    if folded.onnx_bytes is None:
        return f"device graph: none, the runtime will run model.onnx (not folded: {'; '.join(folded.not_folded)})"
    kept = f"; kept as nodes: {', '.join(folded.kept)}" if folded.kept else ""
    size = f"{len(folded.onnx_bytes):,} bytes"
    return f"device graph: folded {', '.join(folded.folded) or 'nothing'} into the trees{kept} ({size})"


def _pipeline_for(
    config: ExportConfig, user_pipeline: Pipeline | None, data: PreparedData
) -> tuple[ExportConfig, Pipeline]:
    """The unfitted Pipeline for the data's task, and the config naming the estimator it got (the
    task's default when none was named); one that does not fit the task is an ExportError."""
    if user_pipeline is not None:
        check_user_pipeline(user_pipeline, data.task, data.spec.target)
        return config, user_pipeline
    estimator = fitting_estimator(config.estimator, data.task, data.spec.target)
    pipeline = build_pipeline(data.spec, estimator, seed=config.seed, params=config.params)
    return dataclasses.replace(config, estimator=estimator), pipeline


def _publish_bundle(
    result: ExportResult,
    where: Destination,
    converted: ConvertedModel,
    folded: _fold.FoldedGraph,
    data: PreparedData,
    progress: Progress,
) -> ExportResult:
    """Stage the bundle, measure it, write its side files, twin and documents, and make it current.

    Returns ``result`` completed with what only exists once the bundle does: the measured manifest,
    the joblib twin's sizes per compression level, and the documents' paths.
    """
    config, manifest = result.config, result.manifest
    with _publish.staging(where) as folder:
        _publish.write_model(folder, converted.onnx_bytes)
        if folded.onnx_bytes is not None:
            _publish.write_model(folder, folded.onnx_bytes, DEVICE_MODEL_FILE)
        _publish.write_manifest(folder, manifest)
        if config.measure:
            manifest = dataclasses.replace(manifest, performance=_measured(folder, result.parity, config, progress))
            _publish.write_manifest(folder, manifest)
        _publish.write_side_files(folder, manifest, result.parity)
        metadata = _publish.twin_metadata(manifest, data, result.metrics, config)
        classifier = result.classifier if manifest.decision is not None else None
        joblib_report = _publish.save_twin(
            result.pipeline, metadata, where, compress=config.compress, progress=progress, classifier=classifier
        )
        result = dataclasses.replace(result, manifest=manifest, joblib_report=joblib_report)
        progress("writing the model card, report and deployment checklist")
        written = write_documents(folder, result)
        trusted_key = None
        if config.sign_key is not None:
            progress(f"signing the bundle with {config.sign_key}")
            trusted_key = _publish.sign(folder, config.sign_key, where)  # after the last file, before CURRENT moves
        progress(f"loading {where.version} back (hash, manifest, golden cases) and making it current")
        _publish.make_current(folder, where, trusted_key=trusted_key)
    return dataclasses.replace(result, documents=[where.bundle / path.name for path in written])


def _measured(folder: Path, parity: ParityReport, config: ExportConfig, progress: Progress) -> runtime.Performance:
    """Performance of the staging bundle on one golden case, with the budget's verdict (or BudgetError)."""
    performance = _performance.measure(folder, parity.golden[0].inputs, progress)
    budget = _performance.check_budget(performance, config.max_memory_mb, config.max_latency_us)
    return dataclasses.replace(performance, budget=budget)
