"""A real Celery worker process picks up tasks from the configured broker and writes to our database."""

from __future__ import annotations

from studio.tasks import record_worker_heartbeat
from tracking.models import WorkerHeartbeat

from .conftest import wait_for


def test_a_worker_announces_itself_and_runs_queued_tasks(celery_worker_process):
    hostname = celery_worker_process.hostname
    announced = wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname=hostname).first(),
        60,
        f"the worker's first heartbeat ({celery_worker_process.log_path.read_text()[-2000:]})",
    )

    WorkerHeartbeat.objects.filter(hostname=hostname).delete()
    record_worker_heartbeat.delay()

    beat = wait_for(
        lambda: WorkerHeartbeat.objects.filter(hostname=hostname).first(),
        60,
        f"the queued heartbeat task ({celery_worker_process.log_path.read_text()[-2000:]})",
    )
    assert beat.last_seen >= announced.last_seen
    assert beat.pid == celery_worker_process.pid
