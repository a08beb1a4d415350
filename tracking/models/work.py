"""Long work as a row: a status, progress, and a claim that only one worker holds at a time.

An import (a job, a deletion, ...) is a row first and a task second. The row is created, the
task is enqueued when that transaction commits, and the task, given only the row's id, claims
it with one conditional UPDATE: a QUEUED row, or a RUNNING one whose worker stopped reporting
(`heartbeat_at` older than `stale_after()`). Of two workers handed the same id, one UPDATE
matches and the other finds nothing to do.

The worker then writes through `report()`, `succeed()` and `fail()`, which are conditional too
(on its own `claimed_by` and RUNNING): a worker that was presumed dead and taken over, or whose
row was cancelled, gets `LostClaim` at its next report and stops; called inside the transaction
of a chunk of work, that rolls the chunk back with it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Self

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

QUEUED = "QUEUED"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
CANCELLED = "CANCELLED"
STATUSES = [(s, s) for s in (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED)]
ACTIVE_STATUSES = (QUEUED, RUNNING)
FINAL_STATUSES = (SUCCEEDED, FAILED, CANCELLED)

MAX_STAGE_LENGTH = 200


class LostClaim(Exception):
    """The row is no longer this worker's: taken over after a silence, cancelled, or finished."""


class LongWork(models.Model):
    status = models.CharField(max_length=9, choices=STATUSES, default=QUEUED)
    # Progress: `done` of `total` units (None while the total is not known), and what is
    # happening now in a few words ("runs of experiment 3").
    stage = models.CharField(max_length=MAX_STAGE_LENGTH, blank=True, default="")
    done = models.BigIntegerField(default=0)
    total = models.BigIntegerField(null=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True)
    heartbeat_at = models.DateTimeField(null=True)
    # When a message for this row was last handed to the broker (the sweeper re-sends lost ones).
    enqueued_at = models.DateTimeField(null=True)
    claimed_by = models.CharField(max_length=255, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True

    @classmethod
    def stale_after(cls) -> timedelta:
        """How long a RUNNING row's worker may stay silent before another may take over."""
        return timedelta(minutes=5)

    @classmethod
    def claimable(cls, now=None) -> Q:
        now = now or timezone.now()
        return Q(status=QUEUED) | Q(status=RUNNING, heartbeat_at__lt=now - cls.stale_after())

    @classmethod
    def claim(cls, pk: int, worker: str) -> Self | None:
        """The row, now RUNNING for `worker`; None if it is not claimable (someone has it, or it ended)."""
        now = timezone.now()
        claimed = cls.objects.filter(cls.claimable(now), pk=pk).update(
            status=RUNNING,
            claimed_by=worker[:255],
            heartbeat_at=now,
            started_at=Coalesce(F("started_at"), now, output_field=models.DateTimeField()),
            attempts=F("attempts") + 1,
        )
        return cls.objects.get(pk=pk) if claimed else None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    def _mine(self) -> models.QuerySet:
        return type(self).objects.filter(pk=self.pk, status=RUNNING, claimed_by=self.claimed_by)

    def _write(self, status: str | None = None, **fields: Any) -> None:
        now = timezone.now()
        fields["heartbeat_at"] = now
        if status is not None:
            fields["status"] = status
            fields["finished_at"] = now
        if "stage" in fields:
            fields["stage"] = fields["stage"][:MAX_STAGE_LENGTH]
        if not self._mine().update(**fields):
            raise LostClaim(f"{type(self).__name__} {self.pk} is no longer claimed by {self.claimed_by}.")
        for name, value in fields.items():
            setattr(self, name, value)

    def beat(self) -> None:
        """Says this worker is still at it; LostClaim if the row was taken over or cancelled."""
        self._write()

    def report(self, **fields: Any) -> None:
        """Stores progress (`done`, `total`, `stage`) and any of the subclass's fields, with a heartbeat."""
        self._write(**fields)

    def succeed(self, **fields: Any) -> None:
        self._write(SUCCEEDED, **fields)

    def fail(self, error: str, **fields: Any) -> None:
        self._write(FAILED, error=error, **fields)

    @classmethod
    def cancel(cls, pk: int) -> bool:
        """Asks the work to stop: a QUEUED row never starts, a RUNNING one stops at its next report."""
        return bool(
            cls.objects.filter(pk=pk, status__in=ACTIVE_STATUSES).update(
                status=CANCELLED, finished_at=timezone.now()
            )
        )

    @classmethod
    def abandon(cls, pk: int, error: str) -> bool:
        """Fails a row nobody is working on (its worker silent), e.g. after too many attempts."""
        return bool(
            cls.objects.filter(cls.claimable(), pk=pk).update(
                status=FAILED, error=error, finished_at=timezone.now()
            )
        )

    @classmethod
    def needing_a_message(cls) -> models.QuerySet:
        """Rows a worker should be working on but, it seems, none is: silent RUNNING ones, and
        QUEUED ones whose message was sent a stale period ago (or never) and not picked up."""
        cutoff = timezone.now() - cls.stale_after()
        return cls.objects.filter(
            Q(status=RUNNING, heartbeat_at__lt=cutoff)
            | Q(status=QUEUED, enqueued_at__lt=cutoff)
            | Q(status=QUEUED, enqueued_at__isnull=True, created_at__lt=cutoff)
        )

    @classmethod
    def mark_enqueued(cls, pk: int, *, unless_after=None) -> bool:
        """Records that a message was sent; with `unless_after`, only if none was sent since then
        (so that two sweepers do not both send one)."""
        rows = cls.objects.filter(pk=pk)
        if unless_after is not None:
            rows = rows.filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=unless_after))
        return bool(rows.update(enqueued_at=timezone.now()))
