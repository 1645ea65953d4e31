"""Reading typed fields out of a parsed manifest, each refusal one line naming the field (``BundleError``).

``where`` is the path of the enclosing object, e.g. ``"drift_reference.columns['temperature']."``, so
a message reads ``manifest field drift_reference.columns['temperature'].bin_shares == ... ``. Shown
values are cut to a short ``repr``: a manifest is read before it is trusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

from ._errors import BundleError

__all__ = [
    "refusing_duplicate_keys",
    "count",
    "finite",
    "finite_list",
    "json_object",
    "optional",
    "require",
    "share_map",
    "shown",
    "text_list",
]

T = TypeVar("T")
SHOWN_CHARS = 60


def shown(value: Any) -> str:
    """``repr(value)``, cut to ``SHOWN_CHARS`` characters."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str(): say what it is instead
        return f"<an integer of about {int(value.bit_length() * 0.30103):,} digits>"
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


def _refuse(where: str, key: str, value: Any, expected: str) -> BundleError:
    return BundleError(f"manifest field {where}{key} == {shown(value)}, expected {expected}")


def require(data: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], where: str) -> T:
    """``data[key]``, which must exist and be of ``kind`` (booleans are not numbers)."""
    if key not in data:
        raise BundleError(f"manifest field {where}{key} is missing")
    value = data[key]
    numeric = kind in (int, float) or (isinstance(kind, tuple) and set(kind) <= {int, float})
    if not isinstance(value, kind) or (numeric and isinstance(value, bool)):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise BundleError(
            f"manifest field {where}{key} == {shown(value)} has type {type(value).__name__}, expected {names}"
        )
    return cast(T, value)


def optional(data: Mapping[str, Any], key: str, kind: type[T] | tuple[type, ...], where: str) -> T | None:
    """Like :func:`require`, but a missing key or null gives None."""
    if data.get(key) is None:
        return None
    return require(data, key, kind, where)


def finite(
    data: Mapping[str, Any],
    key: str,
    where: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    missing_ok: bool = False,
) -> float | None:
    """A finite number within [low, high]; None only with ``missing_ok`` (absent or null)."""
    value = optional(data, key, (int, float), where) if missing_ok else require(data, key, (int, float), where)
    if value is None:
        return None
    if not (math.isfinite(value) and low <= value <= high):
        span = f" within [{low}, {high}]" if (low, high) != (-math.inf, math.inf) else ""
        raise _refuse(where, key, value, f"a finite number{span}")
    return float(value)


def count(data: Mapping[str, Any], key: str, where: str, *, missing_ok: bool = False) -> int | None:
    """A whole number >= 0; None only with ``missing_ok``."""
    value = optional(data, key, int, where) if missing_ok else require(data, key, int, where)
    if value is not None and value < 0:
        raise _refuse(where, key, value, "a whole number >= 0")
    return value


def finite_list(data: Mapping[str, Any], key: str, where: str, *, increasing: bool = False) -> tuple[float, ...]:
    """A list of finite numbers (non-decreasing with ``increasing``)."""
    values = require(data, key, list, where)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values):
        raise _refuse(where, key, values, "a list of finite numbers")
    if increasing and any(b < a for a, b in zip(values, values[1:])):
        raise _refuse(where, key, values, "numbers in increasing order")
    return tuple(float(v) for v in values)


def share_map(data: Mapping[str, Any], key: str, where: str) -> dict[str, float]:
    """A mapping of names to shares in [0, 1] (they need not add up: a missing share is allowed)."""
    values = require(data, key, dict, where)
    for name, share in values.items():
        if not (isinstance(share, (int, float)) and not isinstance(share, bool) and 0.0 <= share <= 1.0):
            raise BundleError(
                f"manifest field {where}{key}[{shown(name)}] == {shown(share)}, expected a share in [0, 1]"
            )
    return {str(name): float(share) for name, share in values.items()}


def text_list(data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    values = require(data, key, list, where)
    if not all(isinstance(v, str) for v in values):
        raise _refuse(where, key, values, "a list of strings")
    return tuple(values)


def json_object(data: Mapping[str, Any], key: str, where: str) -> dict[str, Any] | None:
    """An optional JSON object kept as it is (for free-form detail such as importances)."""
    value = optional(data, key, dict, where)
    return dict(value) if value is not None else None


def refusing_duplicate_keys(error: Callable[[str], Exception]) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    """A ``json.loads`` ``object_pairs_hook`` that raises ``error(key)`` for a key named twice in one
    object (JSON leaves it to the reader, and Python's default keeps the last one silently)."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in pairs:
            if key in result:
                raise error(key)
            result[key] = value
        return result

    return hook
