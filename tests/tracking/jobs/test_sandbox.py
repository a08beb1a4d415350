"""The sandbox's command line: what a job sees, what it does not, and its limits."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest

from tracking.jobs.sandbox import (
    SANDBOXES,
    Bubblewrap,
    Limits,
    Request,
    Unsandboxed,
    current_sandbox,
    hidden_paths,
    sandbox_status,
)

LIMITS = Limits(memory_mb=512, processes=64, open_files=128, file_bytes=1024 * 1024)


def _request(tmp_path, environment=None, command="python train.py") -> Request:
    return Request(
        command=command,
        work=tmp_path / "work",
        environment=environment,
        variables={"MLFLOW_RUN_ID": "abc", "PYTHONUNBUFFERED": "1"},
        limits=LIMITS,
    )


def _pairs(argv: list[str], option: str) -> list[tuple[str, str]]:
    return [(argv[i + 1], argv[i + 2]) for i, word in enumerate(argv) if word == option]


def test_runners_are_registered_by_kind():
    assert {"bubblewrap": Bubblewrap, "unsandboxed": Unsandboxed} == SANDBOXES


def test_the_job_gets_new_namespaces_an_unprivileged_uid_and_dies_with_its_parent(tmp_path):
    argv = Bubblewrap("/usr/bin/bwrap").launch(_request(tmp_path)).argv

    assert argv[0] == "/usr/bin/bwrap"
    for option in ("--unshare-user", "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--die-with-parent"):
        assert option in argv
    assert "--unshare-net" not in argv  # the job's MLflow client reaches the server
    assert argv[argv.index("--uid") + 1] == "1000" and argv[argv.index("--gid") + 1] == "1000"
    assert tuple(argv[i + 1] for i, w in enumerate(argv) if w == "--proc") == ("/proc",)


def test_the_job_sees_its_folder_read_write_its_environment_read_only_and_the_system(tmp_path):
    environment = tmp_path / "env"
    launch = Bubblewrap().launch(_request(tmp_path, environment))

    assert (str(tmp_path / "work"), "/job") in _pairs(launch.argv, "--bind")
    read_only = _pairs(launch.argv, "--ro-bind")
    assert (str(environment), "/env") in read_only and ("/usr", "/usr") in read_only
    assert launch.argv[launch.argv.index("--chdir") + 1] == "/job"
    assert (
        launch.env["PATH"] == "/env/bin:/usr/local/bin:/usr/bin:/bin" and launch.env["VIRTUAL_ENV"] == "/env"
    )
    assert launch.env["HOME"] == "/job" and launch.env["MLFLOW_RUN_ID"] == "abc"
    launch.close()


def test_the_command_runs_under_its_limits(tmp_path):
    argv = Bubblewrap().launch(_request(tmp_path)).argv

    assert argv[-4:] == [
        "-c",
        'ulimit -c 0 -v 524288 -n 128 -f 1024 -u 64 || exit 125; exec /bin/bash -c "$1"',
        "studio-job",
        "python train.py",
    ]
    # Unsandboxed, the process limit would count every process of the worker's user: left out.
    assert "-u" not in Unsandboxed().launch(_request(tmp_path)).argv[2]


def test_the_servers_files_under_a_shown_folder_are_masked(tmp_path, settings, monkeypatch):
    # As in the Docker image: the server's site-packages under /usr/local, shown to jobs with /usr.
    site_packages = Path("/usr/lib/python3/dist-packages")
    monkeypatch.setattr("tracking.jobs.sandbox.site.getsitepackages", lambda: [str(site_packages)])
    argv = Bubblewrap().launch(_request(tmp_path)).argv

    if site_packages.is_dir():
        assert ("--tmpfs", str(site_packages)) in list(itertools.pairwise(argv))
    assert Path(settings.DATA_DIR) in hidden_paths() and Path(settings.BASE_DIR) in hidden_paths()
    # The data folder is not under a folder the sandbox shows: it is simply absent, not masked.
    assert str(settings.DATA_DIR) not in argv


def test_when_the_worker_is_root_the_sandbox_runs_as_the_configured_unprivileged_user(tmp_path, settings):
    settings.JOB_UID, settings.JOB_GID = 4242, 4343
    launch = Bubblewrap().launch(_request(tmp_path))

    if os.geteuid() == 0:
        assert (launch.user, launch.group) == (4242, 4343)
    else:
        assert (launch.user, launch.group) == (None, None)


def test_a_signal_reported_by_bwrap_is_a_signal(tmp_path):
    assert Bubblewrap().exit_code(137) == -9 and Bubblewrap().exit_code(1) == 1
    assert Unsandboxed().exit_code(137) == 137


def test_the_setting_chooses_the_runner_and_the_status_says_why(settings):
    settings.JOBS_SANDBOX = "none"
    assert isinstance(current_sandbox(), Unsandboxed)
    status = sandbox_status()
    assert (status.sandboxed, status.reason) == (False, "STUDIO_JOBS_SANDBOX=none")

    settings.JOBS_SANDBOX, settings.JOBS_BWRAP = "auto", "/no/such/bwrap"
    assert isinstance(current_sandbox(), Unsandboxed)
    assert "bubblewrap is not installed" in sandbox_status().reason
    settings.JOBS_SANDBOX = "bubblewrap"
    assert isinstance(current_sandbox(), Bubblewrap)  # start-up checks refuse this configuration


@pytest.mark.skipif(Bubblewrap().unavailable() != "", reason="bubblewrap cannot run here")
def test_a_sandboxed_command_sees_only_its_own_processes_and_folder(sandbox_reachable_folder, settings):
    tmp_path = sandbox_reachable_folder
    work = tmp_path / "work"
    work.mkdir()
    sandbox = Bubblewrap()
    sandbox.prepare_folder(work)
    command = f"ls /proc | grep -c '^[0-9]'; id -u; test -e {settings.DATA_DIR} && echo data || echo no-data"
    launch = sandbox.launch(_request(tmp_path, command=command))
    done = subprocess.run(
        launch.argv, cwd=launch.cwd, env=launch.env, user=launch.user, group=launch.group,
        extra_groups=[] if launch.user is not None else None, pass_fds=launch.pass_fds,
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    launch.close()

    processes, uid, data = done.stdout.split()
    assert done.returncode == 0, done.stderr
    assert int(processes) <= 4 and uid == "1000" and data == "no-data"
