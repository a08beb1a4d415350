"""Uploads and downloads stream: moving 256 MB through a real gunicorn worker keeps its memory flat."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from .conftest import ROOT, child_environment, free_port, wait_for

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts

SIZE = 256 * 1024 * 1024
BLOCK = bytes(range(256)) * 4096  # 1 MiB of varied bytes


class GeneratedFile:
    """A file-like body of SIZE bytes that is never in memory at once (requests streams it)."""

    def __init__(self) -> None:
        self.sent = 0
        self.digest = hashlib.sha256()

    def __len__(self) -> int:
        return SIZE

    def read(self, size: int = -1) -> bytes:
        if self.sent >= SIZE:
            return b""
        chunk = BLOCK[: min(len(BLOCK), SIZE - self.sent, size if size > 0 else len(BLOCK))]
        self.sent += len(chunk)
        self.digest.update(chunk)
        return chunk


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def children(pid: int) -> list[int]:
    return [
        int(p)
        for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]


@pytest.fixture
def web_only(tmp_path):
    port = free_port()
    env = child_environment(
        STUDIO_DATA_DIR=str(tmp_path / "data"),
        DATABASE_URL=f"sqlite:///{tmp_path / 'data' / 'studio.sqlite3'}",
        STUDIO_PORT=str(port),
        STUDIO_WEB_WORKERS="1",
        STUDIO_WEB_THREADS="2",
    )
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--only", "web"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/health", timeout=2).ok
        except requests.ConnectionError:
            return False

    wait_for(up, 60, "the web server")
    yield process, url
    process.terminate()
    process.wait(timeout=30)


def test_a_256_mb_artifact_goes_up_and_down_without_the_worker_growing(web_only):
    process, url = web_only
    target = f"{url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/big.bin"
    requests.put(
        f"{url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/warm.txt", data=b"warm", timeout=30
    )
    assert requests.get(f"{url}/api/2.0/mlflow-artifacts/artifacts/0/run/artifacts/warm.txt", timeout=30).ok
    [master] = children(process.pid)
    [worker] = children(master)
    before = peak_rss_kib(worker)

    body = GeneratedFile()
    assert requests.put(target, data=body, timeout=300).status_code == 200
    received = hashlib.sha256()
    size = 0
    with requests.get(target, stream=True, timeout=300) as response:
        assert response.headers["Content-Length"] == str(SIZE)
        for chunk in response.iter_content(1024 * 1024):
            received.update(chunk)
            size += len(chunk)

    assert size == SIZE
    assert received.hexdigest() == body.digest.hexdigest()
    growth_mib = (peak_rss_kib(worker) - before) / 1024
    print(f"worker peak RSS grew by {growth_mib:.1f} MiB moving {SIZE >> 20} MiB up and down")
    assert growth_mib < 40, f"the worker's peak memory grew by {growth_mib:.0f} MiB moving {SIZE >> 20} MiB"
