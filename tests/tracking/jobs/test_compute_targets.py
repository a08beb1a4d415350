"""Compute targets: workers say what they serve in their heartbeats, which also makes the targets;
a submission names a target that exists; a queued job of a target with no live worker says why;
the Compute page's summary costs the same few queries however many targets and jobs there are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tracking.errors import InvalidParameterValue
from tracking.models import ComputeTarget, Job, WorkerHeartbeat
from tracking.queries.compute import checked_target, live_targets, target_summaries, waiting_reason
from tracking.services.compute import record_heartbeat

pytestmark = pytest.mark.django_db


def beat(hostname: str, *targets: str, concurrency: int = 2) -> None:
    record_heartbeat(hostname=hostname, targets=list(targets), concurrency=concurrency, serves_general=False)


def test_a_heartbeat_records_the_worker_once_and_makes_its_targets():
    beat("gpu.1@box", "gpu-a100")
    first = WorkerHeartbeat.objects.get(hostname="gpu.1@box").last_seen
    beat("gpu.1@box", "gpu-a100", concurrency=4)

    worker = WorkerHeartbeat.objects.get()
    assert worker.last_seen >= first and (worker.targets, worker.concurrency) == (["gpu-a100"], 4)
    assert set(ComputeTarget.objects.values_list("name", flat=True)) == {"default", "gpu-a100"}


def test_only_workers_heard_from_lately_count_as_live(settings):
    beat("old@box", "cpu")
    beat("new@box", "gpu-a100")
    WorkerHeartbeat.objects.filter(hostname="old@box").update(
        last_seen=timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_STALE_SECONDS + 1)
    )
    assert live_targets() == {"gpu-a100"}


def test_a_submission_names_a_target_that_exists():
    ComputeTarget.objects.create(name="gpu-a100")
    assert checked_target("") == "default"
    assert checked_target(" gpu-a100 ") == "gpu-a100"
    with pytest.raises(
        InvalidParameterValue, match=r"Unknown compute target 'gpu-a10'; this server has: default, gpu-a100"
    ):
        checked_target("gpu-a10")


def test_a_queued_job_of_a_target_without_a_live_worker_says_why(submit):
    ComputeTarget.objects.create(name="gpu-a100")
    job = submit({"train.py": ""}, "python train.py", compute_target="gpu-a100")

    assert job.compute_target == "gpu-a100"
    assert "No live worker serves compute target 'gpu-a100'" in waiting_reason(job, live_targets())
    beat("gpu.1@box", "gpu-a100")
    assert waiting_reason(job, live_targets()) == ""


def test_the_summary_counts_workers_slots_and_jobs_per_target_in_a_few_queries(
    submit, default_workspace, make_workspace, django_assert_max_num_queries
):
    beat("gpu.1@box", "gpu-a100", concurrency=2)
    beat("gpu.2@box", "gpu-a100", concurrency=3)
    for _ in range(3):
        submit({"train.py": ""}, "python train.py", compute_target="gpu-a100")
    Job.objects.filter(pk=Job.objects.order_by("pk").first().pk).update(status="RUNNING")

    with django_assert_max_num_queries(3):
        summaries = {summary.target.name: summary for summary in target_summaries(default_workspace)}

    gpu = summaries["gpu-a100"]
    assert (len(gpu.workers), gpu.slots, gpu.running, gpu.queued, gpu.queued_here) == (2, 5, 1, 2, 2)
    assert (summaries["default"].workers, summaries["default"].queued) == ([], 0)
    elsewhere = {s.target.name: s for s in target_summaries(make_workspace("other-team"))}["gpu-a100"]
    assert (elsewhere.queued, elsewhere.queued_here) == (2, 0)
