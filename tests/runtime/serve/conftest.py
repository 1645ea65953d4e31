"""Fixtures for the server tests: model folders in tmp, real servers in subprocesses, a small HTTP client.

Servers run as ``python -m runtime serve`` from the repository root, exactly as on a device, and are
always stopped (SIGTERM, then SIGKILL) when the fixture ends. The shared server lives for the whole
session; tests that change a server's state (reloads, load, kill -9) start their own.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.damage import edit_manifest, flip_byte, golden_drift, newer_schema
from tests.runtime.serve.records import EXAMPLE

pytest.importorskip("uvicorn", reason='needs the "serve" extra: pip install ".[serve]"')
pytest.importorskip("starlette", reason='needs the "serve" extra: pip install ".[serve]"')
pytest.importorskip("prometheus_client", reason='needs the "serve" extra: pip install ".[serve]"')

ROOT = Path(__file__).resolve().parents[3]
# The committed version folder, never models/quality/CURRENT: running the export moves CURRENT.
SHIPPED_VERSION = ROOT / "models" / "quality" / "1.0.0"
# What runtime.load reads; the documents for people are not needed to serve.
BUNDLE_FILES = ("manifest.json", "model.onnx")
STARTUP_TIMEOUT_S = 30.0
DAMAGES = {"hash": flip_byte, "schema": newer_schema, "golden": golden_drift}


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    port: int,
    method: str,
    path: str,
    body: bytes | str | None = None,
    headers: Mapping[str, str] | None = None,
    *,
    timeout_s: float = 10.0,
    tls: bool = False,
) -> Reply:
    """One request on a fresh connection to 127.0.0.1:port (closed before returning); ``tls``: HTTPS,
    trusting any certificate (the tests' own, self-signed)."""
    connection: http.client.HTTPConnection
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout_s, context=context)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request(
            method, path, body=body.encode() if isinstance(body, str) else body, headers=dict(headers or {})
        )
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, {key.lower(): value for key, value in response.getheaders()}, data)
    finally:
        connection.close()


@dataclass
class Server:
    """A running ``python -m runtime serve`` subprocess."""

    port: int
    process: subprocess.Popen[bytes]
    stderr_path: Path
    model_folder: Path
    log_path: Path | None
    tls: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid

    def request(self, method: str, path: str, body: bytes | str | None = None, **kwargs: Any) -> Reply:
        return http_request(self.port, method, path, body, tls=self.tls, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post_json(self, path: str, payload: Any, headers: Mapping[str, str] | None = None) -> Reply:
        return self.request(
            "POST", path, json.dumps(payload), headers={"Content-Type": "application/json", **(headers or {})}
        )

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def rss_mb(self) -> float:
        """VmRSS of the server process, from /proc."""
        with open(f"/proc/{self.pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS in /proc/<pid>/status")

    def metric(self, name: str, **kwargs: Any) -> float:
        """The value of one sample (name with labels, as printed) from GET /metrics."""
        text = self.get("/metrics", **kwargs).body.decode()
        for line in text.splitlines():
            if line.startswith(name + " "):
                return float(line.rsplit(" ", 1)[1])
        raise AssertionError(f"{name} not in /metrics:\n{text}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextlib.contextmanager
def running_server(model_folder: Path, workdir: Path, *args: str, log: bool = True) -> Iterator[Server]:
    """Start a server on a free port, wait until /v2/health/ready answers, stop it afterwards."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "predictions.db" if log else None
    for attempt in range(3):  # another process may take the free port between probe and bind
        port = free_port()
        stderr_path = workdir / f"server-{port}.log"
        command = [sys.executable, "-m", "runtime", "serve", str(model_folder), "--port", str(port), *args]
        if log_path is not None:
            command += ["--log", str(log_path)]
        with open(stderr_path, "wb") as stderr:
            process = subprocess.Popen(
                command, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
            )
        try:
            tls = "--ssl-certfile" in args
            if _wait_ready(process, port, tls):
                yield Server(port, process, stderr_path, model_folder, log_path, tls)
                return
        finally:
            stop(process)
        text = stderr_path.read_text(errors="replace")
        if "cannot listen" not in text or attempt == 2:
            raise AssertionError(f"server did not become ready (exit code {process.returncode}):\n{text}")


def _wait_ready(process: subprocess.Popen[bytes], port: int, tls: bool = False) -> bool:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            if http_request(port, "GET", "/v2/health/ready", timeout_s=2, tls=tls).status == 200:
                return True
        time.sleep(0.05)
    return False


class Bundles:
    """Model folders in tmp built from the shipped bundle, with extra (possibly damaged) versions.

    The committed bundle ``models/quality/1.0.0`` is copied once per session, so every server and
    every expected value in a session comes from the same files, whatever the export last wrote.
    Copies are always version 1.0.0 (the manifest's version is not hashed), which the tests name.
    """

    FIRST_VERSION = "1.0.0"

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory
        self.source = tmp_path_factory.mktemp("shipped")
        for name in BUNDLE_FILES:
            shutil.copyfile(SHIPPED_VERSION / name, self.source / name)

    def model_folder(self) -> Path:
        folder = self._factory.mktemp("models") / "quality"
        self.add_version(folder, self.FIRST_VERSION)
        self.set_current(folder, self.FIRST_VERSION)
        return folder

    def add_version(self, folder: Path, version: str, *, damage: str | None = None) -> Path:
        """Copy the shipped version to ``version``; ``damage`` breaks its "hash", "schema" or "golden" check
        (with the shared damaging functions of tests/runtime/damage.py)."""
        target = folder / version
        target.mkdir(parents=True)
        for name in BUNDLE_FILES:
            shutil.copyfile(self.source / name, target / name)
        edit_manifest(target, lambda manifest: manifest.update(version=version))
        if damage is not None:
            DAMAGES[damage](target)
        return target

    @staticmethod
    def set_current(folder: Path, version: str) -> None:
        """Point CURRENT at ``version`` the way the export does: write aside, then rename."""
        pending = folder / "CURRENT.tmp"
        pending.write_text(version + "\n")
        os.replace(pending, folder / "CURRENT")


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    return Bundles(tmp_path_factory)


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., contextlib.AbstractContextManager[Server]]:
    """``with start_server(model_folder, "--poll-s", "0.2") as server:`` (log on unless ``log=False``)."""

    def start(model_folder: Path, *args: str, log: bool = True) -> contextlib.AbstractContextManager[Server]:
        return running_server(model_folder, tmp_path_factory.mktemp("server"), *args, log=log)

    return start


# Small limits, so oversized bodies and slow requests are cheap to provoke.
SHARED_MAX_BODY_BYTES = 100_000


@pytest.fixture(scope="session")
def shared_server(
    bundles: Bundles, start_server: Callable[..., contextlib.AbstractContextManager[Server]]
) -> Iterator[Server]:
    """One server for the tests that only read: metadata, predictions, bad requests, metrics."""
    with start_server(
        bundles.model_folder(), "--max-body-bytes", str(SHARED_MAX_BODY_BYTES), "--timeout-s", "5"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def example() -> dict[str, Any]:
    return dict(EXAMPLE)
