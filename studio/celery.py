"""The Celery application; its broker comes from settings (Redis, or a folder on a laptop)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import before_task_publish, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def announce_worker(sender=None, **kwargs) -> None:
    # The periodic heartbeat first fires one interval after start; say hello at once.
    from studio.tasks import record_heartbeat

    record_heartbeat(getattr(sender, "hostname", None))
    _say_how_jobs_run()


def _say_how_jobs_run() -> None:
    import logging

    from tracking.jobs.sandbox import sandbox_status

    status = sandbox_status()
    if not status.sandboxed:
        logging.getLogger("studio.jobs").warning(status.message)


_broker_folders_made = False


def make_broker_folders() -> None:
    """kombu's folder transport needs its folders before the first message, in any process that
    sends one (the web server, a worker, `manage.py` commands, scripts) on a fresh data folder."""
    global _broker_folders_made
    if _broker_folders_made:
        return
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for folder in settings.CELERY_BROKER_TRANSPORT_OPTIONS.values():
            if isinstance(folder, str):
                Path(folder).mkdir(parents=True, exist_ok=True)
    _broker_folders_made = True


@before_task_publish.connect
def _before_sending(**kwargs) -> None:
    make_broker_folders()
