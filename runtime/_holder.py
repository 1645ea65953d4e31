"""The model a server (or a connector) is serving, and how it is replaced while requests keep coming.

Transport-free, so ``runtime._serve`` and ``runtime._connect`` share it.

:class:`ModelHolder` keeps one reference, :attr:`ModelHolder.current`. A request reads it once and
uses that model to the end, so a swap never changes the model under a request in flight; the swap
itself is a single reference assignment. New versions are loaded and self-tested by
:func:`runtime.load` (sha256, manifest schema, graph signature, golden cases) on a background
thread: a bundle that fails any check is refused, the old version keeps serving, and the refusal is
kept in :attr:`ModelHolder.last_attempt`, counted in :attr:`ModelHolder.refused` and logged.

Reloads are asked for by

- the watcher, when the model folder's ``CURRENT`` file names another version (read every
  ``poll_s`` seconds; a version that was refused is not retried until ``CURRENT`` changes again),
- ``SIGHUP`` and the admin endpoints, which always reload (the same version is loaded and verified
  afresh, so a bundle repaired in place can be picked up).

All reloads run one at a time on a single thread, in the order asked.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from ._bundle import resolve_bundle
from ._contract import CURRENT_FILE, MANIFEST_FILE, read_current, semver_key
from ._errors import BundleError
from ._model import Model
from ._text import utc_iso

__all__ = ["ModelHolder", "ReloadAttempt"]

logger = logging.getLogger(__name__)

ReloadOutcome = Literal["loaded", "refused", "unchanged"]
Loader = Callable[[Path], Model]


@dataclass(frozen=True)
class ReloadAttempt:
    """What one reload did: ``loaded`` (swapped), ``refused`` (kept the old one) or ``unchanged``."""

    at: str
    trigger: str
    outcome: ReloadOutcome
    version: str | None
    path: str | None
    error: str | None = None
    serving: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """As ``POST /v1/admin/reload`` and ``last_reload`` in ``GET /v1/status`` show it."""
        return asdict(self)


class ModelHolder:
    """Holds the served model; reloads it from ``path`` in the background and swaps it atomically.

    Parameters
    ----------
    path : what the server was started with: a model folder (with ``CURRENT``) or a version folder.
    model : the model already loaded from ``path`` (loading it first lets a bad bundle stop the
        server before it listens).
    loader : loads and verifies a version folder, e.g. ``functools.partial(runtime.load, threads=1)``.
    poll_s : how often ``CURRENT`` is read; 0 or None disables the watcher (SIGHUP and the admin
        endpoints still reload).
    allow_interface_change : load a version whose task, classes or input columns differ from the
        serving one even within the same major version (refused by default: every client would break).
    process : what the refusals call the program that serves (``"server"``, ``"connector"``).

    Examples
    --------
    >>> holder = ModelHolder("models/quality", runtime.load("models/quality"), loader=runtime.load)  # doctest: +SKIP
    >>> holder.start()  # doctest: +SKIP
    >>> holder.current.version  # doctest: +SKIP
    '1.0.0'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        model: Model,
        *,
        loader: Loader,
        poll_s: float | None = 2.0,
        allow_interface_change: bool = False,
        process: str = "server",
    ) -> None:
        self.path = Path(path)
        self.process = process
        self.allow_interface_change = allow_interface_change
        self.current: Model = model
        self.loaded_epoch = time.time()
        self.loader = loader
        self.poll_s = poll_s if poll_s and poll_s > 0 else None
        self.succeeded = 0
        self.refused = 0
        self.last_attempt: ReloadAttempt | None = None
        folder = self.path
        self.pointer_file: Path | None = (
            folder / CURRENT_FILE
            if (folder / CURRENT_FILE).is_file() and not (folder / MANIFEST_FILE).is_file()
            else None
        )
        self._pointer_seen = self._read_pointer()
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- lifecycle --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the reload thread and, for a model folder with ``poll_s``, the ``CURRENT`` watcher."""
        if self._threads:
            return
        self._threads.append(threading.Thread(target=self._reload_loop, name="model-reload", daemon=True))
        if self.pointer_file is not None and self.poll_s is not None:
            self._threads.append(threading.Thread(target=self._watch_loop, name="model-watch", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._requests.put(None)
        for thread in self._threads:
            thread.join(timeout_s)
        self._threads = []

    # -- asking for a reload ----------------------------------------------------------------------
    def request_reload(self, trigger: str, *, force: bool = True) -> concurrent.futures.Future[ReloadAttempt]:
        """Queue a reload; the future resolves to its :class:`ReloadAttempt`.

        Without the reload thread running (:meth:`start` not called), the reload runs here and now.
        """
        future: concurrent.futures.Future[ReloadAttempt] = concurrent.futures.Future()
        if self._stop.is_set():
            future.cancel()
        elif not self._threads:
            future.set_result(self.reload(trigger, force=force))
        else:
            self._requests.put((trigger, force, future))
        return future

    def check_pointer(self) -> ReloadAttempt | None:
        """Reload if ``CURRENT`` names something other than when last read; what the watcher runs."""
        pointer = self._read_pointer()
        if pointer is None or pointer == self._pointer_seen:
            return None
        attempt = self.request_reload("poll", force=False).result()
        # Remembered after the attempt, so a refused version is not retried until CURRENT changes.
        self._pointer_seen = pointer
        return attempt

    def reload(self, trigger: str, *, force: bool = True) -> ReloadAttempt:
        """Load ``path`` again and swap it in if it verifies; never raises."""
        old = self.current
        version: str | None = None
        folder: Path | None = None
        try:
            folder = resolve_bundle(self.path)
            if not force and folder.resolve() == old.path.resolve():
                return self._record(ReloadAttempt(utc_iso(), trigger, "unchanged", old.version, str(folder)))
            new = self.loader(folder)
            version = new.version
            if new.name != old.name:
                raise BundleError(
                    f"{str(folder)!r} holds model {new.name!r}, but this {self.process} serves {old.name!r}; "
                    f"start another {self.process} for it"
                )
            self._guard_interface(old, new)
        except Exception as error:  # noqa: BLE001 -- whatever goes wrong, the old model keeps serving
            message = str(error) or type(error).__name__
            if not isinstance(error, (ValueError, OSError)):
                logger.exception("reload (%s) failed unexpectedly", trigger)
            self.refused += 1
            logger.error("reload (%s) refused: %s; still serving %r %s", trigger, message, old.name, old.version)
            return self._record(
                ReloadAttempt(
                    utc_iso(),
                    trigger,
                    "refused",
                    version or (folder.name if folder is not None else None),
                    str(folder) if folder else str(self.path),
                    message,
                    old.version,
                )
            )
        self.current = new  # the swap: one reference assignment; requests in flight keep `old`
        self.loaded_epoch = time.time()
        self.succeeded += 1
        logger.info(
            "reload (%s): now serving %r %s from %s (was %s)", trigger, new.name, new.version, new.path, old.version
        )
        return self._record(
            ReloadAttempt(self.loaded_at, trigger, "loaded", new.version, str(new.path), None, new.version)
        )

    def _guard_interface(self, old: Model, new: Model) -> None:
        """Refuse a version that changes what clients send or get, unless its major version says so."""
        changes = old.manifest.interface_changes(new.manifest)
        if not changes or self.allow_interface_change or semver_key(new.version)[0] != semver_key(old.version)[0]:
            return
        raise BundleError(
            f"{new.version} changes the interface of {old.name!r} {old.version} ({'; '.join(changes)}): every "
            f"client would break at once; export it as a new major version, or start the {self.process} with "
            "--allow-interface-change"
        )

    @property
    def loaded_at(self) -> str:
        """When the served version was loaded, as UTC ISO 8601 text."""
        return utc_iso(self.loaded_epoch)

    def status(self) -> dict[str, Any]:
        """What ``GET /v1/status`` shows about the model and its reloads."""
        model = self.current
        return {
            "name": model.name,
            "version": model.version,
            "path": str(model.path),
            "serving_from": str(self.path),
            "current_file": str(self.pointer_file) if self.pointer_file is not None else None,
            "poll_s": self.poll_s,
            "loaded_at": self.loaded_at,
            "task": model.manifest.task,
            "classes": list(model.classes) if model.classes is not None else None,
            "on_unknown": model.on_unknown,
            "on_out_of_range": model.on_out_of_range,
            "signature": model.signature.to_dict() | {"summary": model.signature.describe()},
            "reloads": {"succeeded": self.succeeded, "refused": self.refused},
            "last_reload": self.last_attempt.to_dict() if self.last_attempt is not None else None,
        }

    # -- internals --------------------------------------------------------------------------------
    def _record(self, attempt: ReloadAttempt) -> ReloadAttempt:
        self.last_attempt = attempt
        return attempt

    def _read_pointer(self) -> str | None:
        """The text of CURRENT, or None when there is none or it is being rewritten (empty)."""
        if self.pointer_file is None:
            return None
        try:
            text = read_current(self.pointer_file.parent)
        except OSError as error:
            # Reported once per distinct state through the refused reload it triggers.
            return f"<unreadable: {error.strerror or error}>"
        except UnicodeDecodeError:
            return "<not UTF-8>"
        return text or None

    def _reload_loop(self) -> None:
        while True:
            item = self._requests.get()
            if item is None:
                # Stopping: whoever still waits for a queued reload gets a cancellation.
                while True:
                    try:
                        pending = self._requests.get_nowait()
                    except queue.Empty:
                        return
                    if pending is not None:
                        pending[2].cancel()
            trigger, force, future = item
            if future.set_running_or_notify_cancel():
                future.set_result(self.reload(trigger, force=force))

    def _watch_loop(self) -> None:
        assert self.poll_s is not None
        while not self._stop.wait(self.poll_s):
            try:
                self.check_pointer()
            except concurrent.futures.CancelledError:
                return  # stopping
            except Exception:  # noqa: BLE001 -- the watcher must outlive any single failure
                logger.exception("watching %s failed", self.pointer_file)
