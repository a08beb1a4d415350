"""The worker's side of a job's environment: which one it needs, and the folder it runs in.

1. The specification: the one submitted with the job (its Environment row), else the snapshot's
   (MLproject `python_env:` / python_env.yaml, `conda_env:` / conda.yaml, requirements.txt),
   else the default: just mlflow-skinny.
2. The interpreter: the version the specification asks for, among those on this machine (and,
   in a sandbox whose outer user is not the worker's, that user can run); never downloaded.
3. The row (one per workspace and specification hash), recorded as the job's.
4. Under the folder's lock: an environment already whole is used as it is; otherwise uv builds
   it into a temporary folder (`uv venv --relocatable`, then `uv pip install --only-binary :all:`
   from the configured index, so no package's code runs outside the sandbox), its output going
   into the job's output, and the folder is renamed into place, whole or not at all. Two workers
   needing it at once: one builds, the other waits for the lock and finds it whole.
5. The job keeps a shared lock on it while it runs, so eviction leaves it alone; after a build,
   the least recently used environments beyond STUDIO_ENVIRONMENTS_MAX_BYTES are evicted.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from tracking.jobs import environment_folders as folders
from tracking.jobs.pythons import Interpreter, available_pythons, reachable_by_others, select_python
from tracking.jobs.specs import Spec, SpecError, default_spec, read_spec
from tracking.models import Environment, Job
from tracking.services.environments import (
    declare_environment,
    evict_environments,
    fail_environment_build,
    finish_environment_build,
    start_environment_build,
    use_environment,
)

POLL_SECONDS = 0.1
BEAT_SECONDS = 1.0
ERROR_LINES = 6
# What of the worker's environment uv sees: where things are, proxies, certificates, uv's own settings.
UV_INHERITED = ("PATH", "HOME", "LANG", "LC_ALL", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
UV_PREFIXES = ("UV_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")


class EnvironmentFailed(Exception):
    """The job cannot have its environment; the message says why (the installer's error included)."""


class Lease:
    """An environment folder a job runs in, held with a shared lock until `release()`."""

    def __init__(self, environment: Environment, fd: int) -> None:
        self.environment, self.fd = environment, fd
        self.folder = environment.folder

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def job_spec(job: Job, work: Path) -> tuple[Spec, str]:
    """The job's specification and the environment's name (1.)."""
    if job.environment_id is not None:
        environment = job.environment
        spec = Spec(
            kind=environment.kind,
            python=environment.python_asked,
            requirements=tuple(environment.requirements),
            text=environment.spec_text,
        )
        return spec, environment.name
    try:
        spec = read_spec(work)
    except SpecError as error:
        raise EnvironmentFailed(str(error)) from None
    if spec is None:
        return default_spec(), "default"
    return spec, f"{job.source_name or 'snapshot'} ({spec.kind})"[:200]


def choose_python(spec: Spec, *, outer_user_differs: bool) -> Interpreter:
    """The interpreter (2.); the worker's own minor version when the specification names none."""
    own = f"{sys.version_info[0]}.{sys.version_info[1]}"
    usable = reachable_by_others if outer_user_differs else (lambda interpreter: True)
    try:
        return select_python(spec.python, available_pythons(), default=own, usable=usable)
    except SpecError as error:
        raise EnvironmentFailed(str(error)) from None


def prepare_environment(
    job: Job, work: Path, *, output, beat: Callable[[], None], outer_user_differs: bool
) -> Lease:
    """The job's environment, built if need be, held for the job (1.-5.)."""
    spec, name = job_spec(job, work)
    environment = declare_environment(workspace=job.workspace, spec=spec, name=name)
    use_environment(environment=environment, job=job)
    fd = folders.open_lock(environment.folder)
    try:
        _wait_for_lock(fd, exclusive=False, output=output, beat=beat)
        if folders.is_whole(environment.folder):  # nothing to say: the job's output stays its own
            return Lease(environment, fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        _wait_for_lock(fd, exclusive=True, output=output, beat=beat)
        if not folders.is_whole(environment.folder):
            interpreter = choose_python(spec, outer_user_differs=outer_user_differs)
            _build(environment, spec, interpreter, output=output, beat=beat)
        fcntl.flock(fd, fcntl.LOCK_SH)
    except BaseException:
        os.close(fd)
        raise
    evict_environments()
    return Lease(environment, fd)


def _wait_for_lock(fd: int, *, exclusive: bool, output, beat: Callable[[], None]) -> None:
    said = False
    last_beat = time.monotonic()
    while not folders.try_lock(fd, exclusive=exclusive):
        if not said:
            output.note("Waiting for another job building the same environment.")
            said = True
        time.sleep(POLL_SECONDS * 5)
        if time.monotonic() - last_beat >= BEAT_SECONDS:
            beat()
            last_beat = time.monotonic()


def _uv() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


def uv_environment() -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name in UV_INHERITED or name.startswith(UV_PREFIXES)
    }
    env.update(
        UV_PYTHON_DOWNLOADS="never",
        UV_CACHE_DIR=str(folders.environments_root() / ".uv-cache"),
        UV_NO_CONFIG="1",
        NO_COLOR="1",
    )
    return env


def build_commands(spec_file: Path, target: Path, interpreter: Interpreter) -> list[list[str]]:
    uv = _uv()
    install = [uv, "pip", "install", "--no-progress", "--python", str(target / "bin" / "python")]
    install += ["--only-binary", ":all:"]
    if settings.ENVIRONMENTS_INDEX_URL:
        install += ["--index-url", settings.ENVIRONMENTS_INDEX_URL]
    return [
        [uv, "venv", "--no-progress", "--relocatable", "--python", interpreter.executable, str(target)],
        [*install, "-r", str(spec_file)],
    ]


def _build(environment: Environment, spec: Spec, interpreter: Interpreter, *, output, beat) -> None:
    start_environment_build(environment=environment)
    output.note(
        f"Building the environment {environment.name!r} ({environment.spec_hash[:12]}) with Python "
        f"{interpreter.version}: {', '.join(spec.requirements)}"
    )
    started = time.monotonic()
    try:
        size = build_folder(spec, interpreter, environment.folder, output=output, beat=beat)
    except EnvironmentFailed as error:
        fail_environment_build(environment=environment, error=str(error))
        raise
    except BaseException as error:
        fail_environment_build(environment=environment, error=f"{type(error).__name__}: {error}")
        raise
    finish_environment_build(environment=environment, python_version=interpreter.version, size_bytes=size)
    output.note(f"Environment built in {time.monotonic() - started:.1f} s ({size / 1e6:.0f} MB).")


def build_folder(
    spec: Spec, interpreter: Interpreter, final: Path, *, output, beat: Callable[[], None]
) -> int:
    """Builds the environment into a temporary folder and renames it to `final` once whole (the
    caller holds the folder's exclusive lock); returns its size in bytes."""
    scratch = folders.environments_root() / ".building" / f"{final.name}-{secrets.token_hex(4)}"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    spec_file = scratch.parent / f"{scratch.name}.txt"
    spec_file.write_text("".join(f"{line}\n" for line in spec.requirements))
    deadline = time.monotonic() + settings.ENVIRONMENT_BUILD_TIMEOUT_SECONDS
    try:
        for command in build_commands(spec_file, scratch, interpreter):
            _run(command, output=output, beat=beat, deadline=deadline)
        marker = {"hash": spec.hash, "python": interpreter.version, "spec": spec.normalized}
        (scratch / folders.MARKER).write_text(json.dumps(marker))
        size = folders.folder_size(scratch)
        folders.remove_folder(final)  # a half folder left by a worker killed mid-rename, if any
        os.rename(scratch, final)
    finally:
        spec_file.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)
    return size


def _run(command: list[str], *, output, beat: Callable[[], None], deadline: float) -> None:
    """Runs one step of the build, its output into the job's, beating; raises with uv's own error."""
    first_line = output.lines
    process = subprocess.Popen(
        command,
        env=uv_environment(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    reader = threading.Thread(target=output.pump, args=(process.stdout,), daemon=True)
    reader.start()
    last_beat = time.monotonic()
    try:
        while process.poll() is None:
            time.sleep(POLL_SECONDS)
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise EnvironmentFailed(
                    "The environment took longer than STUDIO_ENVIRONMENT_BUILD_TIMEOUT_SECONDS "
                    f"({settings.ENVIRONMENT_BUILD_TIMEOUT_SECONDS} s) to build."
                )
            if time.monotonic() - last_beat >= BEAT_SECONDS:
                beat()  # LostClaim when the job was cancelled: the build stops with it
                last_beat = time.monotonic()
    except BaseException:
        if process.poll() is None:
            process.kill()
            process.wait()
        raise
    finally:
        reader.join(timeout=10)
    if process.returncode != 0:
        lines = list(output.tail)[-min(ERROR_LINES, max(output.lines - first_line, 1)) :]
        said = " ".join(line.decode("utf-8", "replace").strip() for line in lines)
        step = " ".join(os.path.basename(word) if i == 0 else word for i, word in enumerate(command[:3]))
        raise EnvironmentFailed(
            f"The environment could not be built ({step} exited with code {process.returncode}): {said}"
        )
