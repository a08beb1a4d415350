"""MLflow 3 registered scorers: a name per experiment, with numbered versions of its serialized form.

The server only keeps what the client serialized (JSON, possibly with the source of an
`@scorer` function); it never loads or runs a scorer. A scorer may have an online scoring
configuration: the share of an experiment's incoming traces it should judge, and which ones.
"""

from __future__ import annotations

from django.db import models

from .experiments import Experiment


class Scorer(models.Model):
    scorer_id = models.CharField(max_length=36, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="scorers")
    name = models.CharField(max_length=256)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name"], name="scorer_name_per_experiment")
        ]

    def __str__(self) -> str:
        return self.name


class ScorerVersion(models.Model):
    scorer = models.ForeignKey(Scorer, on_delete=models.CASCADE, related_name="versions")
    version = models.IntegerField()
    serialized_scorer = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scorer", "version"], name="scorer_version_number")]


class OnlineScoringConfig(models.Model):
    """How a registered scorer judges traces as they arrive: `sample_rate` of them (0 to 1), those
    matching `filter_string` (search_traces' grammar; null for all). One per scorer, as MLflow's
    upsert replaces the scorer's configurations with the new one."""

    online_scoring_config_id = models.CharField(max_length=36, unique=True)
    scorer = models.OneToOneField(Scorer, on_delete=models.CASCADE, related_name="online_scoring_config")
    sample_rate = models.FloatField()
    filter_string = models.TextField(null=True)
