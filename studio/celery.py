"""The Celery application; its broker comes from settings (Redis, or a folder on a laptop)."""

import os
from pathlib import Path

from celery import Celery
from celery.signals import before_task_publish, worker_ready

from .folder_broker import install as install_folder_broker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
install_folder_broker()

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def announce_worker(sender=None, **kwargs) -> None:
    """Says at once, and then every WORKER_HEARTBEAT_SECONDS from a thread of its own, that this
    worker is alive and which compute targets it serves (a task would not do: a worker of a
    target takes no task but its target's jobs)."""
    import threading

    hostname = getattr(sender, "hostname", None) or f"worker@{os.uname().nodename}"
    threading.Thread(target=_beat, args=(hostname,), name="studio-heartbeat", daemon=True).start()
    _say_how_jobs_run()


def _beat(hostname: str) -> None:
    import logging
    import time

    from django.conf import settings
    from django.db import close_old_connections
    from django.utils import timezone

    from tracking.services.compute import record_heartbeat

    started_at = timezone.now()
    concurrency = int(os.environ.get("STUDIO_WORKER_CONCURRENCY") or 0)
    while True:
        try:
            record_heartbeat(
                hostname=hostname,
                targets=settings.WORKER_TARGETS,
                concurrency=concurrency,
                serves_general=settings.WORKER_SERVES_GENERAL,
                started_at=started_at,
            )
        except Exception:  # the database is away for a moment: say so, try again next beat
            logging.getLogger("studio.workers").warning("heartbeat not recorded", exc_info=True)
        finally:
            close_old_connections()
        time.sleep(settings.WORKER_HEARTBEAT_SECONDS)


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
