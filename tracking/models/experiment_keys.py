from __future__ import annotations

from django.db import models

from .experiments import Experiment


class ExperimentKey(models.Model):
    """A param, metric or tag key that at least one of the experiment's active runs holds.

    The columns the runs table offers, read in one indexed query instead of a `DISTINCT` over
    every run's params, tags and latest metrics (100,000 runs: 5.5 M rows, a second). Kept by
    the writes themselves, in their transactions (`tracking.key_registry`): a key comes with the
    first active run that holds it and leaves with the last. Tag keys include MLflow's own
    (`mlflow.*`); the runs table leaves those out when it reads them.
    """

    PARAM = "param"
    METRIC = "metric"
    TAG = "tag"
    KINDS = [(PARAM, PARAM), (METRIC, METRIC), (TAG, TAG)]

    # No index of its own: the unique (experiment, kind, key) index already starts with it.
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="keys", db_index=False)
    kind = models.CharField(max_length=6, choices=KINDS)
    key = models.CharField(max_length=250)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "kind", "key"], name="experiment_key_per_kind")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"
