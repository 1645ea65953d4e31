"""Input validation against the manifest's column specs, before onnxruntime sees anything.

Nothing is coerced: a string in a number column is an error, not a parse; a number in a category
column is an error, not ``str(number)``. Missing values are ``None`` or NaN (and ``""`` in a
category column); they are allowed only where the manifest says the column is nullable, and are then
fed to the graph as NaN (numbers) or ``""`` (categories), the markers its imputers were trained on.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, cast

import numpy as np

from ._contract import MISSING_CATEGORY
from ._errors import InputError
from ._fields import shown
from ._manifest import ColumnSpec

__all__ = [
    "FLAG_KINDS",
    "POLICY_OPTIONS",
    "ColumnRule",
    "Problem",
    "RangePolicy",
    "UnknownPolicy",
    "cap_list",
    "compile_rules",
    "describe_allowed",
    "first_per_column",
    "flag_kind",
    "policy_hints",
]

UnknownPolicy = Literal["reject", "flag"]
RangePolicy = Literal["reject", "flag"]
# The load() option that accepts each kind of refusable value, and its command-line spelling.
POLICY_OPTIONS = {"on_unknown": "--on-unknown", "on_out_of_range": "--on-out-of-range"}
# What a flag starts with, by the policy that accepted the value: "unknown category: shift == 'x'".
FLAG_KINDS = {"on_unknown": "unknown category", "on_out_of_range": "out of range"}


def policy_hints(wording: str) -> dict[str, str]:
    """The hint for each policy, from a wording with ``{option}`` (the command-line option), e.g.
    ``"(pass {option} flag to accept and flag it)"``; for :meth:`Problem.render`'s ``hints``."""
    return {policy: wording.format(option=option) for policy, option in POLICY_OPTIONS.items()}


# How a message tells Python users to accept such values; the CLI and server render their own.
PYTHON_HINTS = {policy: f'(load with {policy}="flag" to accept and flag it)' for policy in POLICY_OPTIONS}


def flag_kind(flag: str) -> str:
    """The kind of a flag (``"unknown category"``, ``"out of range"``), for counting them.

    >>> flag_kind("out of range: temperature == 412.0, outside [100.0, 300.0]")
    'out of range'
    """
    return flag.split(":", 1)[0]


def cap_list(items: Sequence[Any], limit: int = 5) -> str:
    """``['a', 'b', ...]`` with at most ``limit`` items, then "and N more"."""
    shown = ", ".join(repr(item) for item in items[:limit])
    if len(items) > limit:
        return f"[{shown}, and {len(items) - limit} more]"
    return f"[{shown}]"


def _fmt(value: float) -> str:
    return repr(float(value))


def describe_allowed(spec: ColumnSpec) -> str:
    """What the column accepts, in words, for error messages and ``runtime info``."""
    if spec.kind == "number":
        text = "a finite number"
        if spec.valid_range is not None:
            low, high = spec.valid_range
            text += f" within [{_fmt(low)}, {_fmt(high)}]"
    else:
        text = f"a string, one of {cap_list(spec.categories or ())}"
    return text + (" or missing (None)" if spec.nullable else "")


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):
        return value != value
    if isinstance(value, np.floating):
        return bool(np.isnan(value))
    # pandas.NA and NaT, recognised without importing pandas
    return type(value).__name__ in ("NAType", "NaTType")


@dataclass(frozen=True)
class Problem:
    """One rejected value: where it is (row, column), the value, and why, kept apart until rendered.

    A message reads ``<subject><where><reason>[ <hint>].``: for example ``temperature == 412.0``,
    `` in row 17``, ``, must be within [100.0, 300.0] (valid range from ...)``. ``policy`` names the
    load option that would accept the value instead (``on_unknown``, ``on_out_of_range``) and
    ``hint`` says so in words for Python users; the command line and the server render the same
    problem with their own wording (``--on-unknown flag``, see :func:`policy_hints`) instead of
    patching the text.
    """

    row: int | None
    column: str | None
    value: Any
    subject: str
    reason: str
    policy: str | None = None

    @property
    def hint(self) -> str | None:
        return PYTHON_HINTS[self.policy] if self.policy is not None else None

    def render(self, *, row: bool = True, hints: Mapping[str, str] | None = None) -> str:
        """The message; ``row=False`` leaves out " in row N" (for callers that say where themselves),
        ``hints`` (policy -> text) replaces the Python API's hint where the problem has one."""
        where = f" in row {self.row}" if row and self.row is not None else ""
        shown = None
        if self.policy is not None:
            shown = hints.get(self.policy, self.hint) if hints is not None else self.hint
        return f"{self.subject}{where}{self.reason}" + (f" {shown}" if shown else "") + "."

    @property
    def message(self) -> str:
        return self.render()

    def error(self) -> InputError:
        return InputError(self.message, column=self.column, value=self.value, row=self.row, problem=self)


class ColumnRule:
    """The precompiled check for one column: built once at load, run on every call."""

    __slots__ = (
        "spec",
        "name",
        "onnx_input",
        "is_number",
        "nullable",
        "low",
        "high",
        "categories",
        "category_array",
        "allowed",
        "range_text",
    )

    def __init__(self, spec: ColumnSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.onnx_input = spec.onnx_input
        self.is_number = spec.kind == "number"
        self.nullable = spec.nullable
        self.low, self.high = spec.valid_range if spec.valid_range is not None else (-math.inf, math.inf)
        self.categories = frozenset(spec.categories or ())
        self.category_array = np.array(sorted(self.categories), dtype=object)
        self.allowed = describe_allowed(spec)
        self.range_text = f"[{_fmt(self.low)}, {_fmt(self.high)}]"

    # -- messages ---------------------------------------------------------------------------------
    def _problem(self, row: int | None, value: Any, subject: str, reason: str, policy: str | None = None) -> Problem:
        return Problem(row, self.name, value, subject, reason, policy)

    def bad_type(self, value: Any, row: int | None) -> Problem:
        kind = type(value).__name__
        if self.is_number:
            if isinstance(value, str):
                why = "strings are not converted to numbers"
            elif isinstance(value, (bool, np.bool_)):
                why = "booleans are not numbers here"
            else:
                why = f"{kind} is not a number"
        else:
            why = "categories are matched as strings and numbers are not converted"
        return self._problem(
            row, value, f"{self.name} == {shown(value)}", f" has type {kind}, must be {self.allowed}: {why}"
        )

    def missing(self, value: Any, row: int | None) -> Problem:
        return self._problem(
            row,
            value,
            f"{self.name} is missing ({shown(value)})",
            f", but the column does not allow missing values: must be {self.allowed}",
        )

    def too_large(self, value: int, row: int | None) -> Problem:
        return self._problem(
            row, value, f"{self.name} == {shown(value)}", f" is too large for a float, must be {self.allowed}"
        )

    def not_finite(self, value: float, row: int | None) -> Problem:
        return self._problem(row, value, f"{self.name} == {shown(value)}", f", must be {self.allowed}")

    def out_of_range(self, value: float, row: int | None) -> Problem:
        source = self.spec.range_source or "the model manifest"
        return self._problem(
            row,
            value,
            f"{self.name} == {shown(value)}",
            f", must be within {self.range_text} (valid range from {source})",
            "on_out_of_range",
        )

    def unknown(self, value: str, row: int | None) -> Problem:
        return self._problem(
            row,
            value,
            f"{self.name} == {shown(value)}",
            f" is not a known category, must be one of {cap_list(sorted(self.categories))}",
            "on_unknown",
        )

    def flag(self, value: str) -> str:
        return f"{FLAG_KINDS['on_unknown']}: {self.name} == {shown(value)}"

    def range_flag(self, value: Any) -> str:
        return f"{FLAG_KINDS['on_out_of_range']}: {self.name} == {shown(value)}, outside {self.range_text}"

    # -- one value (the single-record hot path) ---------------------------------------------------
    def number(self, value: Any, out_of_range: list[str] | None = None) -> float:
        """The float to feed for ``value``, or raise :class:`InputError`.

        ``out_of_range``: a finite value outside the valid range is accepted and flagged there (the
        ``on_out_of_range="flag"`` policy) instead of refused; None (the default) refuses it. Only
        a value outside the range reaches that branch, so the policy costs nothing otherwise.
        """
        kind = type(value)
        number: float
        if kind is float:
            number = value
        elif kind is int:
            try:
                number = float(value)
            except OverflowError:
                raise self.too_large(value, None).error() from None
        elif isinstance(value, (np.floating, np.integer)) and not isinstance(value, np.bool_):
            number = float(value)
        elif _is_missing(value):
            if not self.nullable:
                raise self.missing(value, None).error()
            return math.nan
        else:
            raise self.bad_type(value, None).error()
        if number != number:
            if not self.nullable:
                raise self.missing(value, None).error()
            return number
        if not self.low <= number <= self.high:
            if math.isinf(number):
                raise self.not_finite(number, None).error()
            if out_of_range is None:
                raise self.out_of_range(value, None).error()
            out_of_range.append(self.range_flag(value))
        return number

    def category(self, value: Any, on_unknown: UnknownPolicy, flags: list[str]) -> str:
        """The string to feed for ``value``, or raise :class:`InputError`; appends to ``flags``."""
        if type(value) is str or isinstance(value, str):
            if value in self.categories:
                return str(value)
            if value == MISSING_CATEGORY:
                if not self.nullable:
                    raise self.missing(value, None).error()
                return MISSING_CATEGORY
            if on_unknown == "reject":
                raise self.unknown(value, None).error()
            flags.append(self.flag(value))
            return str(value)
        if _is_missing(value):
            if not self.nullable:
                raise self.missing(value, None).error()
            return MISSING_CATEGORY
        raise self.bad_type(value, None).error()

    # -- a whole column (batches) -----------------------------------------------------------------
    def number_column(
        self, values: np.ndarray, problems: list[Problem], out_of_range: dict[int, list[str]] | None = None
    ) -> np.ndarray:
        """A float64 array to feed; every bad row is appended to ``problems``. With ``out_of_range``
        (the ``on_out_of_range="flag"`` policy), finite values outside the range are flagged there by
        row instead."""
        if values.dtype.kind in "fiu":
            column = values.astype(np.float64, copy=False)
        elif values.dtype.kind == "b":
            problems.extend(self.bad_type(v, i) for i, v in enumerate(values.tolist()))
            return np.full(len(values), np.nan)
        elif (plain := _plain_numbers(values)) is not None:
            column = plain
        else:
            column = np.empty(len(values), dtype=np.float64)
            wrong_type: list[int] = []
            for i, value in enumerate(values.tolist()):
                kind = type(value)
                if kind is float:
                    column[i] = value
                elif kind is int:
                    try:
                        column[i] = value
                    except OverflowError:  # beyond float range: its own reason, not also "missing"
                        problems.append(self.too_large(value, i))
                        wrong_type.append(i)
                        column[i] = math.nan
                elif isinstance(value, (np.floating, np.integer)) and not isinstance(value, np.bool_):
                    column[i] = float(value)
                elif _is_missing(value):
                    column[i] = math.nan
                else:
                    problems.append(self.bad_type(value, i))
                    wrong_type.append(i)
                    column[i] = math.nan
            if wrong_type:  # already refused for its type: not "missing" as well
                checked = np.isnan(column)
                checked[wrong_type] = False
                return self._check_numbers(values, column, checked, problems, out_of_range)
        return self._check_numbers(values, column, np.isnan(column), problems, out_of_range)

    def _check_numbers(
        self,
        values: np.ndarray,
        column: np.ndarray,
        missing: np.ndarray,
        problems: list[Problem],
        out_of_range: dict[int, list[str]] | None,
    ) -> np.ndarray:
        """Missing values where they are not allowed, and values outside the range."""
        if not self.nullable and missing.any():
            raw = values.tolist()
            problems.extend(self.missing(raw[i], int(i)) for i in np.flatnonzero(missing))
        with np.errstate(invalid="ignore"):
            outside = ~np.isnan(column) & ~((column >= self.low) & (column <= self.high))
        if outside.any():
            raw = values.tolist()  # the values as given (Python scalars), for the messages
            for i in np.flatnonzero(outside).tolist():
                if math.isinf(column[i]):
                    problems.append(self.not_finite(raw[i], i))
                elif out_of_range is None:
                    problems.append(self.out_of_range(raw[i], i))
                else:
                    out_of_range.setdefault(i, []).append(self.range_flag(raw[i]))
        return column

    def category_column(
        self, values: np.ndarray, on_unknown: UnknownPolicy, problems: list[Problem], flags: dict[int, list[str]]
    ) -> np.ndarray:
        """An object array of strings to feed; bad rows go to ``problems``, flags to ``flags``."""
        wrong_type: set[int] = set()
        if values.dtype.kind == "U":
            column = values.astype(object)
        elif set(map(type, values.tolist())) <= {str, type(None)}:  # nothing to check one by one
            column = values.copy()
            column[np.equal(values, cast(Any, None))] = MISSING_CATEGORY
        else:
            column = np.empty(len(values), dtype=object)
            for i, value in enumerate(values.tolist()):
                if isinstance(value, str):
                    column[i] = value
                elif _is_missing(value):
                    column[i] = MISSING_CATEGORY
                else:
                    problems.append(self.bad_type(value, i))
                    wrong_type.add(i)
                    column[i] = MISSING_CATEGORY
        known = np.isin(column, self.category_array)
        if known.all():
            return column
        for i in np.flatnonzero(~known).tolist():
            value = column[i]
            if i in wrong_type:  # already refused for its type: not "missing" as well
                continue
            if value == MISSING_CATEGORY:
                if not self.nullable:
                    problems.append(self.missing(values[i] if values.dtype.kind != "U" else value, int(i)))
            elif on_unknown == "reject":
                problems.append(self.unknown(value, int(i)))
            else:
                flags.setdefault(int(i), []).append(self.flag(value))
        return column


def _plain_numbers(values: np.ndarray) -> np.ndarray | None:
    """An object column holding only Python floats, ints and None as float64 (None as NaN), without
    Python per row; None when anything else is in it, or an int beyond float range: the row-by-row
    checks name those."""
    raw = values.tolist()
    if not set(map(type, raw)) <= {float, int, type(None)}:
        return None
    try:
        return np.array(raw, dtype=np.float64)
    except OverflowError:
        return None


def first_per_column(problems: Iterable[Problem]) -> list[Problem]:
    """One problem per column, the first: a batch can report one value twice (a number given for a
    category of a column that refuses missing values is also counted as missing), and the first
    problem is what is wrong with the value."""
    first: dict[str | None, Problem] = {}
    for problem in problems:
        first.setdefault(problem.column, problem)
    return list(first.values())


def compile_rules(inputs: Iterable[ColumnSpec]) -> tuple[ColumnRule, ...]:
    return tuple(ColumnRule(spec) for spec in inputs)


def column_mismatch(kind: str, given: Iterable[str], expected: Sequence[str], model: str) -> InputError | None:
    """The error for a record or batch whose column names differ from the model's, or None."""
    given_list = list(given)
    given_set = set(given_list)
    missing = [name for name in expected if name not in given_set]
    expected_set = set(expected)
    unknown = [name for name in given_list if name not in expected_set]
    if not missing and not unknown:
        return None
    parts = []
    if missing:
        parts.append(f"missing {cap_list(missing)}")
    if unknown:
        parts.append(f"unknown {cap_list(unknown)}")
    column = (missing or unknown)[0]
    return InputError(
        f"{kind} has {len(given_list)} columns, but model {model} expects {len(expected)}: " + "; ".join(parts) + ".",
        column=column,
    )


def to_columns(data: Any, expected: Sequence[str], model: str) -> tuple[dict[str, np.ndarray], int]:
    """Turn a batch into one 1-D array per column and the row count, checking names and shapes.

    Accepts a mapping of column -> sequence, a sequence of mappings (records), or anything
    DataFrame-like (has ``columns`` and ``__getitem__``), without importing pandas.
    """
    raw = _raw_columns(data, expected, model)
    error = column_mismatch("batch", raw.keys(), expected, model)
    if error is not None:
        raise error
    columns: dict[str, np.ndarray] = {}
    length: int | None = None
    first = ""
    for name in expected:
        array = _column_array(name, raw[name])
        if length is None:
            length, first = len(array), name
        elif len(array) != length:
            raise InputError(
                f"column {name!r} has {len(array)} values, but {first!r} has {length}: "
                "every column needs one value per row.",
                column=name,
            )
        columns[name] = array
    if not length:
        raise InputError("batch is empty: at least one row is needed.")
    return columns, length


def _raw_columns(data: Any, expected: Sequence[str], model: str) -> dict[str, Any]:
    """The batch as column name -> values, whichever of the three forms it came in."""
    if isinstance(data, Mapping):
        return dict(data)
    if hasattr(data, "columns") and hasattr(data, "__getitem__"):
        raw: dict[str, Any] = {}
        for name in list(data.columns):
            column = data[name]
            raw[str(name) if not isinstance(name, str) else name] = (
                column.to_numpy() if hasattr(column, "to_numpy") else column
            )
        return raw
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        return _records_to_columns(list(data), expected, model)
    raise InputError(
        f"batch is a {type(data).__name__}; expected a mapping of column -> values, a list of records, or a DataFrame."
    )


def _records_to_columns(records: list[Any], expected: Sequence[str], model: str) -> dict[str, list[Any]]:
    if not records:
        raise InputError("batch is empty: at least one row is needed.")
    if set(map(type, records)) == {dict} and set(map(len, records)) == {len(expected)}:
        # every record a dict with as many keys as the model has columns: if each has every column,
        # its keys are exactly the model's (the names are distinct), so read them out without Python
        # per row; a missing one falls through to the row-by-row check, which names it
        try:
            return {name: list(map(operator.itemgetter(name), records)) for name in expected}
        except KeyError:
            pass
    for row, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InputError(
                f"row {row} is a {type(record).__name__}, but a list batch must hold mappings "
                "of column -> value (one per record).",
                row=row,
            )
    for row, record in enumerate(records):
        error = column_mismatch(f"row {row}", record.keys(), expected, model)
        if error is not None:
            error.row = row
            raise error
    return {name: [record[name] for record in records] for name in expected}


def _column_array(name: str, values: Any) -> np.ndarray:
    """One column's values as a 1-D array, or InputError naming the column."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
        raise InputError(
            f"column {name!r} is a single {type(values).__name__} ({values!r}), must be a sequence "
            "with one value per row.",
            column=name,
            value=values,
        )
    array = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if array.ndim != 1:
        raise InputError(
            f"column {name!r} must be one-dimensional (one value per row), got shape {array.shape}.",
            column=name,
        )
    return array
