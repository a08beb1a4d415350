"""What the studio's GenAI pages read: a workspace's (or an experiment's) evaluation datasets, a
dataset with a page of its records, an experiment's registered scorers and one scorer's versions,
an experiment's issues.

Each page costs the same queries however many rows it shows: the page of rows first, then what
they show beyond their own columns in one query per kind (tags, linked experiments). A dataset's
record count is its profile (`{"num_records": n}`, kept by every change of its records), so no
list counts records.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Max, OuterRef, Q, QuerySet, Subquery

from tracking.errors import ResourceDoesNotExist
from tracking.models import (
    EvaluationDataset,
    EvaluationDatasetExperiment,
    EvaluationDatasetRecord,
    EvaluationDatasetTag,
    Experiment,
    Issue,
    OnlineScoringConfig,
    Scorer,
    ScorerVersion,
    Trace,
    Workspace,
)
from tracking.models.issues import SEVERITIES, STATUSES
from tracking.search.issues import order_as_mlflow

from .evaluation_datasets import get_evaluation_dataset
from .issues import with_trace_counts

PAGE_SIZE = 50
RECORD_PAGE_SIZE = 25
# Tags MLflow sets itself (`mlflow.user`, ...) are not chips in a table; a dataset's page lists them.
SYSTEM_PREFIX = "mlflow."


@dataclass(slots=True)
class Listing:
    """A page of rows of a list, and whether another page follows."""

    rows: list[Any]
    page: int
    page_size: int
    has_next: bool

    @property
    def first(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return (self.page - 1) * self.page_size + len(self.rows)


def _cut(queryset: QuerySet, page: int, page_size: int) -> tuple[list[Any], bool]:
    offset = (page - 1) * page_size
    rows = list(queryset[offset : offset + page_size + 1])
    return rows[:page_size], len(rows) > page_size


def record_count(dataset: EvaluationDataset) -> int:
    """The dataset's records, as its profile counts them (0 before any record)."""
    try:
        profile = json.loads(dataset.profile) if dataset.profile else {}
    except ValueError:
        return 0
    count = profile.get("num_records", 0) if isinstance(profile, dict) else 0
    return count if isinstance(count, int) else 0


# --- Evaluation datasets ------------------------------------------------------------------------


@dataclass(slots=True)
class DatasetRow:
    dataset: EvaluationDataset
    record_count: int
    tags: list[tuple[str, str]] = field(default_factory=list)
    experiments: list[Experiment] = field(default_factory=list)

    @property
    def user_tags(self) -> list[tuple[str, str]]:
        return user_tags(self.tags)


def user_tags(tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key, value) for key, value in tags if not key.startswith(SYSTEM_PREFIX)]


def dataset_listing(
    workspace: Workspace, *, query: str = "", experiment: Experiment | None = None, page: int = 1
) -> Listing:
    """The workspace's datasets (those linked to `experiment` when given) whose name contains
    `query`, the last updated first, with their tags and linked experiments."""
    datasets = EvaluationDataset.objects.filter(workspace=workspace)
    if experiment is not None:
        datasets = datasets.filter(
            pk__in=EvaluationDatasetExperiment.objects.filter(experiment=experiment).values("dataset_id")
        )
    if query:
        datasets = datasets.filter(name__icontains=query)
    found, has_next = _cut(datasets.order_by("-updated_at", "-pk"), page, PAGE_SIZE)
    rows = {dataset.pk: DatasetRow(dataset, record_count(dataset)) for dataset in found}
    if rows:
        _add_tags_and_experiments(rows)
    return Listing(list(rows.values()), page, PAGE_SIZE, has_next)


def _add_tags_and_experiments(rows: dict[int, DatasetRow]) -> None:
    for dataset_pk, key, value in (
        EvaluationDatasetTag.objects.filter(dataset_id__in=list(rows))
        .order_by("key")
        .values_list("dataset_id", "key", "value")
    ):
        rows[dataset_pk].tags.append((key, value))
    for link in (
        EvaluationDatasetExperiment.objects.filter(dataset_id__in=list(rows))
        .select_related("experiment")
        .order_by("experiment__number")
    ):
        rows[link.dataset_id].experiments.append(link.experiment)


@dataclass(slots=True)
class DatasetDetail:
    row: DatasetRow
    records: Listing  # of EvaluationDatasetRecord
    # The experiment of each trace the page's records came from, when the workspace has the trace.
    trace_experiments: dict[str, str] = field(default_factory=dict)


def dataset_detail(workspace: Workspace, dataset_id: str, *, page: int = 1) -> DatasetDetail:
    """The dataset with its tags, experiments and a page of its records in the order they were
    added; ResourceDoesNotExist when the workspace has no such dataset."""
    dataset = get_evaluation_dataset(workspace, dataset_id)
    row = DatasetRow(dataset, record_count(dataset))
    _add_tags_and_experiments({dataset.pk: row})
    records, has_next = _cut(
        EvaluationDatasetRecord.objects.filter(dataset=dataset).order_by("pk"), page, RECORD_PAGE_SIZE
    )
    trace_ids = {record.source_id for record in records if record.source_type == "TRACE" and record.source_id}
    traces = (
        Trace.objects.filter(workspace=workspace, trace_id__in=trace_ids).values_list(
            "trace_id", "experiment__number"
        )
        if trace_ids
        else []
    )
    return DatasetDetail(
        row,
        Listing(records, page, RECORD_PAGE_SIZE, has_next),
        {trace_id: str(number) for trace_id, number in traces},
    )


# --- Scorers ------------------------------------------------------------------------------------


def _newest(column: str) -> Subquery:
    return Subquery(
        ScorerVersion.objects.filter(scorer=OuterRef("pk")).order_by("-version").values(column)[:1]
    )


def experiment_scorers(experiment: Experiment) -> list[Scorer]:
    """The experiment's scorers by name, in one query, each with `version_count`, `latest_version`,
    `latest_serialized` and `latest_created_at` (its newest version's), and its online scoring
    configuration (`online_scoring_config`, when it has one)."""
    scorers = (
        Scorer.objects.filter(experiment=experiment)
        .annotate(
            version_count=Count("versions"),
            latest_version=Max("versions__version"),
            latest_serialized=_newest("serialized_scorer"),
            latest_created_at=_newest("created_at"),
        )
        .select_related("online_scoring_config")
        .order_by("name")
    )
    return [scorer for scorer in scorers if scorer.version_count]


@dataclass(slots=True)
class ScorerDetail:
    scorer: Scorer
    versions: list[ScorerVersion]  # the newest first
    online_config: OnlineScoringConfig | None


def scorer_detail(experiment: Experiment, name: str) -> ScorerDetail:
    """A scorer of the experiment with all its versions; ResourceDoesNotExist when it has none."""
    scorer = Scorer.objects.filter(experiment=experiment, name=name).select_related("online_scoring_config")
    found = scorer.first()
    versions = list(found.versions.order_by("-version")) if found else []
    if not versions:
        raise ResourceDoesNotExist(
            f"Scorer with name '{name}' not found for experiment {experiment.experiment_id}."
        )
    config = getattr(found, "online_scoring_config", None)
    return ScorerDetail(found, versions, config)


# --- Issues -------------------------------------------------------------------------------------


def issue_listing(
    experiment: Experiment, *, query: str = "", status: str = "", severity: str = "", page: int = 1
) -> Listing:
    """The experiment's issues whose name or description contains `query`, of a status and a
    severity when given, the most severe first, then the newest (MLflow's order)."""
    issues = Issue.objects.filter(experiment=experiment)
    if query:
        issues = issues.filter(Q(name__icontains=query) | Q(description__icontains=query))
    if status in STATUSES:
        issues = issues.filter(status=status)
    if severity in SEVERITIES:
        issues = issues.filter(severity=severity)
    ordered = order_as_mlflow(issues).select_related("source_run")
    rows, has_next = _cut(ordered, page, PAGE_SIZE)
    return Listing(rows, page, PAGE_SIZE, has_next)


def issue_status_counts(experiment: Experiment) -> dict[str, int]:
    """How many of the experiment's issues have each status (every status named, 0 or more)."""
    counts = dict(
        Issue.objects.filter(experiment=experiment)
        .order_by()
        .values_list("status")
        .annotate(count=Count("pk"))
        .values_list("status", "count")
    )
    return {status: counts.get(status, 0) for status in STATUSES}


def experiment_issue(experiment: Experiment, issue_id: str) -> Issue:
    """The issue with its `trace_count` (tracking.queries.issues.with_trace_counts)."""
    found = (
        with_trace_counts(Issue.objects.filter(experiment=experiment, issue_id=issue_id))
        .select_related("source_run")
        .first()
    )
    if found is None:
        raise ResourceDoesNotExist(f"Issue with ID '{issue_id}' not found")
    return found
