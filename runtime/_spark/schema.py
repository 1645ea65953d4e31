"""Spark types against the manifest's columns, checked on the driver before any task runs, and the
schema of what :func:`runtime.spark.predict` returns.

A number column takes Spark's double, float and integer types; a category column takes strings;
either takes a column of nulls only (``NullType``, e.g. ``lit(None)``). Nothing else is converted:
a string column where a number is expected, a boolean or a decimal, is refused here with the
column, its type and what is allowed, as ``predict_batch`` refuses such values one by one. Names are
matched exactly, as the runtime matches them (Spark's own resolution ignores case by default).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import pyarrow as pa
from pyspark.sql import types as T

from .._errors import InputError
from .._manifest import Label
from .._model import Model
from .._validation import ColumnRule, cap_list

__all__ = ["added_columns", "arrow_label_type", "check_schema", "output_schema"]

NUMBER_TYPES: tuple[type[T.DataType], ...] = (
    T.DoubleType,
    T.FloatType,
    T.LongType,
    T.IntegerType,
    T.ShortType,
    T.ByteType,
    T.NullType,
)
CATEGORY_TYPES: tuple[type[T.DataType], ...] = (T.StringType, T.CharType, T.VarcharType, T.NullType)
_NUMBER_NAMES = "double, float, bigint, int, smallint or tinyint"


def added_columns(model: Model, *, flags: bool) -> list[str]:
    """The columns predict adds after the input's: predictions, then model, version, reject_reason."""
    if model.classes is not None:
        predictions = ["label", *(f"probability_{label}" for label in model.classes)]
    else:
        predictions = ["value"]
    return [*predictions, "model", "version", "reject_reason", *(["flags"] if flags else [])]


def arrow_label_type(classes: Sequence[Label]) -> pa.DataType:
    """The label column's type: the classes' own (the manifest gives them one), as Arrow writes it."""
    if all(isinstance(label, bool) for label in classes):
        return pa.bool_()
    if all(isinstance(label, int) and not isinstance(label, bool) for label in classes):
        return pa.int64()
    if all(isinstance(label, str) for label in classes):
        return pa.string()
    return pa.float64()


_SPARK_LABEL_TYPES: dict[pa.DataType, T.DataType] = {
    pa.bool_(): T.BooleanType(),
    pa.int64(): T.LongType(),
    pa.string(): T.StringType(),
    pa.float64(): T.DoubleType(),
}


def output_schema(schema: T.StructType, model: Model, *, flags: bool) -> T.StructType:
    """The input's fields, untouched, then the added columns (all nullable: a rejected row has none)."""
    added: list[T.StructField] = []
    if model.classes is not None:
        added.append(T.StructField("label", _SPARK_LABEL_TYPES[arrow_label_type(model.classes)], True))
        added += [T.StructField(f"probability_{label}", T.DoubleType(), True) for label in model.classes]
    else:
        added.append(T.StructField("value", T.DoubleType(), True))
    added += [T.StructField(name, T.StringType(), True) for name in ("model", "version", "reject_reason")]
    if flags:
        added.append(T.StructField("flags", T.ArrayType(T.StringType(), False), True))
    return T.StructType([*schema.fields, *added])


def check_schema(schema: T.StructType, model: Model, *, flags: bool) -> None:
    """Raise :class:`InputError` naming the first problem: a missing, doubled or mistyped model column,
    or an input column with the name of one predict adds."""
    label = f"model {model.name!r} {model.version}"
    names = [field.name for field in schema.fields]
    twice = [name for name, count in Counter(names).items() if count > 1 and name in model.columns]
    if twice:
        raise InputError(
            f"DataFrame has the column {twice[0]!r} more than once; {label} reads it once.", column=twice[0]
        )
    present = set(names)
    missing = [name for name in model.columns if name not in present]
    if missing:
        raise InputError(_missing_text(missing, names, label), column=missing[0])
    types = {field.name: field.dataType for field in schema.fields}
    for rule in model.rules:
        _check_type(rule, types[rule.name], label)
    taken = [name for name in added_columns(model, flags=flags) if name in present]
    if taken:
        raise InputError(
            f"DataFrame already has the column {taken[0]!r}, which predict adds "
            f"({cap_list(added_columns(model, flags=flags))}): rename or drop it first.",
            column=taken[0],
        )


def _missing_text(missing: list[str], names: list[str], label: str) -> str:
    text = f"DataFrame has no column {cap_list(missing)}, which {label} needs"
    by_lower = {name.lower(): name for name in names}
    near = [f"{by_lower[name.lower()]!r}" for name in missing if name.lower() in by_lower]
    if near:
        text += f" (names are matched exactly; the DataFrame has {', '.join(near)})"
    return text + "; other columns pass through untouched."


def _check_type(rule: ColumnRule, data_type: T.DataType, label: str) -> None:
    allowed = NUMBER_TYPES if rule.is_number else CATEGORY_TYPES
    if isinstance(data_type, allowed):
        return
    if rule.is_number:
        must = f"a number column ({_NUMBER_NAMES})"
        why = (
            "strings are not converted to numbers"
            if isinstance(data_type, T.StringType)
            else f"{data_type.simpleString()} is not converted"
        )
    else:
        must = "a string column"
        why = "categories are matched as strings and numbers are not converted"
    raise InputError(
        f"column {rule.name!r} is {data_type.simpleString()} in the DataFrame, but {label} needs {must}: {why}. "
        "Cast it yourself if that is what the values mean.",
        column=rule.name,
    )
