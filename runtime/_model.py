"""A loaded, verified model: :func:`load` and the :class:`Model` it returns."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from ._bundle import check_signed_files, read_graph_bytes, read_manifest, read_model_bytes, resolve_bundle
from ._device_graph import DeviceGraph
from ._errors import BundleError, InputError
from ._manifest import GoldenCase, Label, Manifest
from ._packed import PackedInput
from ._session_checks import check_session
from ._signature import SignatureCheck, TrustedKeySource, open_seal, trusted_keys_from, unverified
from ._validation import (
    ColumnRule,
    Problem,
    RangePolicy,
    UnknownPolicy,
    cap_list,
    column_mismatch,
    compile_rules,
    to_columns,
)

__all__ = ["BatchPrediction", "Model", "Prediction", "RejectedRow", "load", "session_options"]

logger = logging.getLogger(__name__)

# A default forest loads in about 0.1 s and a fully grown one in 0.5 s on a 2-core gateway.
LOAD_DEADLINE_S = 60.0


@dataclass(frozen=True, slots=True)
class Prediction:
    """The prediction for one record.

    ``label`` and ``probabilities`` (class -> probability, in class order) are set for classifiers,
    ``value`` for regressors. ``flags`` lists what was accepted but unusual (unknown categories when
    the model was loaded with ``on_unknown="flag"``, values outside the valid range with
    ``on_out_of_range="flag"``). ``model`` and ``version`` name what served it.
    """

    label: Label | None
    probabilities: Mapping[Label, float] | None
    value: float | None
    model: str
    version: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class RejectedRow:
    """A batch row that failed validation and was not predicted, with every reason found.

    ``reasons`` are the messages as the Python API words them; ``problems`` the same reasons as
    parts, for callers that word them their own way (``Problem.render``).
    """

    row: int
    reasons: tuple[str, ...]
    problems: tuple[Problem, ...] = ()


@dataclass(frozen=True)
class BatchPrediction:
    """The predictions for a batch.

    ``rows`` are the input row indices that were predicted (all of them unless rows were skipped
    with ``errors="skip"``; those are in ``rejected``). ``labels[i]``, ``probabilities[i]`` (columns
    in ``classes`` order) or ``values[i]`` belong to input row ``rows[i]``. ``flags`` maps an input
    row to what was accepted but unusual in it.
    """

    model: str
    version: str
    rows: np.ndarray
    classes: tuple[Label, ...] | None = None
    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    values: np.ndarray | None = None
    rejected: tuple[RejectedRow, ...] = ()
    flags: Mapping[int, tuple[str, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rows)


class Model:
    """A verified bundle with an open onnxruntime session. Create it with :func:`load`.

    Examples
    --------
    >>> import runtime
    >>> model = runtime.load("models/quality")  # doctest: +SKIP
    >>> model.predict({"temperature": 201.5, "pressure": 48.0, "speed": 101.0, "humidity": 45.0,
    ...                "vibration": 0.8, "machine_type": "B", "shift": "night"}).label  # doctest: +SKIP
    0
    """

    def __init__(
        self,
        manifest: Manifest,
        session: ort.InferenceSession,
        path: Path,
        *,
        on_unknown: UnknownPolicy,
        on_out_of_range: RangePolicy = "reject",
        signature: SignatureCheck | None = None,
        device_graph: DeviceGraph | None = None,
    ) -> None:
        self.manifest = manifest
        self.path = path
        # whether model.sig verified with a trusted key, and with which (see runtime._signature)
        self.signature = signature if signature is not None else SignatureCheck()
        self.on_unknown: UnknownPolicy = on_unknown
        self.on_out_of_range: RangePolicy = on_out_of_range
        self._session = session
        self._rules: tuple[ColumnRule, ...] = compile_rules(manifest.inputs)
        self._names = tuple(rule.name for rule in self._rules)
        self._name_set = frozenset(self._names)
        self._label = f"{manifest.name!r} {manifest.version}"
        if manifest.is_classifier:
            assert manifest.classes is not None and manifest.outputs.probabilities is not None
            self.classes: tuple[Label, ...] | None = manifest.classes
            self._class_array = np.array(manifest.classes)
            self._output_names = [manifest.outputs.probabilities]
        else:
            assert manifest.outputs.value is not None
            self.classes = None
            self._output_names = [manifest.outputs.value]
        self._tie = manifest.label_tie_tolerance
        # (positive class index, negative class index, cutoff) under a decision threshold, else None
        self._threshold_rule = _threshold_rule(manifest)
        self._model_name, self._model_version = manifest.name, manifest.version
        self._local = threading.local()
        # the session runs the manifest's device graph (one packed input) when it is given
        self.graph_file = device_graph.file.path if device_graph is not None else manifest.model_file.path
        outputs = len(self.classes) if self.classes is not None else 1
        self._packed = (
            PackedInput(device_graph, self._rules, session, self._output_names[0], outputs)
            if device_graph is not None
            else None
        )

    # -- descriptive ------------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def columns(self) -> tuple[str, ...]:
        """Input column names, in the manifest's order."""
        return self._names

    @property
    def rules(self) -> tuple[ColumnRule, ...]:
        """The compiled check of each input column, in the manifest's order (built once at load)."""
        return self._rules

    def __repr__(self) -> str:
        return f"<Model {self._label} task={self.manifest.task} path={str(self.path)!r}>"

    # -- single record ----------------------------------------------------------------------------
    def predict(self, record: Mapping[str, Any]) -> Prediction:
        """Validate one record (column -> value) and predict it.

        Raises :class:`InputError` naming the column, the value and what is allowed.
        """
        if not isinstance(record, Mapping):
            raise InputError(f"record is a {type(record).__name__}; expected a mapping of column -> value.")
        if record.keys() != self._name_set:
            error = column_mismatch("record", record.keys(), self._names, self._label)
            if error is not None:
                raise error
        flags: list[str] = []
        on_unknown = self.on_unknown
        out_of_range = flags if self.on_out_of_range == "flag" else None
        if self._packed is not None:
            output = self._packed.run(record, on_unknown, flags, out_of_range)
        else:
            buffers, feeds = self._single_record_buffers()
            for rule, buffer in zip(self._rules, buffers):
                value = record[rule.name]
                buffer[0, 0] = (
                    rule.number(value, out_of_range) if rule.is_number else rule.category(value, on_unknown, flags)
                )
            output = self._session.run(self._output_names, feeds)[0]
        if self.classes is None:
            return Prediction(None, None, float(output[0, 0]), self._model_name, self._model_version, tuple(flags))
        probabilities = output[0].tolist()
        decision = self._threshold_rule
        if decision is not None:  # the decision threshold (runtime.Decision)
            index = decision[0] if probabilities[decision[0]] >= decision[2] else decision[1]
        else:
            # scikit-learn's argmax takes the first class among equals; see Manifest.label_tie_tolerance.
            threshold = max(probabilities) - self._tie
            index = 0
            while probabilities[index] < threshold:  # a plain loop: this is the hot path
                index += 1
        return Prediction(
            self.classes[index],
            dict(zip(self.classes, probabilities)),
            None,
            self._model_name,
            self._model_version,
            tuple(flags),
        )

    def _single_record_buffers(self) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
        """Per-thread (1, 1) input arrays, filled in place on every call.

        Allocating seven small arrays per call costs more than onnxruntime's own overhead; reusing
        them is safe because ``run`` is synchronous and each thread has its own set.
        """
        try:
            return self._local.buffers, self._local.feeds
        except AttributeError:
            buffers = [np.empty((1, 1), dtype=np.float64 if rule.is_number else object) for rule in self._rules]
            feeds = {rule.onnx_input: buffer for rule, buffer in zip(self._rules, buffers)}
            self._local.buffers, self._local.feeds = buffers, feeds
            return buffers, feeds

    # -- batches ----------------------------------------------------------------------------------
    def validate_batch(
        self, data: Any, *, on_unknown: UnknownPolicy | None = None, on_out_of_range: RangePolicy | None = None
    ) -> tuple[dict[str, np.ndarray], int, list[Problem], dict[int, list[str]]]:
        """Check a batch and build the arrays to feed: (feeds, n_rows, problems, flags by row)."""
        columns, n_rows = to_columns(data, self._names, self._label)
        policy = self.on_unknown if on_unknown is None else _checked_policy("on_unknown", on_unknown)
        range_policy = self.on_out_of_range if on_out_of_range is None else on_out_of_range
        problems: list[Problem] = []
        flags: dict[int, list[str]] = {}
        out_of_range = flags if _checked_policy("on_out_of_range", range_policy) == "flag" else None
        feeds: dict[str, np.ndarray] = {}
        for rule in self._rules:
            values = columns[rule.name]
            if rule.is_number:
                feeds[rule.onnx_input] = rule.number_column(values, problems, out_of_range).reshape(-1, 1)
            else:
                feeds[rule.onnx_input] = rule.category_column(values, policy, problems, flags).reshape(-1, 1)
        return feeds, n_rows, problems, flags

    def predict_batch(
        self,
        data: Any,
        *,
        errors: str = "raise",
        on_unknown: UnknownPolicy | None = None,
        on_out_of_range: RangePolicy | None = None,
    ) -> BatchPrediction:
        """Validate and predict many records at once.

        Parameters
        ----------
        data : a mapping of column -> sequence, a list of records, or a DataFrame-like object.
        errors : ``"raise"`` (default) raises :class:`InputError` for the first bad row, saying how
            many rows are bad; ``"skip"`` predicts the good rows and lists the bad ones, with every
            reason, in ``BatchPrediction.rejected``.
        on_unknown : override the model's unknown-category policy for this call.
        on_out_of_range : override the model's valid-range policy for this call.
        """
        return self._predict_batch(data, errors=errors, on_unknown=on_unknown, on_out_of_range=on_out_of_range)

    def _predict_batch(
        self,
        data: Any,
        *,
        errors: str = "raise",
        on_unknown: UnknownPolicy | None = None,
        on_out_of_range: RangePolicy | None = None,
        run_options: ort.RunOptions | None = None,
    ) -> BatchPrediction:
        if errors not in ("raise", "skip"):
            raise ValueError(f"errors == {errors!r}, must be 'raise' or 'skip'")
        feeds, n_rows, problems, flags = self.validate_batch(
            data, on_unknown=on_unknown, on_out_of_range=on_out_of_range
        )
        rows = np.arange(n_rows)
        rejected: tuple[RejectedRow, ...] = ()
        if problems:
            by_row: dict[int, list[Problem]] = {}
            for problem in problems:
                by_row.setdefault(problem.row if problem.row is not None else -1, []).append(problem)
            if errors == "raise":
                first = min(problems, key=lambda p: p.row if p.row is not None else -1)
                error = first.error()
                error.invalid_rows = (len(by_row), n_rows)
                error.args = (error.render(),)
                raise error
            rejected = tuple(
                RejectedRow(row, tuple(problem.message for problem in found), tuple(found))
                for row, found in sorted(by_row.items())
            )
            keep = np.ones(n_rows, dtype=bool)
            keep[[r.row for r in rejected]] = False
            rows = rows[keep]
            feeds = {name: array[keep] for name, array in feeds.items()}
        rejected_rows = {r.row for r in rejected}
        kept_flags = {row: tuple(reasons) for row, reasons in flags.items() if row not in rejected_rows}
        if len(rows) == 0:
            return BatchPrediction(self.name, self.version, rows, self.classes, rejected=rejected)
        if self._packed is not None:
            feeds = self._packed.batch(feeds)
        output = self._session.run(self._output_names, feeds, run_options)[0]
        if self.classes is None:
            return BatchPrediction(
                self.name,
                self.version,
                rows,
                values=np.asarray(output, dtype=np.float64).reshape(-1),
                rejected=rejected,
                flags=kept_flags,
            )
        probabilities = np.asarray(output, dtype=np.float64)  # float64 already for exported graphs
        return BatchPrediction(
            self.name,
            self.version,
            rows,
            self.classes,
            labels=self.labels_from_probabilities(probabilities),
            probabilities=probabilities,
            rejected=rejected,
            flags=kept_flags,
        )

    def labels_from_probabilities(self, probabilities: np.ndarray) -> np.ndarray:
        """Class labels by scikit-learn's rule: the first class among the most probable, or with a
        decision threshold the positive class where its probability reaches the threshold."""
        rule = self._threshold_rule
        if rule is not None:
            index = np.where(probabilities[:, rule[0]] >= rule[2], rule[0], rule[1])
        else:
            top = probabilities.max(axis=1, keepdims=True)
            index = np.argmax(probabilities >= top - self._tie, axis=1)
        labels: np.ndarray = self._class_array[index]
        return labels

    # -- load-time self-test ----------------------------------------------------------------------
    def _check_golden_cases(
        self, cases: Sequence[GoldenCase], *, deadline_s: float | None = None, load_deadline_s: float | None = None
    ) -> None:
        if not cases:
            raise BundleError(f"bundle {self._label} has no golden cases; the runtime cannot prove it reproduces them")
        records = [case.inputs for case in cases]
        # A graph that never finishes (a huge Loop) is stopped by onnxruntime's terminate flag.
        run_options = ort.RunOptions()
        run_options.log_severity_level = 4  # a terminated run is reported below, in one line
        timer = threading.Timer(deadline_s, setattr, (run_options, "terminate", True)) if deadline_s else None
        if timer is not None:
            timer.daemon = True
            timer.start()
        try:
            result = self._predict_batch(records, on_unknown="flag", run_options=run_options)
        except InputError as error:
            raise BundleError(f"golden cases of {self._label} do not match its own input schema: {error}") from None
        except Exception as error:  # onnxruntime's own exception types; a terminated run is one of them
            if run_options.terminate:
                raise BundleError(
                    f"the golden cases of {self._label} did not finish within the load's deadline of "
                    f"{load_deadline_s or deadline_s:g} s; the graph runs too long for a device (or never ends)"
                ) from None
            raise BundleError(
                f"onnxruntime {ort.__version__} cannot run model.onnx of {self._label}: {_first_line(error)}"
            ) from None
        finally:
            if timer is not None:
                timer.cancel()
        tolerance = self.manifest.tolerance
        for index, case in enumerate(cases):
            if self.classes is not None:
                assert result.labels is not None and result.probabilities is not None
                got_label = result.labels[index].item()
                got = result.probabilities[index]
                expected = np.asarray(case.probabilities, dtype=np.float64)
                worst = float(np.max(np.abs(got - expected))) if expected.shape == got.shape else math.inf
                if got_label != case.label or not worst <= tolerance:
                    raise BundleError(
                        f"golden case {index} ({case.kind}) does not reproduce with onnxruntime {ort.__version__}: "
                        f"expected label {case.label!r} with probabilities {_short(expected)}, "
                        f"got {got_label!r} with {_short(got)} "
                        f"(tolerance {tolerance:g}; label rule: {self.manifest.label_rule()}); "
                        "use the onnxruntime version in the bundle's requirements"
                    )
            else:
                assert result.values is not None and case.value is not None
                got_value = float(result.values[index])
                allowed = tolerance * max(1.0, abs(case.value))
                if not abs(got_value - case.value) <= allowed:
                    raise BundleError(
                        f"golden case {index} ({case.kind}) does not reproduce with onnxruntime {ort.__version__}: "
                        f"expected {case.value!r}, got {got_value!r} (tolerance {allowed:g}); "
                        "use the onnxruntime version in the bundle's requirements"
                    )


def _checked_policy(name: str, policy: UnknownPolicy) -> UnknownPolicy:
    """``policy`` if it is "reject" or "flag"; ValueError naming the option otherwise."""
    if policy not in ("reject", "flag"):
        raise ValueError(f"{name} == {policy!r}, must be 'reject' or 'flag'")
    return policy


def _threshold_rule(manifest: Manifest) -> tuple[int, int, float] | None:
    """The decision threshold as (positive index, negative index, cutoff), worked out once at load.

    The cutoff sits ``label_tie_tolerance`` below the threshold: a probability that close counts as
    at the threshold, as an exact hit does in scikit-learn (see :class:`runtime.Decision`).
    """
    decision, classes = manifest.decision, manifest.classes
    if decision is None or classes is None:
        return None
    positive_index = decision.positive_index(classes)  # Manifest checked: a binary classifier's class
    return positive_index, 1 - positive_index, decision.threshold - manifest.label_tie_tolerance


def _short(values: np.ndarray) -> str:
    """Probabilities to 12 significant digits: enough to see a difference above the tolerance."""
    return cap_list([float(f"{float(v):.12g}") for v in values])


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _within(deadline_s: float | None, call: Any, what: str) -> Any:
    """``call()``, or a BundleError when it takes longer than ``deadline_s``.

    The call runs in a daemon thread that is abandoned at the deadline (onnxruntime cannot cancel
    building a session); it goes on until it ends and then frees what it held.
    """
    if deadline_s is None:
        return call()
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as error:  # handed to the caller's thread
            outcome["error"] = error

    worker = threading.Thread(target=run, name="bundle-load", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise BundleError(f"{what} did not finish within {deadline_s:g} s; the load was abandoned")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def session_options(*, threads: int = 1, arena: bool = False, spinning: bool = False) -> ort.SessionOptions:
    """Session options for small devices: fixed thread count, no spinning, sequential execution.

    ``threads`` is set explicitly because onnxruntime's default reads the host's cores, not a
    container's CPU limit (onnxruntime #8313). Spinning threads keep burning CPU after each call, so
    they are off. The CPU arena grows and is not returned to the system (onnxruntime #11627), so it
    is off unless asked for.
    """
    if threads < 1:
        raise ValueError(f"threads == {threads!r}, must be >= 1")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.enable_cpu_mem_arena = arena
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "1" if spinning else "0")
    return options


def _open_session(
    model_bytes: bytes, options: ort.SessionOptions, label: str, deadline_s: float | None
) -> ort.InferenceSession:
    """An onnxruntime session over the verified bytes, within ``deadline_s``; BundleError otherwise."""
    try:
        return _within(
            deadline_s,
            lambda: ort.InferenceSession(model_bytes, sess_options=options, providers=["CPUExecutionProvider"]),
            f"opening model.onnx of {label}",
        )
    except BundleError:
        raise
    except Exception as error:  # onnxruntime raises its own exception types, not rooted in ValueError
        raise BundleError(
            f"onnxruntime {ort.__version__} cannot open model.onnx of {label}: {_first_line(error)}"
        ) from error


def load(
    path: str | os.PathLike[str],
    *,
    threads: int = 1,
    on_unknown: UnknownPolicy = "reject",
    on_out_of_range: RangePolicy = "reject",
    arena: bool = False,
    spinning: bool = False,
    options: ort.SessionOptions | None = None,
    deadline_s: float | None = LOAD_DEADLINE_S,
    trusted_keys: Iterable[TrustedKeySource] | None = None,
) -> Model:
    """Verify a bundle and open it for prediction.

    Where any trusted key is configured (``trusted_keys`` or the machine's trust directory, see
    :mod:`runtime._signature`), ``model.sig`` must verify with one of them and cover every file of
    the folder, and each file must hash to its signed digest, or the bundle is refused. Without a
    trusted key it loads unverified (``model.signature`` says so).

    Before onnxruntime sees the file, the manifest is read (unknown or newer schema versions are
    refused), and the model file's size and sha256 are checked and external data references refused.
    Then the session's inputs and outputs are compared with the manifest, and every golden case is
    replayed: a bundle this onnxruntime does not reproduce is refused, naming the case.

    Parameters
    ----------
    path : a version folder (``models/quality/1.0.0``) or a model folder whose ``CURRENT`` file
        names the version (``models/quality``).
    threads : onnxruntime intra-op threads. 1 gives the lowest single-record latency on small devices.
    on_unknown : ``"reject"`` (default) refuses categories the model was not trained on;
        ``"flag"`` predicts them (the encoder ignores them) and lists them in the result's flags.
    on_out_of_range : ``"reject"`` (default) refuses a number outside its column's valid range;
        ``"flag"`` predicts it as it is and lists it in the result's flags. Values that are not
        finite, or too large for a float, are refused either way.
    arena, spinning : onnxruntime's CPU memory arena and thread spinning, both off by default.
    options : a complete ``onnxruntime.SessionOptions`` replacing the three above.
    deadline_s : opening the session and replaying the golden cases together may take this long
        (default ``LOAD_DEADLINE_S``); past it the load is refused with :class:`BundleError`, so a
        graph that never finishes cannot hang a device. None waits without limit.
    trusted_keys : EC public keys (paths to PEM files, or PEM bytes) a signature may be made with, in
        addition to every ``*.pem`` in the trust directory (``/etc/factory-edge/trusted-keys/`` or
        ``$FACTORY_EDGE_TRUSTED_KEYS``). Verifying needs the ``verify`` extra (``cryptography``).

    Examples
    --------
    >>> import runtime
    >>> model = runtime.load("models/quality")  # doctest: +SKIP
    >>> model.name, model.version  # doctest: +SKIP
    ('quality', '1.0.0')
    """
    _checked_policy("on_unknown", on_unknown)
    _checked_policy("on_out_of_range", on_out_of_range)
    folder = resolve_bundle(path)
    seal = open_seal(folder, trusted_keys_from(trusted_keys))
    manifest = read_manifest(folder, seal)
    model_bytes = read_model_bytes(folder, manifest, seal)
    device_graph = manifest.device_graph
    if device_graph is not None:  # the public graph is proven intact too, but not opened
        model_bytes = read_graph_bytes(folder, device_graph.file, "device_graph.file", seal)
    check_signed_files(seal)  # every signed byte is proven before onnxruntime sees any
    signature = seal.result if seal is not None else unverified(folder)
    label = f"{manifest.name!r} {manifest.version}"
    started = time.monotonic()
    options = options or session_options(threads=threads, arena=arena, spinning=spinning)
    session = _open_session(model_bytes, options, label, deadline_s)
    check_session(manifest, session, label)
    model = Model(
        manifest,
        session,
        folder,
        on_unknown=on_unknown,
        on_out_of_range=on_out_of_range,
        signature=signature,
        device_graph=device_graph,
    )
    remaining = None if deadline_s is None else max(0.001, deadline_s - (time.monotonic() - started))
    model._check_golden_cases(manifest.golden_cases, deadline_s=remaining, load_deadline_s=deadline_s)
    logger.info(
        "loaded %s from %s (%s; %d golden cases reproduced; signature %s)",
        label,
        folder,
        model.graph_file,
        len(manifest.golden_cases),
        signature.describe(),
    )
    return model
