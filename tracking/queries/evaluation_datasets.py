"""Looking up and searching evaluation datasets, and paging through their records."""

from __future__ import annotations

from dataclasses import dataclass, field

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import (
    EvaluationDataset,
    EvaluationDatasetExperiment,
    EvaluationDatasetRecord,
    EvaluationDatasetTag,
    Workspace,
)
from tracking.search.evaluation_datasets import filter_and_order_evaluation_datasets
from tracking.search.paging import cut_page, decode_offset, decode_token, encode_token
from tracking.validation import check_max_results

from .experiments import parse_experiment_number

DEFAULT_SEARCH_RESULTS = 1000
DEFAULT_RECORD_PAGE = 1000
MAX_RECORD_PAGE = 10_000


def get_evaluation_dataset(workspace: Workspace, dataset_id: str) -> EvaluationDataset:
    try:
        return EvaluationDataset.objects.get(dataset_id=dataset_id, workspace=workspace)
    except EvaluationDataset.DoesNotExist:
        raise ResourceDoesNotExist(f"Evaluation dataset with id '{dataset_id}' not found") from None


@dataclass
class DatasetView:
    dataset: EvaluationDataset
    tags: dict[str, str] = field(default_factory=dict)
    experiment_ids: list[str] = field(default_factory=list)


def load_evaluation_datasets(
    datasets: list[EvaluationDataset], *, with_experiment_ids: bool = False
) -> list[DatasetView]:
    """Tags (and experiment ids when asked) of several datasets, a query for each."""
    views = {dataset.pk: DatasetView(dataset) for dataset in datasets}
    if not views:
        return []
    tags = EvaluationDatasetTag.objects.filter(dataset_id__in=list(views)).order_by("key")
    for dataset_pk, key, value in tags.values_list("dataset_id", "key", "value"):
        views[dataset_pk].tags[key] = value
    if not with_experiment_ids:
        return [views[dataset.pk] for dataset in datasets]
    links = EvaluationDatasetExperiment.objects.filter(dataset_id__in=list(views)).order_by(
        "experiment__number"
    )
    for dataset_pk, number in links.values_list("dataset_id", "experiment__number"):
        views[dataset_pk].experiment_ids.append(str(number))
    return [views[dataset.pk] for dataset in datasets]


def dataset_experiment_ids(dataset: EvaluationDataset) -> list[str]:
    return load_evaluation_datasets([dataset], with_experiment_ids=True)[0].experiment_ids


@dataclass
class DatasetPage:
    datasets: list[DatasetView]
    next_page_token: str | None


def search_evaluation_datasets(
    workspace: Workspace,
    *,
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    order_by: list[str] | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> DatasetPage:
    max_results = check_max_results(max_results or DEFAULT_SEARCH_RESULTS)
    offset = decode_offset(page_token)
    queryset = EvaluationDataset.objects.filter(workspace=workspace)
    if experiment_ids:
        numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
        linked = EvaluationDatasetExperiment.objects.filter(
            experiment__workspace=workspace, experiment__number__in=numbers
        ).values("dataset_id")
        queryset = queryset.filter(pk__in=linked)
    queryset = filter_and_order_evaluation_datasets(queryset, filter_string, order_by or [])
    page, next_token = cut_page(list(queryset[offset : offset + max_results + 1]), offset, max_results)
    return DatasetPage(load_evaluation_datasets(page), next_token)


def dataset_records_page(
    dataset: EvaluationDataset, *, max_results: int | None = None, page_token: str | None = None
) -> tuple[list[EvaluationDatasetRecord], str | None]:
    """A page of records in the order they were added, and the token of the next page if any.

    The token holds the last record's position (its row id), so records added or deleted
    between pages shift nothing.
    """
    max_results = check_max_results(max_results or DEFAULT_RECORD_PAGE, MAX_RECORD_PAGE)
    after = decode_token(page_token).get("after", 0)
    if not isinstance(after, int) or isinstance(after, bool) or not 0 <= after < 2**63:
        raise InvalidParameterValue(f"Invalid page token: {page_token[:100]!r}")  # type: ignore[index]
    rows = list(
        EvaluationDatasetRecord.objects.filter(dataset=dataset, pk__gt=after).order_by("pk")[
            : max_results + 1
        ]
    )
    if len(rows) > max_results:
        rows = rows[:max_results]
        return rows, encode_token(after=rows[-1].pk)
    return rows, None
