"""Progress from steps that cannot report their own: a line whenever the export has been silent a while.

Most stages say how far they got (the parity proof every few thousand cases), but some are one
library call that runs for seconds in silence: scikit-learn's ``TunedThresholdClassifierCV`` (15 s
on ai4i2020), the regression metrics' permutation importance, joblib at ``compress=9``. A user
watching a silent console for 20 s cannot tell a slow step from a hung one.

:class:`Heartbeat` wraps the export's ``progress`` callable. It passes every message on and notes
when it was said; a background thread says ``<last message> (still working, N s)`` whenever nothing
was said for ``every_s`` seconds. Steps that report on their own never trigger it.

>>> said = []
>>> with Heartbeat(said.append, every_s=60) as progress:
...     progress("training")
>>> said
['training']
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType

__all__ = ["SILENCE_S", "Heartbeat"]

Progress = Callable[[str], None]
# "a couple of seconds": no step of the export stays silent longer than this
SILENCE_S = 3.0


class Heartbeat:
    """``progress`` that speaks up while the export is silent (a context manager: the thread lives within)."""

    def __init__(self, progress: Progress, *, every_s: float = SILENCE_S) -> None:
        self._progress = progress
        self._every_s = every_s
        self._lock = threading.Lock()
        self._doing = "working"
        self._step_started = self._last_said = time.perf_counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="export-heartbeat", daemon=True)

    def __call__(self, message: str) -> None:
        with self._lock:
            self._doing = message
            self._step_started = self._last_said = time.perf_counter()
        self._progress(message)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._every_s / 4):
            with self._lock:
                now = time.perf_counter()
                if now - self._last_said < self._every_s:
                    continue
                self._last_said = now
                line = f"{self._doing} (still working, {now - self._step_started:.0f} s)"
            self._progress(line)
