"""Measures what the job runtime adds: the sandbox's start (`bash -c true` plain vs in bubblewrap,
as the worker starts it), and building an environment with uv against venv + pip, cold and warm.

    STUDIO_DATA_DIR=... python tests/perf/measure_job_runtime.py [--repeat 200] [--skip-builds]

Not a test (pytest does not collect it); prints the figures docs and reviews quote.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
django.setup()

from tracking.jobs.sandbox import Bubblewrap, Limits, Request, Unsandboxed  # noqa: E402

SPEC = "mlflow-skinny\nsix\n"


def _time(run, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append((time.perf_counter() - started) * 1000)
    return times


def _launcher(sandbox, work: Path):
    launch = sandbox.launch(
        Request(command="true", work=work, environment=None, variables={}, limits=Limits.from_settings())
    )
    launch.close()

    def run():
        again = sandbox.launch(
            Request(command="true", work=work, environment=None, variables={}, limits=Limits.from_settings())
        )
        subprocess.run(
            again.argv, cwd=again.cwd, env=again.env, user=again.user, group=again.group,
            extra_groups=[] if again.user is not None else None, pass_fds=again.pass_fds, check=True,
        )  # fmt: skip
        again.close()

    return run


def measure_sandbox(repeat: int) -> None:
    from django.conf import settings

    work = Path(settings.DATA_DIR) / "perf-sandbox"
    work.mkdir(parents=True, exist_ok=True)
    Bubblewrap().prepare_folder(work)
    plain = _time(lambda: subprocess.run(["bash", "-c", "true"], check=True), repeat)
    limited = _time(_launcher(Unsandboxed(), work), repeat)
    sandboxed = _time(_launcher(Bubblewrap(), work), repeat)
    for name, times in (
        ("bash -c true", plain),
        ("+ limits (unsandboxed)", limited),
        ("+ bubblewrap", sandboxed),
    ):
        print(
            f"{name:28} p50 {statistics.median(times):6.2f} ms   p95 {sorted(times)[int(len(times) * 0.95)]:6.2f} ms"
        )
    print(f"sandbox start overhead (p50): {statistics.median(sandboxed) - statistics.median(plain):.2f} ms")
    shutil.rmtree(work, ignore_errors=True)


def _run(command: list[str], env: dict) -> None:
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def measure_builds() -> None:
    from uv import find_uv_bin

    uv = find_uv_bin()
    python = "/usr/bin/python3.11" if Path("/usr/bin/python3.11").exists() else sys.executable
    with tempfile.TemporaryDirectory(dir=Path.home()) as scratch:
        root = Path(scratch)
        (root / "requirements.txt").write_text(SPEC)
        env = {
            **os.environ,
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_CACHE_DIR": str(root / "uv-cache"),
            "UV_NO_CONFIG": "1",
        }
        pip_env = {
            **os.environ,
            "PIP_CACHE_DIR": str(root / "pip-cache"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        }
        for label in ("cold", "warm"):
            target = root / f"uv-{label}"
            started = time.perf_counter()
            _run([uv, "venv", "--relocatable", "--python", python, str(target)], env)
            _run([uv, "pip", "install", "--only-binary", ":all:", "--python", str(target / "bin" / "python"),
                  "-r", str(root / "requirements.txt")], env)  # fmt: skip
            uv_seconds = time.perf_counter() - started
            target = root / f"pip-{label}"
            started = time.perf_counter()
            _run([python, "-m", "venv", str(target)], pip_env)
            _run([str(target / "bin" / "pip"), "install", "-q", "--only-binary", ":all:", "-r",
                  str(root / "requirements.txt")], pip_env)  # fmt: skip
            pip_seconds = time.perf_counter() - started
            print(
                f"{label} cache: uv venv + uv pip install {uv_seconds:6.2f} s   python -m venv + pip install {pip_seconds:6.2f} s"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--skip-builds", action="store_true")
    arguments = parser.parse_args()
    measure_sandbox(arguments.repeat)
    if not arguments.skip_builds:
        print(f"building an environment of: {SPEC.strip().replace(chr(10), ', ')}")
        measure_builds()
