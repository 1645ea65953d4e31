"""Every bad row of a batch request, not only the first: the 400 a list of records (``/v1/predict``) or a
tensor of many rows (v2 infer) gets when some of its rows fail validation.

The message names every problem of the first ``NAMED_ROWS`` bad rows (rows counted from 0, as the
request's list is), then how many rows are bad in all; the response's ``rejected`` lists the first
``LISTED_ROWS`` bad rows with all their reasons, so a client can fix them in one go. Both limits
keep a 10,000-row request of bad rows from making a 10,000-line answer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .._errors import InputError
from .._model import RejectedRow
from .._validation import Problem, first_per_column

__all__ = ["LISTED_ROWS", "NAMED_ROWS", "RowsRefusedError", "rows_refused"]

NAMED_ROWS = 5
LISTED_ROWS = 100


class RowsRefusedError(InputError):
    """A batch refused for the values of some of its rows; ``rejected`` holds the first ``LISTED_ROWS``
    of them as ``{"row": int, "reasons": [str, ...]}``, ``invalid_rows`` (bad rows, rows)."""

    def __init__(self, message: str, *, rejected: list[dict[str, Any]], invalid_rows: tuple[int, int]) -> None:
        super().__init__(message, row=rejected[0]["row"] if rejected else None, invalid_rows=invalid_rows)
        self.rejected = rejected

    def details(self) -> dict[str, Any]:
        """What the response adds to ``{"error": ...}``."""
        assert self.invalid_rows is not None
        return {"rejected_rows": self.invalid_rows[0], "rejected": self.rejected}


def rows_refused(rejected: Sequence[RejectedRow], n_rows: int, hints: Mapping[str, str]) -> RowsRefusedError:
    """The error naming every row of ``rejected`` (within the limits), worded with ``hints``."""
    named = " ".join(problem.render(hints=hints) for row in rejected[:NAMED_ROWS] for problem in _problems(row))
    bad = len(rejected)
    if bad > 1:
        more = f'; the first {NAMED_ROWS} are named here, the first {LISTED_ROWS} in "rejected"'
        named += f" ({bad} of {n_rows} rows are invalid{more if bad > NAMED_ROWS else ''}.)"
    listed = [
        {"row": row.row, "reasons": [problem.render(row=False, hints=hints) for problem in _problems(row)]}
        for row in rejected[:LISTED_ROWS]
    ]
    return RowsRefusedError(named, rejected=listed, invalid_rows=(bad, n_rows))


def _problems(row: RejectedRow) -> list[Problem]:
    return first_per_column(row.problems)
