"""The parity proof: scikit-learn and the device path (runtime + onnxruntime) on hard cases.

:mod:`.cases` builds the case sets, :mod:`.compare` runs both sides on them and writes the report.
:func:`prove_parity` is the whole proof for one fitted Pipeline and one device model; the export
runs it on the graph it just converted, ``export check`` on a bundle as it is on disk.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from sklearn.pipeline import Pipeline

import runtime

from .._config import ParityReport, PreparedData
from .cases import CaseSet, decision_cases, generate_cases
from .compare import run_parity

__all__ = ["CaseSet", "device_model", "generate_cases", "prove_parity", "run_parity"]


def device_model(manifest: runtime.Manifest, onnx_bytes: bytes) -> runtime.Model:
    """The runtime's model over ``onnx_bytes`` before any bundle exists, unknown categories flagged.

    The proof runs with the device's default session options (one thread): the same summation
    order the device will use.
    """
    session = ort.InferenceSession(
        onnx_bytes, sess_options=runtime.session_options(), providers=["CPUExecutionProvider"]
    )
    return runtime.Model(manifest, session, Path("."), on_unknown="flag")


def prove_parity(
    pipeline: Pipeline,
    model: runtime.Model,
    data: PreparedData,
    *,
    seed: int,
    progress: Callable[[str], None] = lambda message: None,
    classifier: Any = None,
) -> ParityReport:
    """Build every case set from ``data`` and the columns of ``model``'s manifest, and compare both sides.

    ``classifier`` is what scikit-learn labels with where it is not ``pipeline`` itself: with a
    decision threshold, the ``TunedThresholdClassifierCV`` / ``FixedThresholdClassifier`` around it.
    Its labels are compared with the runtime's rule on onnxruntime's probabilities in every case
    set, and the ``decision-threshold`` set holds the rows at and around the threshold.
    """
    columns = model.manifest.inputs
    ranges = {c.name: c.valid_range for c in columns if c.valid_range is not None}
    sets = generate_cases(
        pipeline,
        data.spec,
        data.x_train,
        data.x_test,
        nullable={c.name: c.nullable for c in columns},
        ranges=ranges,
        seed=seed,
        progress=progress,
    )
    decision, classes = model.manifest.decision, model.manifest.classes
    if decision is not None and classes is not None:
        progress(f"parity: searching rows at and around the decision threshold {decision.threshold:.6g}")
        sets.append(
            decision_cases(
                classifier if classifier is not None else pipeline,
                data.spec,
                data.x_train,
                data.x_test,
                ranges,
                threshold=decision.threshold,
                positive_index=decision.positive_index(classes),
                rng=np.random.default_rng(seed + 1),
            )
        )
    labeller = classifier if classifier is not None else pipeline
    return run_parity(labeller, model, sets, tolerance=model.manifest.tolerance, progress=progress)
