"""The job's sandbox, end to end: a real worker runs a hostile job (its author a Contributor who
wants the server's secrets, other workspaces' data, or the machine) and every escape it tries
fails; a job over its memory limit fails saying so."""

from __future__ import annotations

import json
from pathlib import Path

import django
import pytest
from django.conf import settings

from tests.tracking.jobs.test_runner import processes_with
from tracking.jobs.sandbox import Bubblewrap
from tracking.models import Job

from .conftest import wait_for
from .test_jobs import ended, output, submit

pytestmark = pytest.mark.skipif(
    Bubblewrap().unavailable() != "", reason=f"no sandbox here: {Bubblewrap().unavailable()}"
)

LIMITS = {
    "STUDIO_JOB_MEMORY_MB": "256",
    "STUDIO_JOB_MAX_PROCESSES": "64",
    "STUDIO_JOB_MAX_OPEN_FILES": "64",
    "STUDIO_JOB_MAX_FILE_BYTES": str(1024 * 1024),
}

HOSTILE = r"""
import json, os, signal, subprocess, sys, time

targets = json.load(open("targets.json"))


def attempt(name, action):
    try:
        result = action()
    except Exception as error:
        print(f"ESCAPE {name}: blocked ({type(error).__name__}: {error})"[:300], flush=True)
    else:
        print(f"ESCAPE {name}: open ({str(result)[:200]!r})", flush=True)


def read(path):
    with open(path, "rb") as handle:
        return handle.read(200)


def write(path):
    with open(path, "w") as handle:
        handle.write("pwned")
    return path


def visible(path):
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def fork_bomb():
    children = []
    try:
        for _ in range(500):
            pid = os.fork()
            if pid == 0:
                time.sleep(30)
                os._exit(0)
            children.append(pid)
    except OSError as error:
        raise RuntimeError(f"stopped after {len(children)} processes: {error}") from None
    finally:
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    return f"{len(children)} processes"


def too_many_files():
    handles = []
    try:
        for _ in range(5000):
            handles.append(open("/dev/null"))
    except OSError as error:
        raise RuntimeError(f"stopped after {len(handles)} files: {error}") from None
    finally:
        for handle in handles:
            handle.close()
    return f"{len(handles)} files"


def big_file():
    with open("big.bin", "wb") as handle:
        for _ in range(4):
            handle.write(b"x" * (1024 * 1024))
    return os.path.getsize("big.bin")


def server_secrets():
    found = [name for name in ("DATABASE_URL", "STUDIO_SECRET_KEY", "CELERY_BROKER_URL") if name in os.environ]
    if not found:
        raise LookupError("none in the environment")
    return found


attempt("read-secret-key", lambda: read(targets["secret_key"]))
attempt("list-data-dir", lambda: os.listdir(targets["data_dir"]))
if targets.get("database"):
    attempt("read-database", lambda: read(targets["database"]))
attempt("read-worker-environ", lambda: read(f"/proc/{targets['worker_pid']}/environ"))
attempt("see-worker-process", lambda: visible(f"/proc/{targets['worker_pid']}"))
attempt("kill-worker", lambda: os.kill(targets["worker_pid"], signal.SIGKILL))
attempt("read-other-job", lambda: read(targets["other_job_file"]))
attempt("read-artifact-root", lambda: read(targets["artifact_file"]))
attempt("read-server-source", lambda: read(targets["server_source"]))
attempt("read-server-site-packages", lambda: read(targets["site_packages_file"]))
for number, path in enumerate(targets["write_targets"]):
    attempt(f"write-outside-{number}", lambda path=path: write(path))
attempt("find-server-secrets", server_secrets)
attempt("fork-bomb", fork_bomb)
attempt("open-too-many-files", too_many_files)
attempt("write-over-file-limit", big_file)
subprocess.Popen(
    ["setsid", "nohup", "bash", "-c", "while :; do date > /tmp/daemon.beat; sleep 0.2; done", targets["daemon_marker"]],
    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
time.sleep(0.5)
print("daemon left behind", flush=True)
"""

EXPECTED = {
    "read-secret-key",
    "list-data-dir",
    "read-worker-environ",
    "see-worker-process",
    "kill-worker",
    "read-other-job",
    "read-artifact-root",
    "read-server-source",
    "read-server-site-packages",
    "write-outside-0",
    "write-outside-1",
    "write-outside-2",
    "write-outside-3",
    "find-server-secrets",
    "fork-bomb",
    "open-too-many-files",
    "write-over-file-limit",
}


@pytest.fixture
def server(deployed_server, default_environment):
    """The server as it ships, its worker's jobs under small limits."""
    return deployed_server(**LIMITS)


def _plant(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_a_hostile_job_cannot_escape_its_sandbox(server):
    data_dir = Path(settings.DATA_DIR)
    worker_pid = server.worker_pid()
    marker = f"studio-daemon-{worker_pid}"
    database = settings.DATABASES["default"]
    targets = {
        "secret_key": str(data_dir / "secret_key"),
        "data_dir": str(data_dir),
        "database": database["NAME"] if database["ENGINE"].endswith("sqlite3") else "",
        "worker_pid": worker_pid,
        "other_job_file": _plant(
            Path(settings.JOBS_DIR) / "work" / "999999" / "data.csv", "another job's data"
        ),
        "artifact_file": _plant(
            Path(settings.ARTIFACT_ROOT) / "planted" / "model.pkl", "another workspace's model"
        ),
        "server_source": str(Path(settings.BASE_DIR) / "studio" / "settings.py"),
        "site_packages_file": django.__file__,
        "write_targets": [
            str(data_dir / "pwned"),
            str(Path(settings.BASE_DIR) / "pwned"),
            "/usr/pwned",
            "/etc/pwned",
        ],
        "daemon_marker": marker,
    }
    for key in (
        "secret_key",
        "database",
        "other_job_file",
        "artifact_file",
        "server_source",
        "site_packages_file",
    ):
        assert not targets[key] or Path(targets[key]).is_file(), (
            f"{key} must exist on the host for the test to mean anything"
        )

    submitted = submit(
        server, {"hostile.py": HOSTILE, "targets.json": json.dumps(targets)}, "python hostile.py"
    )
    job = ended(server, submitted["id"], timeout=120)

    text = output(server, job.pk)
    lines = [line for line in text.splitlines() if line.startswith("ESCAPE ")]
    attempted = {line[len("ESCAPE ") :].split(":")[0] for line in lines}
    expected = EXPECTED | ({"read-database"} if targets["database"] else set())
    assert attempted == expected, text
    assert [line for line in lines if ": open" in line] == [], "\n".join(lines)
    assert (job.status, job.run.status) == ("SUCCEEDED", "FINISHED"), job.error + text
    # Within its limits: some processes and files were had before the limit stopped them.
    assert "fork-bomb: blocked (RuntimeError: stopped after" in text
    assert "open-too-many-files: blocked (RuntimeError: stopped after" in text
    assert "write-over-file-limit: blocked (OSError: [Errno 27] File too large)" in text
    # Nothing it wrote outside its folder exists, the worker lives, and its daemon died with it.
    assert not any(Path(path).exists() for path in targets["write_targets"])
    assert server.worker_pid() == worker_pid  # alive, the same
    assert "daemon left behind" in text
    assert processes_with(marker) == []


def test_a_job_over_its_memory_limit_fails_saying_so(server):
    script = "print('allocating', flush=True)\nblock = bytearray(512 * 1024 * 1024)\nprint('allocated')\n"

    job = ended(server, submit(server, {"eat.py": script}, "python eat.py")["id"])

    assert (job.status, job.run.status) == ("FAILED", "FAILED")
    assert job.error == (
        "The job used more than its memory limit of 256 MB and was stopped (STUDIO_JOB_MEMORY_MB). "
        "The command exited with code 1."
    )
    text = output(server, job.pk)
    assert "allocating" in text and "MemoryError" in text and "allocated\n" not in text
    assert f"[studio] {job.error}" in text


def test_a_daemon_of_a_cancelled_job_dies_with_it(server):
    marker = f"studio-cancelled-daemon-{server.worker_pid()}"
    script = (
        "import subprocess, time\n"
        f"subprocess.Popen(['setsid', 'sleep', '600'], start_new_session=True)\n"
        f"subprocess.Popen(['setsid', 'bash', '-c', 'while :; do sleep 1; done', {marker!r}])\n"
        "print('started', flush=True)\ntime.sleep(600)\n"
    )
    job_id = submit(server, {"d.py": script}, "python d.py")["id"]
    wait_for(lambda: processes_with(marker), 60, "the daemon to start")

    Job.cancel(job_id)

    ended(server, job_id, timeout=30)
    wait_for(lambda: not processes_with(marker), 10, "the daemon to die")
