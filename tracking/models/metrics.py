from __future__ import annotations

from django.db import models

from .runs import Run


class Metric(models.Model):
    """One logged point of a metric's history.

    `value` is NULL for NaN: SQLite cannot store NaN (it turns it into NULL anyway), so both
    databases use the same spelling. Infinities are stored as they are.
    `timestamp` stays epoch milliseconds: it is the client's data, not a time of ours.
    """

    id = models.BigAutoField(primary_key=True)
    # No index of its own: the unique (run, key, ...) index already starts with the run. No
    # constraint in the database either: PostgreSQL would check it with a query per point, and
    # the INSERT of points takes their run's row itself (tracking.services.metric_points).
    run = models.ForeignKey(
        Run, on_delete=models.CASCADE, related_name="metrics", db_index=False, db_constraint=False
    )
    key = models.CharField(max_length=250)
    value = models.FloatField(null=True)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField(default=0)
    model_id = models.CharField(max_length=64, null=True)
    dataset_name = models.CharField(max_length=500, null=True)
    dataset_digest = models.CharField(max_length=36, null=True)

    class Meta:
        # Serves histories in (timestamp, step) order, and makes logging the same point twice
        # (a client retrying a batch) store it once, as MLflow's primary key does.
        constraints = [
            models.UniqueConstraint(fields=["run", "key", "timestamp", "step", "value"], name="metric_point")
        ]


class MetricSummary(models.Model):
    """Per run and key: the latest point (highest step, then timestamp, then value), min, max, count.

    Kept up to date on every write, so run lists, search and sorting never scan histories.
    """

    # No index of its own: the unique (run, key, ...) index already starts with the run.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metric_summaries", db_index=False)
    key = models.CharField(max_length=250)
    value = models.FloatField(null=True)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField()
    min_value = models.FloatField(null=True)
    max_value = models.FloatField(null=True)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="metric_summary_per_run")]
        indexes = [models.Index(fields=["key", "value"], name="metric_summary_key_value")]
