"""Process memory figures, for the export's measurements, the benchmarks and the server's metrics."""

from __future__ import annotations

import resource
import sys

__all__ = ["peak_rss_mb", "current_rss_mb"]


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MiB.

    On Linux this is ``VmHWM``: ``ru_maxrss`` keeps the high-water mark of the process that forked
    this one across ``exec``, so a child of a large parent would report the parent's peak.
    """
    kilobytes = _status_kb("VmHWM")
    if kilobytes is not None:
        return kilobytes / 1024
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return maxrss / (1024 * 1024) if sys.platform == "darwin" else maxrss / 1024


def current_rss_mb() -> float:
    """Resident memory of this process now, in MiB (Linux; peak elsewhere)."""
    kilobytes = _status_kb("VmRSS")
    return kilobytes / 1024 if kilobytes is not None else peak_rss_mb()
