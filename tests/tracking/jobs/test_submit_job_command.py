"""`manage.py submit_job`: zips the folder, submits the command after `--`, and (here) returns at once."""

from __future__ import annotations

import zipfile

import pytest
from django.core.management import CommandError, call_command

from tracking.models import Job


@pytest.fixture
def project(tmp_path):
    folder = tmp_path / "project"
    (folder / "outputs").mkdir(parents=True)
    (folder / "train.py").write_text("print('hi')\n")
    (folder / ".gitignore").write_text("outputs/\n")
    (folder / "outputs" / "model.pkl").write_bytes(b"x" * 100)
    return folder


def test_it_submits_the_folder_and_the_command_with_its_own_options(project, default_workspace, capsys):
    call_command(
        "submit_job", str(project), "--experiment", "cli", "--time-limit", "90", "--no-wait",
        "--", "python", "train.py", "--alpha", "0.5", "--name", "two words",
    )  # fmt: skip

    job = Job.objects.select_related("run", "experiment").get()
    assert job.command == "python train.py --alpha 0.5 --name 'two words'"
    assert (job.time_limit_seconds, job.experiment.name, job.run.status) == (90, "cli", "SCHEDULED")
    with zipfile.ZipFile(job.snapshot_path) as archive:
        assert sorted(archive.namelist()) == [".gitignore", "train.py"]
    printed = capsys.readouterr().out
    assert f"Job {job.pk}: run {job.run.uuid}" in printed and f"/ws/default/jobs/{job.pk}/" in printed


def test_it_submits_an_mlproject_entry_point_with_parameters(project, default_workspace):
    call_command(
        "submit_job",
        str(project),
        "--experiment",
        "cli",
        "--entry-point",
        "main",
        "-P",
        "alpha=0.1",
        "--no-wait",
    )

    job = Job.objects.get()
    assert (job.kind, job.entry_point, job.parameters, job.command) == (
        "project",
        "main",
        {"alpha": "0.1"},
        "",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--", "python", "train.py"], "is not a folder"),
        (["-P", "alpha", "--entry-point", "main"], "write parameters as NAME=VALUE"),
        ([], "Give the command to run"),
        (["--workspace", "nowhere", "--", "ls"], "Workspace 'nowhere' does not exist."),
    ],
)
def test_it_says_what_is_wrong(project, default_workspace, settings, args, message):
    folder = str(project / "missing") if message == "is not a folder" else str(project)

    with pytest.raises(CommandError, match=message):
        call_command("submit_job", folder, "--experiment", "cli", "--no-wait", *args)

    assert not Job.objects.exists()
    uploads = settings.JOBS_DIR / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []


def test_a_folder_over_the_limit_is_refused_before_anything_is_sent(project, default_workspace, settings):
    settings.JOB_MAX_SNAPSHOT_BYTES = 10

    with pytest.raises(CommandError, match="at most 10 are accepted"):
        call_command("submit_job", str(project), "--experiment", "cli", "--no-wait", "--", "ls")

    assert not Job.objects.exists()
