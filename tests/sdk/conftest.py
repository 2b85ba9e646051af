"""The real `switchyard` binary on loopback: one mock upstream (OpenAI, Anthropic and Gemini
protocols on one port) and a gateway in front of it with one provider per protocol.

The binary is `$SWITCHYARD_BIN` or `target/debug/switchyard` (built by scripts/sdk-tests.sh).
"""

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
KEY = "sk-sdk-test"
STARTUP_SECONDS = 30

# Loopback only: never let an environment proxy or SDK default leak into the tests.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
for var in ("GOOGLE_GENAI_API_VERSION", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL",
            "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI"):
    os.environ.pop(var, None)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def binary() -> str:
    path = os.environ.get("SWITCHYARD_BIN") or str(REPO / "target" / "debug" / "switchyard")
    if not os.access(path, os.X_OK):
        pytest.exit(f"switchyard binary not found at {path}: run `cargo build --bin switchyard`", 2)
    return path


CONFIG = """\
listen: 127.0.0.1:{gw}
admin: {{ listen: 127.0.0.1:{admin} }}
server: {{ threads: 2, grace_period_seconds: 0, graceful_shutdown_timeout_seconds: 1 }}
providers:
  - {{ name: up-openai, protocol: openai, base_url: "http://127.0.0.1:{mock}/v1", api_key: "k" }}
  - {{ name: up-anthropic, protocol: anthropic, base_url: "http://127.0.0.1:{mock}", api_key: "k" }}
  - {{ name: up-gemini, protocol: gemini, base_url: "http://127.0.0.1:{mock}", api_key: "k" }}
models:
  - {{ id: via-openai, channels: [ {{ provider: up-openai, model: mock-openai }} ] }}
  - {{ id: via-anthropic, channels: [ {{ provider: up-anthropic, model: mock-anthropic }} ] }}
  - {{ id: via-gemini, channels: [ {{ provider: up-gemini, model: mock-gemini }} ] }}
keys:
  - {{ name: sdk, key: "{key}" }}
"""


@dataclass
class Stack:
    base: str  # http://127.0.0.1:GWPORT
    mock: str  # http://127.0.0.1:MOCKPORT
    key: str
    logs: Path


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _wait(proc: subprocess.Popen, log: Path, ready) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.exit(f"{proc.args} exited with {proc.returncode}:\n{_tail(log)}", 2)
        if ready():
            return
        time.sleep(0.05)
    pytest.exit(f"{proc.args} not ready after {STARTUP_SECONDS}s:\n{_tail(log)}", 2)


def _tcp_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _healthz(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
            return r.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> Iterator[Stack]:
    exe = binary()
    tmp = tmp_path_factory.mktemp("switchyard")
    mock_port, gw_port, admin_port = free_port(), free_port(), free_port()
    while len({mock_port, gw_port, admin_port}) < 3:
        gw_port, admin_port = free_port(), free_port()

    procs = []
    try:
        mock_log = tmp / "mock.log"
        with open(mock_log, "wb") as out:
            mock = subprocess.Popen([exe, "mock", "--listen", f"127.0.0.1:{mock_port}"],
                                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(mock)
        _wait(mock, mock_log, lambda: _tcp_open(mock_port))

        config = tmp / "switchyard.yaml"
        config.write_text(CONFIG.format(gw=gw_port, admin=admin_port, mock=mock_port, key=KEY))
        gw_log = tmp / "gateway.log"
        with open(gw_log, "wb") as out:
            gw = subprocess.Popen([exe, "run", "-c", str(config)],
                                  stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        procs.append(gw)
        _wait(gw, gw_log, lambda: _healthz(gw_port))

        yield Stack(base=f"http://127.0.0.1:{gw_port}", mock=f"http://127.0.0.1:{mock_port}",
                    key=KEY, logs=tmp)
    finally:
        for proc in reversed(procs):
            _stop(proc)
