"""The studio's experiments list: a workspace's experiments with run counts and last activity.

A page is three queries whatever its size: the count (for the pager), the page of experiments
with their counts and activity (correlated subqueries the database answers from the runs'
(experiment, lifecycle_stage, start_time) index), and the tags of the page's experiments.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from math import ceil

from django.db.models import Count, DateTimeField, F, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce, Greatest

from tracking.models import Experiment, Run, Workspace
from tracking.models.experiments import ACTIVE

from .experiments import experiment_tags

PAGE_SIZE = 50
# The table's sort names -> the ordering (ties broken by id, newest first).
SORTS = {
    "name": (F("name").asc(), F("number").asc()),
    "-name": (F("name").desc(), F("number").desc()),
    "activity": (F("last_activity").asc(), F("number").asc()),
    "-activity": (F("last_activity").desc(), F("number").desc()),
}
DEFAULT_SORT = "-activity"


@dataclass(slots=True)
class ExperimentRow:
    experiment_id: str
    name: str
    lifecycle_stage: str
    created_at: datetime
    run_count: int
    # The latest of the experiment's own last update and its runs' starts and ends.
    last_activity: datetime
    tags: list[tuple[str, str]]

    @property
    def is_active(self) -> bool:
        return self.lifecycle_stage == ACTIVE


@dataclass(slots=True)
class ExperimentListPage:
    rows: list[ExperimentRow]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, ceil(self.total / self.page_size))

    @property
    def first(self) -> int:
        return (self.page - 1) * self.page_size + 1 if self.total else 0

    @property
    def last(self) -> int:
        return min(self.total, self.page * self.page_size)


def list_experiments(
    workspace: Workspace,
    *,
    name_contains: str = "",
    sort: str = DEFAULT_SORT,
    include_deleted: bool = False,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> ExperimentListPage:
    """A page of the workspace's experiments whose name contains the text, ignoring case."""
    experiments = Experiment.objects.filter(workspace=workspace)
    if not include_deleted:
        experiments = experiments.filter(lifecycle_stage=ACTIVE)
    if name_contains:
        experiments = experiments.filter(name__icontains=name_contains)
    total = experiments.count()
    page = max(1, min(page, ceil(total / page_size) or 1))
    offset = (page - 1) * page_size
    # The experiment's runs: its active ones, or for a deleted experiment those deleted with it.
    runs = Run.objects.filter(
        experiment=OuterRef("pk"), lifecycle_stage=OuterRef("lifecycle_stage")
    ).order_by()
    run_count = runs.values("experiment").annotate(n=Count("pk")).values("n")
    latest_start = runs.order_by("-start_time").values("start_time")[:1]
    latest_end = runs.filter(end_time__isnull=False).order_by("-end_time").values("end_time")[:1]
    updated = F("updated_at")
    experiments = experiments.annotate(
        run_count=Coalesce(Subquery(run_count, output_field=IntegerField()), 0),
        last_activity=Greatest(
            updated,
            Coalesce(Subquery(latest_start, output_field=DateTimeField()), updated),
            Coalesce(Subquery(latest_end, output_field=DateTimeField()), updated),
        ),
    ).order_by(*SORTS.get(sort, SORTS[DEFAULT_SORT]))
    page_experiments = list(experiments[offset : offset + page_size])
    tags = experiment_tags(page_experiments)
    rows = [
        ExperimentRow(
            experiment.experiment_id,
            experiment.name,
            experiment.lifecycle_stage,
            experiment.created_at,
            experiment.run_count,
            experiment.last_activity,
            tags.get(experiment.pk, []),
        )
        for experiment in page_experiments
    ]
    return ExperimentListPage(rows, total, page, page_size)
