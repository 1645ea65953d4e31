"""How numbers are written in the report: ratios, sizes, durations and rates."""

from __future__ import annotations

import math

__all__ = ["format_bytes", "format_count", "format_ratio", "format_seconds", "format_value"]


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


def format_value(value: float | None) -> str:
    """3 significant digits, thousands separated: 0.0123, 1.25, 123, 12,346.

    >>> format_value(0.012345), format_value(12345.6), format_value(25.04)
    ('0.0123', '12,346', '25')
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    digits = max(0, 2 - math.floor(math.log10(abs(value))))
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_count(count: int) -> str:
    """A count with thousands separated.

    >>> format_count(100000)
    '100,000'
    """
    return f"{count:,}"


def format_bytes(size: float | None) -> str:
    """Bytes in MB (10^6), or kB below 1 MB.

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
