"""MLflow 3 review queues: traces of an experiment put before people to review, with the questions
(label schemas) to answer and the reviewers assigned.

A *user* queue is one reviewer's own worklist (named after them, them alone assigned, every
question of the experiment); a *custom* queue has any name, up to ten reviewers and a chosen set of
questions. An item's status (pending, complete, declined) is the queue's, not a reviewer's: any
assigned reviewer may complete it. Items are traces of the queue's experiment (a foreign key, so a
deleted trace leaves every queue it was in).
"""

from __future__ import annotations

from django.db import models

from .experiments import Experiment
from .label_schemas import LabelSchema
from .traces import Trace

USER = "user"
CUSTOM = "custom"
QUEUE_TYPES = (USER, CUSTOM)

PENDING = "pending"
COMPLETE = "complete"
DECLINED = "declined"
STATUSES = (PENDING, COMPLETE, DECLINED)

TRACE = "trace"  # the only kind of item MLflow 3.17 reviews


class ReviewQueue(models.Model):
    queue_id = models.CharField(max_length=36, unique=True)  # "rq-<32 hex>"
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="review_queues")
    name = models.CharField(max_length=250)
    # name.lower(): names are unique in an experiment whatever their case, as in MLflow.
    name_key = models.CharField(max_length=250)
    queue_type = models.CharField(max_length=16, choices=[(t, t) for t in QUEUE_TYPES])
    created_by = models.CharField(max_length=255, null=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()  # the queue's own settings; items keep their own times

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "name_key"], name="review_queue_name_per_experiment"
            )
        ]

    def __str__(self) -> str:
        return self.name


class ReviewQueueUser(models.Model):
    """A reviewer assigned to a queue (lowercased, as assessments' sources are matched)."""

    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="users", db_index=False)
    user_id = models.CharField(max_length=250)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "user_id"], name="review_queue_user_once")]
        indexes = [models.Index(fields=["user_id"], name="review_queue_user_id")]


class ReviewQueueLabelSchema(models.Model):
    """A question of a custom queue (a user queue asks every question of its experiment)."""

    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="schemas", db_index=False)
    schema = models.ForeignKey(LabelSchema, on_delete=models.CASCADE, related_name="queue_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "schema"], name="review_queue_schema_once")]


class ReviewQueueItem(models.Model):
    queue = models.ForeignKey(ReviewQueue, on_delete=models.CASCADE, related_name="items", db_index=False)
    trace = models.ForeignKey(Trace, on_delete=models.CASCADE, related_name="review_queue_items")
    item_type = models.CharField(max_length=16, default=TRACE)
    status = models.CharField(max_length=16, choices=[(s, s) for s in STATUSES], default=PENDING)
    completed_by = models.CharField(max_length=250, null=True)  # who completed or declined it
    completed_at = models.DateTimeField(null=True)
    created_at = models.DateTimeField()  # when it was added to the queue
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["queue", "trace"], name="review_queue_item_once")]
        indexes = [
            # A queue's items newest first, or those of one status (the UI's tabs).
            models.Index(fields=["queue", "status", "-created_at"], name="review_queue_item_status"),
            models.Index(fields=["queue", "-created_at"], name="review_queue_item_newest"),
        ]
