"""The exceptions factory-edge raises, rooted in built-ins so existing ``except`` clauses work.

::

    FactoryEdgeError                      base of everything below
    ├── InputError(ValueError)            a record or batch does not match the model's input schema
    ├── BundleError(ValueError)           a bundle is refused at load: hash, files, manifest, golden cases
    │   └── SchemaVersionError            the manifest's schema version is unknown or newer than supported
    └── export.ParityError(RuntimeError)  (export side) scikit-learn and onnxruntime disagree

Every message names the field, the value, what is allowed and, where there is one, the fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._validation import Problem

__all__ = ["FactoryEdgeError", "InputError", "BundleError", "SchemaVersionError"]


class FactoryEdgeError(Exception):
    """Base class of every error factory-edge raises on purpose."""


class InputError(FactoryEdgeError, ValueError):
    """An input record or batch does not match the model's input schema.

    Attributes
    ----------
    column : the column at fault, or None when the problem is the batch's shape.
    value : the offending value, or None.
    row : the 0-based row within the batch, or None for a single record.
    problem : the validation problem behind the message, when there is one; ``render`` words it
        again for another caller (without the row, with another hint).
    invalid_rows : for a batch refused as a whole, (rows with problems, rows in the batch), which the
        message and ``render`` add after the first problem when more than one row is bad.
    """

    def __init__(
        self,
        message: str,
        *,
        column: str | None = None,
        value: Any = None,
        row: int | None = None,
        problem: Problem | None = None,
        invalid_rows: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(message)
        self.column = column
        self.value = value
        self.row = row
        self.problem = problem
        self.invalid_rows = invalid_rows

    def render(self, *, row: bool = True, hints: Mapping[str, str] | None = None) -> str:
        """The message, worded by the problem behind it when there is one (see ``Problem.render``)."""
        if self.problem is None:
            return str(self)
        return self.problem.render(row=row, hints=hints) + count_suffix(self.invalid_rows)


def count_suffix(invalid_rows: tuple[int, int] | None) -> str:
    """`` (3 of 10 rows are invalid.)`` after a batch's first problem, when more than one row is bad."""
    if invalid_rows is None or invalid_rows[0] <= 1:
        return ""
    return f" ({invalid_rows[0]} of {invalid_rows[1]} rows are invalid.)"


class BundleError(FactoryEdgeError, ValueError):
    """A model bundle was refused at load; nothing from it was run."""


class SchemaVersionError(BundleError):
    """The manifest's schema version is not one this runtime can read."""
