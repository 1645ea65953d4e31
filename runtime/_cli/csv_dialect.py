"""The CSV dialect of ``predict``'s files: the field delimiter and the decimal mark (``--delimiter``, ``--decimal``).

European spreadsheet exports separate fields with ``;`` and write numbers with a decimal comma
(``298,1``). Both are read strictly: with ``--decimal ,`` a number is written ``298,1`` or ``-3e-2``
and ``298.1`` is refused (it might be a thousands separator), never guessed; with the default
``--decimal .`` it is the other way round. Thousands separators are never read. The output and
rejects files are written in the same dialect.

>>> CsvDialect(";", ",").number("298,1"), CsvDialect(";", ",").number("298.1"), CsvDialect().number("1e3")
(298.1, None, 1000.0)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DECIMAL_MARKS", "DEFAULT_DIALECT", "CsvDialect", "delimiter_hint"]

DECIMAL_MARKS = (".", ",")
# What a number looks like in a CSV field, for each decimal mark. Python's float() also takes
# "1_000" and non-ASCII digits; those are refused rather than read as something the writer may not
# have meant. nan/inf spellings are let through so the runtime's validation words the refusal
# (inf is never valid, nan is missing).
_NUMBER_TEXT = {
    mark: re.compile(
        rf"[+-]?(?:(?:\d+{re.escape(mark)}?\d*|{re.escape(mark)}\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)",
        re.IGNORECASE | re.ASCII,
    )
    for mark in DECIMAL_MARKS
}
# delimiters a header read as one column is checked for, to say which one the file uses
_OTHER_DELIMITERS = (";", "\t", "|", ",")


def _shown(mark: str) -> str:
    return "'\\t'" if mark == "\t" else repr(mark)


@dataclass(frozen=True)
class CsvDialect:
    """A field delimiter (one character, not a quote or line break) and a decimal mark (``.`` or ``,``)."""

    delimiter: str = ","
    decimal: str = "."

    def __post_init__(self) -> None:
        if len(self.delimiter) != 1 or self.delimiter in '\r\n"':
            raise ValueError(f"--delimiter {self.delimiter!r} must be one character, not a quote or line break")
        if self.decimal not in DECIMAL_MARKS:
            raise ValueError(f"--decimal {self.decimal!r} must be '.' or ','")
        if self.delimiter == self.decimal:
            raise ValueError(f"--delimiter and --decimal are both {self.decimal!r}; they must differ")

    def number(self, text: str) -> float | None:
        """The number ``text`` writes in this dialect, or None when it writes none."""
        stripped = text.strip()
        if not _NUMBER_TEXT[self.decimal].fullmatch(stripped):
            return None
        return float(stripped.replace(",", ".") if self.decimal == "," else stripped)

    def example(self) -> str:
        """How numbers are written: ``12.5 or -3e-2`` (``12,5 or -3e-2`` with a decimal comma)."""
        return f"12{self.decimal}5 or -3e-2"

    def decimal_hint(self, text: str) -> str:
        """A hint when ``text`` is a number written with the other decimal mark, else ``""``."""
        other = "," if self.decimal == "." else "."
        if other in text and _NUMBER_TEXT[other].fullmatch(text.strip()):
            return f" (it is written with {other!r} as the decimal mark: pass --decimal {other} if the file uses it)"
        return ""

    def format_float(self, value: float) -> str:
        """A float as this dialect writes it: ``repr``, with the decimal comma where asked.

        >>> CsvDialect(";", ",").format_float(0.25), CsvDialect().format_float(1e-7)
        ('0,25', '1e-07')
        """
        text = repr(value)
        return text.replace(".", ",") if self.decimal == "," else text


DEFAULT_DIALECT = CsvDialect()


def delimiter_hint(header: Sequence[str], dialect: CsvDialect) -> str:
    """A hint when a header read as one column holds another delimiter (``a;b;c``), else ``""``."""
    if len(header) != 1:
        return ""
    for mark in _OTHER_DELIMITERS:
        if mark != dialect.delimiter and mark in header[0]:
            decimal = " (and --decimal , if its numbers are written like 3,5)" if dialect.decimal == "." else ""
            return (
                f"; the header looks separated by {_shown(mark)}, not {_shown(dialect.delimiter)}: "
                f"pass --delimiter {_shown(mark)}{decimal}"
            )
    return ""
