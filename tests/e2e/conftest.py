"""End-to-end fixtures: the real ``contactguard`` executable, as an operator runs it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import SECRET, _truncate

BIN = Path(sys.executable).parent / "contactguard"


@dataclass
class Cli:
    env: dict[str, str]

    def __call__(self, *args: str, check: bool = True,
                 timeout: float = 60) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(BIN), *args], env=self.env, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise AssertionError(f"contactguard {' '.join(args)} exited {result.returncode}:\n"
                                 f"{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture
def cli(database_url: str, tmp_path: Path) -> Cli:
    _truncate(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONTACTGUARD_")}
    env.update({"CONTACTGUARD_DATABASE_URL": database_url, "CONTACTGUARD_SECRET_KEY": SECRET,
                "CONTACTGUARD_VAR_DIR": str(tmp_path / "var"), "CONTACTGUARD_LOG_JSON": "1",
                "CONTACTGUARD_RATE_LIMITS": "off",  # limits' own e2e tests turn them on
                "COLUMNS": "200"})
    return Cli(env)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    base_url: str
    api_key: str
    output: Path


@contextmanager
def running_server(env: dict[str, str], log: Path, serve_args: tuple[str, ...] = (),
                   pids: list[int] | None = None) -> Iterator[tuple[str, str]]:
    """Migrate, start ``contactguard serve`` with ``env`` and wait until it answers.

    Yields its base URL and the dev API key; the server is stopped afterwards.
    """
    subprocess.run([str(BIN), "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=60)
    port = free_port()
    with log.open("w") as handle:
        process = subprocess.Popen([str(BIN), "serve", "--port", str(port), *serve_args], env=env,
                                   stdout=handle, stderr=subprocess.STDOUT)
    if pids is not None:  # the caller wants to look at the process tree
        pids.append(process.pid)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield base, (Path(env["CONTACTGUARD_VAR_DIR"]) / "dev_api_key").read_text().strip()
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def dev_server(cli: Cli, tmp_path: Path) -> Iterator[Server]:
    """``contactguard serve`` in dev mode, as ``make run`` starts it."""
    env = {**cli.env, "CONTACTGUARD_DEV": "1", "CONTACTGUARD_INPROCESS_WORKER": "1"}
    log = tmp_path / "server.log"
    with running_server(env, log) as (base, key):
        yield Server(base, key, log)
