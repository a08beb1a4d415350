"""The Celery application; its broker comes from settings (Redis, or a folder on a laptop)."""

import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def announce_worker(sender=None, **kwargs) -> None:
    # The periodic heartbeat first fires one interval after start; say hello at once.
    from studio.tasks import record_heartbeat

    record_heartbeat(getattr(sender, "hostname", None))
