"""Fixtures: a real redis-server on a free loopback port, and worker processes started as in production."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import redis

from support import REPO_ROOT, TEST_FIXTURES, WORKER_DIR

# In-process tests load the test-only backend plugin as the worker does: by module name.
sys.path.insert(0, str(TEST_FIXTURES))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory) -> str:
    port = _free_port()
    folder = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield url
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture
def queue_name() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"  # one queue per test: no cross-talk


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


class WorkerProcess:
    """`python -m spinbot_worker` exactly as the lead's supervisor starts it."""

    def __init__(self, env: dict, log_path: Path):
        self.log_path = log_path
        self.lines: list[str] = []
        self._ready = threading.Event()
        self._log = open(log_path, "w")
        self.process = subprocess.Popen([sys.executable, "-m", "spinbot_worker"], cwd=REPO_ROOT, env=env,
                                        stdout=subprocess.PIPE, stderr=self._log, text=True)
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            if "spinbot worker ready" in line:
                self._ready.set()

    def wait_ready(self, timeout: float = 30) -> "WorkerProcess":
        if not self._ready.wait(timeout):
            self.kill()
            raise AssertionError(f"worker not ready; its log:\n{self.log()}")
        return self

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text()

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # SIGKILL
            self.process.wait(timeout=10)


@pytest.fixture
def start_worker(redis_url, queue_name, data_dir, tmp_path):
    """start_worker(**env) -> a ready WorkerProcess; all are killed after the test."""
    started: list[WorkerProcess] = []

    def start(wait: bool = True, **extra_env) -> WorkerProcess:
        env = {key: value for key, value in os.environ.items() if not key.startswith("SPINBOT_")}
        env.update({
            "REDIS_URL": redis_url,
            "SPINBOT_DATA_DIR": str(data_dir),
            "SPINBOT_QUEUE": queue_name,
            "SPINBOT_BACKEND_PLUGINS": "misbehaving_backends",
            "PYTHONPATH": os.pathsep.join([str(WORKER_DIR), str(TEST_FIXTURES)]),
            "PYTHONUNBUFFERED": "1",
        })
        env.update({key: str(value) for key, value in extra_env.items()})
        worker = WorkerProcess(env, tmp_path / f"worker-{len(started) + 1}.log")
        started.append(worker)
        return worker.wait_ready() if wait else worker

    yield start
    for worker in started:
        worker.kill()
