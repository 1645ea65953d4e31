"""How numbers are written for people, one copy for the bundle's documents and the benchmark report:
counts, measured values, ratios, durations, file sizes, and the size-limit evidence as a sentence.

Sizes are SI: ``MB`` is 10^6 bytes and ``kB`` 10^3, everywhere. Memory measured as resident set
size is in MiB (2^20 bytes) and labelled so by the caller (the manifest's ``peak_rss_mb`` keeps its
name). Standard library only, so a saved benchmark report renders without the bench extra.

>>> format_number(12345), format_number(0.94451), format_number(1.1e-15, 3), format_number(None)
('12,345', '0.9445', '1.1e-15', 'n/a')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = [
    "format_bytes",
    "format_number",
    "format_ratio",
    "format_seconds",
    "format_value",
    "size_limit_sentence",
]

# below this magnitude a fixed-point number is mostly zeros: write it with an exponent
SMALLEST_FIXED = 1e-4


def format_number(value: Any, digits: int = 4) -> str:
    """Counts with thousands separators; other numbers to ``digits`` significant digits, thousands
    separated, trailing zeros dropped, an exponent only below 1e-4; ``n/a`` for None or NaN.

    >>> format_number(2000), format_number(0.25), format_number(23530.9, 3), format_number(999.4, 3)
    ('2,000', '0.25', '23,531', '999')
    """
    if value is None:
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) < SMALLEST_FIXED:
        return f"{value:.{digits}g}"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude >= digits - 1:
        return f"{value:,.0f}"
    text = f"{value:,.{digits - 1 - magnitude}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_value(value: float | None) -> str:
    """A measured figure to 3 significant digits: 0.0123, 1.25, 123, 12,346.

    >>> format_value(0.012345), format_value(12345.6), format_value(25.04)
    ('0.0123', '12,346', '25')
    """
    return format_number(value, 3)


def format_ratio(ratio: float | None) -> str:
    """A ratio as ``1/N`` when below 0.1 (a speed-up reads better that way), else 3 significant digits.

    >>> format_ratio(1 / 357), format_ratio(0.4123), format_ratio(1.25), format_ratio(None)
    ('1/357', '0.412', '1.25', 'n/a')
    """
    if ratio is None or not math.isfinite(ratio) or ratio <= 0:
        return "n/a"
    if ratio < 0.1:
        return f"1/{1 / ratio:,.0f}"
    return format_value(ratio)


def format_bytes(size: float | None) -> str:
    """Bytes in MB (10^6), or kB (10^3) below 1 MB.

    >>> format_bytes(4_312_115), format_bytes(2048)
    ('4.31 MB', '2.05 kB')
    """
    if size is None:
        return "n/a"
    if size >= 1e6:
        return f"{size / 1e6:.2f} MB"
    return f"{size / 1e3:.2f} kB"


def format_seconds(seconds: float | None) -> str:
    """A duration in the unit that reads best: µs, ms or s.

    >>> format_seconds(2.5e-5), format_seconds(0.5123), format_seconds(12.3)
    ('25 µs', '512 ms', '12.3 s')
    """
    if seconds is None or not math.isfinite(seconds):
        return "n/a"
    if seconds < 1e-3:
        return f"{format_value(seconds * 1e6)} µs"
    if seconds < 1.0:
        return f"{format_value(seconds * 1e3)} ms"
    return f"{format_value(seconds)} s"


def size_limit_sentence(check: Mapping[str, Any]) -> str:
    """The manifest's ``metrics.versus_unconstrained`` (a size-limited forest against the same forest
    grown fully) as one Markdown sentence, for the model card and the benchmark report."""
    limits = ", ".join(f"`{key}={value}`" for key, value in check["limits"].items())
    changes = ", ".join(
        f"{key.replace('_', ' ')} {check['this_model'][key]:.4f} vs {check['unconstrained'][key]:.4f} "
        f"({check['difference_pp'][key]:+.2f} points)"
        for key in check["difference_pp"]
    )
    verdict = "within" if check["within_bound"] else "**not** within"
    return (
        f"limited by {limits}; against the same forest grown fully on the same held-out split: {changes}; "
        f"{verdict} the {check['bound_pp']}-point bound"
    )
