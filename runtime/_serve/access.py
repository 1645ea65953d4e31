"""Who may call what: bearer tokens, the Host allowlist and cross-origin refusals (no HTTP framework).

Checked for every routed request, in this order, before the handler runs:

==========================================================  ======  ================
refused                                                     status  metrics ``kind``
==========================================================  ======  ================
``Host`` not in ``--allowed-hosts`` (DNS rebinding)         421     ``misdirected``
a POST with an ``Origin`` that is not an allowed host, or   403     ``forbidden``
``Sec-Fetch-Site: cross-site`` (a browser on another site)
admin route, no ``--admin-token-file``, not on loopback     403     ``forbidden``
token needed, none or a wrong one sent                      401     ``unauthorized``
==========================================================  ======  ================

Routes: *health* (``/v2/health/*``) needs no token; *admin* (``/v1/admin/reload``,
``/v2/repository/*``) needs the admin token; everything else needs the API token when
``--api-token-file`` is given (the admin token is accepted there too).

Admin routes without ``--admin-token-file``: open only when the server is bound to a loopback
address (the default 127.0.0.1: a reload only re-reads the server's own bundle folder, and only
processes on the gateway itself can reach it); on any other address they answer 403 naming the option.

Tokens are read once at start from the first line of their file (stripped), compared with
:func:`hmac.compare_digest`, and never logged or echoed. A token file other users can read is refused.
No CORS header is ever sent, so a browser on another origin cannot read any answer.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["AccessPolicy", "AccessRefusal", "RouteClass", "default_allowed_hosts", "read_token_file"]

RouteClass = Literal["health", "admin", "api"]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AccessRefusal(Exception):
    """A request refused before its handler ran: ``status``, metrics ``kind``, extra response headers."""

    def __init__(self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.headers = dict(headers or {})


def read_token_file(path: str, option: str) -> bytes:
    """The token in ``path``'s first line (stripped); ValueError naming ``option`` if it cannot serve.

    >>> read_token_file("/etc/factory-edge/admin.token", "--admin-token-file")  # doctest: +SKIP
    """
    try:
        mode = os.stat(path).st_mode
        with open(path, "rb") as file:
            first = file.readline(4096)
    except OSError as error:
        raise ValueError(f"cannot read {option} {path!r}: {error.strerror or error}") from None
    if mode & stat.S_IROTH:
        raise ValueError(
            f"{option} {path!r} is readable by every user (mode {stat.S_IMODE(mode):04o}): chmod 600 it, "
            "a token other users can read is no secret."
        )
    token = first.strip()
    if len(token) < 16:
        raise ValueError(f"{option} {path!r} must hold a token of at least 16 characters on its first line.")
    return token


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host == "localhost"


def default_allowed_hosts(host: str, port: int) -> tuple[str, ...]:
    """The bound address and the loopback names, with ``port`` (and without it on 80 and 443)."""
    shown = f"[{host}]" if ":" in host else host
    names = [shown, "localhost", "127.0.0.1", "[::1]"]
    hosts = [f"{name}:{port}" for name in dict.fromkeys(names)]
    if port in (80, 443):
        hosts += list(dict.fromkeys(names))
    return tuple(hosts)


@dataclass(frozen=True)
class AccessPolicy:
    """What :meth:`check` enforces; built once when the server starts.

    ``allowed_hosts`` entries are ``name`` (any port) or ``name:port``, matched case-insensitively.
    """

    allowed_hosts: tuple[str, ...]
    admin_token: bytes | None = None
    api_token: bytes | None = None
    bound_to_loopback: bool = True

    @classmethod
    def create(
        cls,
        host: str,
        port: int,
        *,
        allowed_hosts: Iterable[str] | None = None,
        admin_token: bytes | None = None,
        api_token: bytes | None = None,
    ) -> AccessPolicy:
        hosts = tuple(allowed_hosts) if allowed_hosts is not None else default_allowed_hosts(host, port)
        return cls(tuple(entry.lower() for entry in hosts), admin_token, api_token, _is_loopback(host))

    def _host_allowed(self, value: str) -> bool:
        value = value.strip().lower()
        if value in self.allowed_hosts:
            return True
        # "name" entries allow every port: strip the port (after the last colon, outside brackets)
        name, colon, port = value.rpartition(":")
        return bool(colon) and port.isdigit() and "]" not in port and name in self.allowed_hosts

    def check(self, method: str, headers: Mapping[str, str], route: RouteClass) -> None:
        """Raise :class:`AccessRefusal` unless this request may reach a route of class ``route``."""
        host = headers.get("host")
        if host is None or not self._host_allowed(host):
            raise AccessRefusal(
                421,
                "misdirected",
                f"Host {_shown(host)} is not served here: allowed are {', '.join(self.allowed_hosts)} "
                "(--allowed-hosts).",
            )
        if method not in _SAFE_METHODS:
            origin = headers.get("origin")
            if origin is not None and not self._origin_allowed(origin):
                raise AccessRefusal(403, "forbidden", f"cross-origin request from Origin {_shown(origin)} refused.")
            if headers.get("sec-fetch-site", "").strip().lower() == "cross-site":
                raise AccessRefusal(403, "forbidden", "cross-site request refused (Sec-Fetch-Site: cross-site).")
        if route == "health":
            return
        if route == "admin":
            if self.admin_token is None:
                if self.bound_to_loopback:
                    return
                raise AccessRefusal(
                    403,
                    "forbidden",
                    "admin endpoints are disabled on a server not bound to loopback: start it with "
                    "--admin-token-file FILE and send Authorization: Bearer <token>.",
                )
            self._check_token(headers, (self.admin_token,), "--admin-token-file")
            return
        if self.api_token is not None:
            accepted = (self.api_token,) if self.admin_token is None else (self.api_token, self.admin_token)
            self._check_token(headers, accepted, "--api-token-file")

    def _origin_allowed(self, origin: str) -> bool:
        try:
            netloc = urlsplit(origin.strip()).netloc
        except ValueError:
            return False
        return bool(netloc) and self._host_allowed(netloc)

    @staticmethod
    def _check_token(headers: Mapping[str, str], accepted: tuple[bytes, ...], option: str) -> None:
        scheme, _, given = headers.get("authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise AccessRefusal(
                401,
                "unauthorized",
                f"this endpoint needs a bearer token: send Authorization: Bearer <token> (the server's {option}).",
                {"WWW-Authenticate": 'Bearer realm="factory-edge"'},
            )
        # headers arrive as latin-1 text: its bytes are what the client sent
        token = given.strip().encode("latin-1", errors="replace")
        # compare with every accepted token, so the time taken says nothing about which one nearly matched
        matches = [hmac.compare_digest(token, expected) for expected in accepted]
        if not any(matches):
            raise AccessRefusal(
                401,
                "unauthorized",
                "the bearer token is not valid for this endpoint.",
                {"WWW-Authenticate": 'Bearer realm="factory-edge", error="invalid_token"'},
            )


def _shown(value: str | None) -> str:
    if value is None:
        return "(none)"
    return repr(value if len(value) <= 80 else value[:80] + "...")
