from django.db import models


class WorkerHeartbeat(models.Model):
    """The last sign of life of each Celery worker, written by a periodic task it runs itself."""

    hostname = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()
    pid = models.IntegerField(default=0)

    def __str__(self) -> str:
        return self.hostname
