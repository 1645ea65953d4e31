"""A real Mosquitto broker on a free loopback port, with persistence, that tests can stop and restart.

Persistence is on (``persistence true``, saved on every change and on SIGTERM), so a stopped and
restarted broker keeps the persistent sessions and their queued QoS 1 messages, as a production
broker does. ``max_queued_messages`` is raised so an offline client's queue never drops messages.
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

__all__ = ["Mosquitto", "free_port", "mosquitto_binary"]

STARTUP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def mosquitto_binary() -> str:
    """The broker's path; skips without it, except in CI (``.ci/run`` installs it), where it fails."""
    found = shutil.which("mosquitto") or next(
        (path for path in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto") if os.access(path, os.X_OK)), None
    )
    if found is None:
        message = "mosquitto is not installed (Debian: apt-get install mosquitto; .ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


class Mosquitto:
    """``listener`` lines are added to the listener's own settings (TLS files); ``settings`` after them."""

    def __init__(self, folder: Path, *, listener: str = "", settings: str = "allow_anonymous true\n") -> None:
        self.binary = mosquitto_binary()
        self.folder = folder
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.config.write_text(
            f"listener {self.port} 127.0.0.1\n{listener}"
            # As root, mosquitto would switch to the user "mosquitto", who cannot write the test's folder.
            f"user {getpass.getuser()}\n"
            f"{settings}"
            "persistence true\n"
            f"persistence_location {folder}/\n"
            "autosave_interval 1\n"
            "max_queued_messages 1000000\n"
            "max_inflight_messages 0\n"
            f"log_dest file {folder}/mosquitto.log\n",
            encoding="utf-8",
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.folder / "mosquitto.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.address} within {STARTUP_TIMEOUT_S} s")

    def stop(self) -> None:
        """SIGTERM: the broker saves its persistent sessions and exits."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None
