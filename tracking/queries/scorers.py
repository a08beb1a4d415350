"""Reading registered scorers: the latest version of each name, one version, all versions, and
the online scoring configurations of some."""

from __future__ import annotations

from django.db.models import Max, OuterRef, Subquery

from tracking.errors import ResourceDoesNotExist
from tracking.models import Experiment, OnlineScoringConfig, ScorerVersion, Workspace


def _not_found(name: str, experiment: Experiment, version: int | None = None) -> ResourceDoesNotExist:
    if version is not None:
        return ResourceDoesNotExist(
            f"Scorer with name '{name}' and version {version} not found for experiment {experiment.experiment_id}."
        )
    return ResourceDoesNotExist(
        f"Scorer with name '{name}' not found for experiment {experiment.experiment_id}."
    )


def latest_scorer_versions(experiments: list[Experiment]) -> list[ScorerVersion]:
    """The newest version of every scorer of these experiments, by experiment id and name, in one query."""
    newest = (
        ScorerVersion.objects.filter(scorer=OuterRef("scorer"))
        .values("scorer")
        .annotate(newest=Max("version"))
        .values("newest")
    )
    return list(
        ScorerVersion.objects.filter(
            scorer__experiment__in=[e.pk for e in experiments], version=Subquery(newest)
        )
        .select_related("scorer__experiment")
        .order_by("scorer__experiment__number", "scorer__name")
    )


def active_experiments_of(
    workspace: Workspace, experiments: list[Experiment] | None = None
) -> list[Experiment]:
    if experiments is None:
        return list(Experiment.objects.filter(workspace=workspace, lifecycle_stage="active"))
    return [experiment for experiment in experiments if experiment.is_active]


def get_scorer_version(experiment: Experiment, name: str, version: int | None = None) -> ScorerVersion:
    versions = ScorerVersion.objects.filter(scorer__experiment=experiment, scorer__name=name)
    if version is not None:
        versions = versions.filter(version=version)
    found = versions.select_related("scorer__experiment").order_by("-version").first()
    if found is None:
        raise _not_found(name, experiment, version)
    return found


def scorer_versions(experiment: Experiment, name: str) -> list[ScorerVersion]:
    found = list(
        ScorerVersion.objects.filter(scorer__experiment=experiment, scorer__name=name)
        .select_related("scorer__experiment")
        .order_by("version")
    )
    if not found:
        raise _not_found(name, experiment)
    return found


def online_scoring_configs(workspace: Workspace, scorer_ids: list[str]) -> list[OnlineScoringConfig]:
    """The configurations of those of these scorers that have one, in the workspace (another
    workspace's scorer ids answer nothing, as unknown ones do)."""
    return list(
        OnlineScoringConfig.objects.filter(
            scorer__scorer_id__in=scorer_ids, scorer__experiment__workspace=workspace
        )
        .select_related("scorer__experiment")
        .order_by("pk")
    )
