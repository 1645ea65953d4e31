"""What the data plane raises when it cannot answer, typed, so the endpoints pick the HTTP status.

::

    FactoryEdgeError
    ├── InputError(ValueError)              400  the request is wrong (runtime core: the codecs and
    │                                            the validation word it, naming field, value and rule)
    └── ServeError                               the server cannot answer this request now
        ├── NotServedError(LookupError)     404  another model name or version than the one served
        ├── RefusedError(RuntimeError)      409  a well-formed request the server's state refuses: a
        │                                        reload whose bundle fails verification, drift without a log
        ├── DeadlineError(TimeoutError)     503  the request's time (``--timeout-s``) ran out
        ├── LogUnreadableError(OSError)     503  the prediction log cannot be read (drift)
        └── LogRequiredError(OSError)       503  a prediction whose log row was not committed, under
                                                 ``--log-required`` (no row, no answer)

The statuses are the endpoints' choice (:mod:`runtime._serve.endpoints`); nothing here knows HTTP.
"""

from __future__ import annotations

from .._errors import FactoryEdgeError

__all__ = ["DeadlineError", "LogRequiredError", "LogUnreadableError", "NotServedError", "RefusedError", "ServeError"]


class ServeError(FactoryEdgeError):
    """Base of the data plane's own errors (bad requests are :class:`runtime.InputError`)."""


class NotServedError(ServeError, LookupError):
    """The request names a model or version this server does not serve."""


class RefusedError(ServeError, RuntimeError):
    """The request is well formed, but the server's state refuses it (a refused reload, no log)."""


class DeadlineError(ServeError, TimeoutError):
    """The request's time ran out before it was answered."""


class LogUnreadableError(ServeError, OSError):
    """The prediction log could not be read."""


class LogRequiredError(ServeError, OSError):
    """A prediction was made but its log row was not committed, and the server answers only logged ones."""
