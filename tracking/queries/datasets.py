"""The datasets runs used, summarised per experiment (what MLflow's UI lists in its filters)."""

from __future__ import annotations

from dataclasses import dataclass

from tracking.models import RunInput, Workspace
from tracking.validation import check_id_count

from .experiments import parse_experiment_number

MAX_EXPERIMENTS_PER_SEARCH = 20
MAX_DATASET_SUMMARIES = 1000


@dataclass(frozen=True)
class DatasetSummary:
    experiment_id: str
    name: str
    digest: str
    context: str  # the input's mlflow.data.context tag ("" when it had none)


def search_datasets(workspace: Workspace, experiment_ids: list[str]) -> list[DatasetSummary]:
    """Each distinct (experiment, dataset, context) among the inputs of the experiments' runs."""
    check_id_count(
        experiment_ids, limit=MAX_EXPERIMENTS_PER_SEARCH, request="SearchDatasets", field="experiment_id"
    )
    numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
    rows = (
        RunInput.objects.filter(
            dataset__experiment__workspace=workspace, dataset__experiment__number__in=numbers
        )
        .values_list("dataset__experiment__number", "dataset__name", "dataset__digest", "context")
        .order_by("dataset__experiment__number", "dataset__name", "dataset__digest", "context")
        .distinct()
    )
    return [
        DatasetSummary(str(number), name, digest, context)
        for number, name, digest, context in rows[:MAX_DATASET_SUMMARIES]
    ]
