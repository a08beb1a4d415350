"""The job sweeper: lost messages re-sent, jobs of silent workers failed (not re-run), uploads of
jobs that ended before a worker took them deleted."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from tracking.models import Job
from tracking.services import jobs as job_services


@pytest.fixture
def sent(monkeypatch) -> list[int]:
    """The job ids handed to the broker (the outside world), in order."""
    messages: list[int] = []
    monkeypatch.setattr(job_services, "enqueue_job", messages.append)
    return messages


def _ago(seconds: int):
    return timezone.now() - timedelta(seconds=seconds)


def test_a_queued_job_whose_message_got_lost_is_sent_again_once(submit, sent, settings):
    job = submit({"t.py": ""}, "python t.py")
    Job.objects.filter(pk=job.pk).update(enqueued_at=_ago(settings.JOB_STALE_SECONDS + 5))

    assert job_services.sweep_jobs() == [job.pk]
    assert job_services.sweep_jobs() == []  # marked as sent: not again until it is stale again
    assert sent == [job.pk]


def test_a_queued_job_sent_a_moment_ago_is_left_to_its_message(submit, sent):
    job = submit({"t.py": ""}, "python t.py")
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now())

    assert job_services.sweep_jobs() == [] and sent == []


def test_a_running_job_whose_worker_went_silent_is_failed_with_its_run(submit, sent, settings):
    job = submit({"t.py": ""}, "python t.py")
    Job.objects.filter(pk=job.pk).update(
        status="RUNNING", claimed_by="gone:1", attempts=1, heartbeat_at=_ago(settings.JOB_STALE_SECONDS + 5)
    )

    job_services.sweep_jobs()

    job.refresh_from_db()
    job.run.refresh_from_db()
    assert (job.status, job.run.status) == ("FAILED", "FAILED")
    assert "stopped answering" in job.error and "submit it again" in job.error
    assert sent == []  # not run again: its script may have logged part of its work


def test_a_running_job_that_beats_is_left_alone(submit, sent):
    job = submit({"t.py": ""}, "python t.py")
    Job.objects.filter(pk=job.pk).update(status="RUNNING", claimed_by="w:1", heartbeat_at=timezone.now())

    job_services.sweep_jobs()

    job.refresh_from_db()
    assert job.status == "RUNNING"


def test_the_upload_of_a_job_cancelled_before_it_started_is_deleted(submit, sent):
    job = submit({"t.py": ""}, "python t.py")
    assert job_services.cancel_job(job=job)
    assert os.path.exists(job.snapshot_path)

    job_services.sweep_jobs()

    assert not os.path.exists(job.snapshot_path)
    assert Job.objects.get(pk=job.pk).snapshot_path == ""
    assert not job_services.cancel_job(job=job)  # it has ended: nothing to cancel


def test_a_run_deleted_before_its_job_started_fails_the_job_saying_so(submit):
    from tracking.jobs.runner import run_job
    from tracking.services.runs import delete_run

    job = submit({"t.py": "print(1)"}, "python t.py")
    delete_run(run=job.run)

    run_job(job.pk, worker="w:1")

    job.refresh_from_db()
    assert (job.status, job.error) == ("FAILED", "The job's run was deleted before the job started.")
