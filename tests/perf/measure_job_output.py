"""A job that prints a lot, and what it costs the worker: its resident memory before the job and at
its peak while the job prints (sampled every 50 ms), and how long the job took.

    python -m tests.perf.measure_job_output [--megabytes 200]

It starts `manage.py serve` on a data folder of its own, waits for the default environment to be
built (a first job), then submits a job printing `--megabytes` MB in lines of 1,000 bytes.
"""

from __future__ import annotations

import argparse
import io
import os
import threading
import time
import zipfile
from pathlib import Path

import requests

from tests.perf.overload import Server, _cmdline

PRINTER = """
import sys
line = "x" * 999 + "\\n"
for _ in range({lines}):
    sys.stdout.write(line)
"""


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _submit(url: str, script: str) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("print.py", script)
    answer = requests.post(
        f"{url}/api/studio/v1/workspaces/default/jobs",
        files={"file": ("job.zip", buffer.getvalue(), "application/zip")},
        data={"command": "python print.py", "experiment_name": "output"},
        headers={"X-Studio-Client": "measure"},
        timeout=60,
    )
    answer.raise_for_status()
    return answer.json()["id"]


def _wait(url: str, job_id: int, timeout: float = 900) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{url}/api/studio/v1/workspaces/default/jobs/{job_id}", timeout=30).json()
        if job["status"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--data-dir", default=f"/tmp/studio-output-{time.time_ns()}")
    arguments = parser.parse_args()
    import subprocess
    import sys

    data_dir = Path(arguments.data_dir)
    data_dir.mkdir(parents=True)
    environment = {"STUDIO_DATA_DIR": str(data_dir)}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], env={**os.environ, **environment}, check=True
    )
    server = Server(data_dir, arguments.port, environment)
    server.start()
    try:
        warm = _wait(server.url, _submit(server.url, "print('warm')"))  # builds the default environment
        assert warm["status"] == "SUCCEEDED", warm
        worker = next(pid for pid in server.processes() if b"celery" in _cmdline(pid))
        before = _rss_kb(worker)
        peak = [before]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _rss_kb(worker))
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        started = time.monotonic()
        job = _wait(server.url, _submit(server.url, PRINTER.format(lines=arguments.megabytes * 1000)))
        elapsed = time.monotonic() - started
        done.set()
        sampler.join()
        print(f"job: {job['status']}, {job['done']} lines, {job['output_bytes']:,} bytes kept, "
              f"{job['output_dropped']:,} counted past the cap, {elapsed:.1f} s")  # fmt: skip
        print(f"worker RSS: {before / 1024:.1f} MB before, {peak[0] / 1024:.1f} MB at its peak")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
