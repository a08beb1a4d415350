"""A worker runs a job: snapshot unpacked, command run in a subprocess, output captured, status set."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from tracking.jobs.runner import run_job
from tracking.models import Job, Param
from tracking.services.artifacts import list_under, open_artifact
from tracking.services.jobs import cancel_job, snapshot_folder

from .conftest import read_log, snapshot_file

WORKER = "test-worker:1"


def ended(job) -> Job:
    run_job(job.pk, worker=WORKER)
    return Job.objects.select_related("run", "workspace").get(pk=job.pk)


def test_it_runs_the_command_in_the_snapshot_and_captures_stdout_and_stderr(submit, settings):
    job = submit(
        {
            "train.py": "import sys\nprint('epoch 1')\nprint('warning: slow', file=sys.stderr)\nprint('done')\n",
            "data/params.txt": "alpha=0.5",
        },
        "python train.py --alpha 0.5",
    )
    assert job.run.status == "SCHEDULED"

    job = ended(job)

    assert (job.status, job.exit_code, job.run.status) == ("SUCCEEDED", 0, "FINISHED")
    assert job.run.end_time is not None
    log = read_log(job)
    assert log.startswith("epoch 1\nwarning: slow\ndone\n")
    assert "[studio] The command exited with code 0" in log
    assert job.output_bytes == len("epoch 1\nwarning: slow\ndone\n") and job.done == 3


def test_it_keeps_the_snapshot_beside_the_run_and_cleans_up_after_itself(submit, settings):
    job = submit(
        {"train.py": "open('made.txt', 'w').write('x')\n", "src/util.py": "X = 1\n"}, "python train.py"
    )
    upload = job.snapshot_path

    job = ended(job)

    folder = snapshot_folder(job)
    assert [f.path for f in list_under(job.workspace, folder, "")] == ["src", "train.py"]
    assert [f.path for f in list_under(job.workspace, folder, "src")] == ["src/util.py"]
    assert job.snapshot_files == 2 and job.snapshot_path == ""
    assert not os.path.exists(upload)
    assert not (settings.JOBS_DIR / "work" / str(job.pk)).exists()  # made.txt went with the folder


def test_it_sets_the_tracking_environment_and_keeps_the_workers_secrets_out(submit, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:secret@db/studio")
    monkeypatch.setenv("STUDIO_SECRET_KEY", "very-secret")
    script = (
        "import os\n"
        "for name in ['MLFLOW_TRACKING_URI', 'MLFLOW_RUN_ID', 'MLFLOW_EXPERIMENT_ID', 'DATABASE_URL', 'STUDIO_SECRET_KEY']:\n"
        "    print(name, os.environ.get(name, '-'))\n"
    )
    job = ended(submit({"env.py": script}, "python env.py"))

    lines = read_log(job).splitlines()
    assert lines[:5] == [
        "MLFLOW_TRACKING_URI http://studio.test:8000/ws/default",
        f"MLFLOW_RUN_ID {job.run.uuid}",
        f"MLFLOW_EXPERIMENT_ID {job.experiment.number}",
        "DATABASE_URL -",
        "STUDIO_SECRET_KEY -",
    ]


def test_a_failing_command_fails_the_job_and_its_run_with_the_last_line_of_output(submit):
    job = ended(
        submit(
            {"train.py": "print('loading')\nraise ValueError('alpha must be positive')\n"}, "python train.py"
        )
    )

    assert (job.status, job.exit_code, job.run.status) == ("FAILED", 1, "FAILED")
    assert job.error.startswith("The command exited with code 1.")
    assert "ValueError: alpha must be positive" in job.error
    log = read_log(job)
    assert "loading\nTraceback" in log and log.endswith("[studio] The command exited with code 1.\n")


def test_a_script_missing_from_the_snapshot_is_a_clear_error(submit):
    job = ended(submit({"train.py": "print(1)\n"}, "python tain.py"))

    assert (job.status, job.run.status, job.exit_code) == ("FAILED", "FAILED", None)
    assert job.error == "The script tain.py is not in the snapshot (its top folder holds: train.py)."
    assert job.error in read_log(job)


def test_an_unknown_program_says_it_was_not_found(submit):
    job = ended(submit({"a.txt": ""}, "no-such-program --go"))

    assert (job.status, job.exit_code) == ("FAILED", 127)
    assert "the program was not found" in job.error


def test_a_snapshot_with_a_path_out_of_the_folder_is_refused(submit, settings):
    job = ended(submit({"../../escape.py": "print('out')\n", "train.py": ""}, "python train.py"))

    assert (job.status, job.run.status) == ("FAILED", "FAILED")
    assert "The snapshot was refused" in job.error and "'..'" in job.error
    assert not (settings.JOBS_DIR / "escape.py").exists()


def test_output_past_the_cap_is_counted_not_kept_and_the_job_goes_on(submit, settings):
    settings.JOB_MAX_OUTPUT_BYTES = 10_000
    job = ended(
        submit(
            {"loud.py": "for i in range(5000):\n    print('x' * 99)\nprint('the end')\n"}, "python loud.py"
        )
    )

    assert job.status == "SUCCEEDED"
    assert job.output_bytes == 10_000 and job.output_dropped == 5000 * 100 + 8 - 10_000
    log = read_log(job)
    assert "[studio] Output truncated: only the first 10000 bytes are kept" in log
    assert f"[studio] {job.output_dropped} more bytes of output were not kept." in log
    assert "the end" not in log


def test_a_job_past_its_time_limit_is_killed_and_failed(submit):
    job = submit({"slow.py": "import time\nprint('started', flush=True)\ntime.sleep(60)\n"}, "python slow.py")
    Job.objects.filter(pk=job.pk).update(time_limit_seconds=1)
    started = time.monotonic()

    job = ended(job)

    assert time.monotonic() - started < 10
    assert (job.status, job.run.status) == ("FAILED", "FAILED")
    assert job.error == "Stopped after its time limit of 1 seconds."
    assert "started" in read_log(job)


def test_a_project_entry_point_runs_with_its_parameters_logged_on_the_run(submit):
    mlproject = (
        "name: demo\n"
        "entry_points:\n"
        "  main:\n"
        "    parameters:\n"
        "      alpha: {type: float, default: 0.1}\n"
        "      epochs: {type: int, default: 3}\n"
        "    command: python train.py --alpha {alpha} --epochs {epochs}\n"
    )
    script = "import sys\nprint(' '.join(sys.argv[1:]))\n"
    job = submit(
        {"MLproject": mlproject, "train.py": script},
        entry_point="main",
        parameters={"alpha": "0.5", "seed": "7"},
    )

    job = ended(job)

    assert job.status == "SUCCEEDED", job.error
    assert job.command == "python train.py --alpha 0.5 --epochs 3 --seed 7"
    assert read_log(job).startswith("--alpha 0.5 --epochs 3 --seed 7\n")
    assert dict(Param.objects.filter(run=job.run).values_list("key", "value")) == {
        "alpha": "0.5",
        "epochs": "3",
        "seed": "7",
    }


def test_a_project_parameter_of_the_wrong_type_fails_the_job_before_running(submit):
    mlproject = (
        "entry_points:\n  main:\n    parameters:\n      alpha: float\n    command: python t.py {alpha}\n"
    )
    job = ended(submit({"MLproject": mlproject, "t.py": ""}, entry_point="main", parameters={"alpha": "big"}))

    assert job.status == "FAILED"
    assert job.error == "The parameter 'alpha' must be a float; got 'big'."


def test_a_job_claimed_before_by_a_worker_that_died_is_failed_not_run_again(submit):
    job = submit({"train.py": "open('ran', 'w')\n"}, "python train.py")
    Job.objects.filter(pk=job.pk).update(status="RUNNING", attempts=1, heartbeat_at="2000-01-01T00:00:00Z")

    job = ended(job)

    assert (job.status, job.run.status) == ("FAILED", "FAILED")
    assert "stopped before it ended" in job.error


def test_a_job_that_ended_or_is_held_by_another_worker_is_left_alone(submit):
    job = submit({"t.py": ""}, "python t.py")
    Job.objects.filter(pk=job.pk).update(
        status="RUNNING", claimed_by="other", heartbeat_at="2999-01-01T00:00:00Z"
    )

    job = ended(job)

    assert (job.status, job.claimed_by, job.run.status) == ("RUNNING", "other", "SCHEDULED")


# With a second thread: these need committed rows.


def _run_in_thread(job) -> threading.Thread:
    from django.db import connection

    def target():
        try:
            run_job(job.pk, worker=WORKER)
        finally:
            connection.close()

    thread = threading.Thread(target=target)
    thread.start()
    return thread


def _wait_for(condition, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.mark.django_db(transaction=True)
def test_output_is_visible_in_the_runs_logs_while_the_job_runs(submit, settings):
    # The gate is in the job's own folder: the only one of the host's it can see.
    script = "import os, time\nprint('step 1')\nwhile not os.path.exists('gate'):\n    time.sleep(0.05)\nprint('step 2')\n"
    job = submit({"train.py": script}, "python train.py")
    gate = settings.JOBS_DIR / "work" / str(job.pk) / "gate"
    thread = _run_in_thread(job)
    try:
        _wait_for(lambda: "step 1" in read_log(job))
        assert job.status == "RUNNING" and job.run.status == "RUNNING"
        assert "step 2" not in read_log(job)
    finally:
        gate.touch()
        thread.join(30)
    assert read_log(job).startswith("step 1\nstep 2\n")


@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_job_kills_its_process_group_and_marks_the_run_killed(submit):
    # The child is found by a word of its command line: inside its PID namespace, its pid is not the host's.
    marker = f"child-of-job-{os.getpid()}-{time.monotonic_ns()}"
    script = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}])\n"
        "print('working', flush=True)\n"
        "time.sleep(60)\n"
    )
    job = submit({"train.py": script}, "python train.py")
    thread = _run_in_thread(job)
    _wait_for(lambda: "working" in read_log(job))
    assert processes_with(marker)

    started = time.monotonic()
    assert cancel_job(job=Job.objects.select_related("run").get(pk=job.pk))
    thread.join(30)

    assert time.monotonic() - started < 10
    job.refresh_from_db()
    job.run.refresh_from_db()
    assert (job.status, job.run.status) == ("CANCELLED", "KILLED")
    assert job.exit_code is not None and job.exit_code < 0
    assert "[studio] Cancelled" in read_log(job)
    assert not processes_with(marker)  # the script's own child went with the group


def processes_with(word: str) -> list[int]:
    """The host's live processes with `word` among their arguments."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                arguments = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if word.encode() in arguments and _alive(int(entry.name)):
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for a parent to reap it is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_a_missing_snapshot_is_a_clear_error(submit, settings):
    job = submit({"t.py": ""}, "python t.py")
    os.unlink(job.snapshot_path)

    job = ended(job)

    assert job.status == "FAILED" and "snapshot is missing" in job.error


def test_the_captured_log_is_an_artifact_of_the_run(submit):
    job = ended(submit({"t.py": "print('hello')\n"}, "python t.py"))

    handle, _, name = open_artifact(
        job.workspace, f"{job.experiment.number}/{job.run.uuid}/artifacts/logs/std_log.txt"
    )
    with handle:
        assert handle.read().startswith(b"hello\n")
    assert name == "std_log.txt"


def test_snapshot_file_helper_writes_under_jobs_dir(settings):
    assert snapshot_file(settings, {"a": "b"}).parent == settings.JOBS_DIR / "uploads"


def test_a_snapshot_with_a_link_out_of_the_folder_is_refused(submit, settings):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("train.py", "print(open('passwd').read())\n")
        link = zipfile.ZipInfo("passwd")
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
    job = submit({"placeholder": ""}, "python train.py")
    Path(job.snapshot_path).write_bytes(buffer.getvalue())

    job = ended(job)

    assert job.status == "FAILED"
    assert "The snapshot was refused" in job.error and "outside the archive" in job.error


def test_a_corrupt_snapshot_is_a_clear_error(submit):
    job = submit({"train.py": "print('a fairly long line to compress ' * 20)\n"}, "python train.py")
    data = bytearray(Path(job.snapshot_path).read_bytes())
    data[40:60] = b"\xff" * 20  # inside the member's bytes: the CRC no longer matches
    Path(job.snapshot_path).write_bytes(bytes(data))

    job = ended(job)

    assert job.status == "FAILED"
    assert job.error.startswith("The snapshot was refused: The archive is corrupt")


def test_a_snapshot_that_would_unpack_past_the_limit_is_refused_before_unpacking(submit, settings):
    settings.JOB_MAX_UNPACKED_BYTES = 50_000
    job = ended(submit({"zeros.bin": b"\0" * 100_000, "t.py": ""}, "python t.py"))

    assert job.status == "FAILED"
    assert job.error == (
        "The snapshot was refused: it unpacks to 100000 bytes; at most 50000 are accepted "
        "(STUDIO_JOB_MAX_UNPACKED_BYTES)."
    )
    assert not (settings.JOBS_DIR / "work" / str(job.pk)).exists()


def test_a_job_whose_run_was_removed_fails_without_running(submit):
    job = submit({"t.py": "open('ran', 'w')\n"}, "python t.py")
    job.run.delete()

    job = ended(job)

    assert (job.status, job.run) == ("FAILED", None)
    assert job.error == "The job's run was deleted before the job started."
