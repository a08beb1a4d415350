"""Looking up and searching logged models."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import (
    Experiment,
    LoggedModel,
    LoggedModelMetric,
    LoggedModelParam,
    LoggedModelTag,
    Workspace,
)
from tracking.search.logged_models import filter_and_order_logged_models
from tracking.search.paging import cut_page, decode_offset

from .experiments import parse_experiment_number

MAX_SEARCH_RESULTS = 100


def get_logged_model(workspace: Workspace, model_id: str) -> LoggedModel:
    try:
        return LoggedModel.objects.select_related("experiment").get(
            model_id=model_id, experiment__workspace=workspace, lifecycle_stage="active"
        )
    except LoggedModel.DoesNotExist:
        raise ResourceDoesNotExist(f"Logged model with ID '{model_id}' not found.") from None


@dataclass
class LoggedModelRecord:
    model: LoggedModel
    tags: list[tuple[str, str]] = field(default_factory=list)
    params: list[tuple[str, str]] = field(default_factory=list)
    # (key, value or None for NaN, timestamp, step, run id, dataset name, dataset digest)
    metrics: list[tuple] = field(default_factory=list)


def load_logged_models(models: list[LoggedModel]) -> list[LoggedModelRecord]:
    """Tags, params and metrics of several models, in three queries."""
    records = {model.pk: LoggedModelRecord(model) for model in models}
    if not records:
        return []
    pks = list(records)
    by_model: dict[int, list] = defaultdict(list)
    for model_pk, key, value in LoggedModelTag.objects.filter(model_id__in=pks).values_list(
        "model_id", "key", "value"
    ):
        records[model_pk].tags.append((key, value))
    for model_pk, key, value in LoggedModelParam.objects.filter(model_id__in=pks).values_list(
        "model_id", "key", "value"
    ):
        records[model_pk].params.append((key, value))
    metrics = LoggedModelMetric.objects.filter(model_id__in=pks).order_by("key", "timestamp", "step")
    for model_pk, *metric in metrics.values_list(
        "model_id", "key", "value", "timestamp", "step", "run_id", "dataset_name", "dataset_digest"
    ):
        by_model[model_pk].append(tuple(metric))
    for model_pk, metric_rows in by_model.items():
        records[model_pk].metrics = metric_rows
    return [records[model.pk] for model in models]


@dataclass
class LoggedModelPage:
    models: list[LoggedModelRecord]
    next_page_token: str | None


def search_logged_models(
    workspace: Workspace,
    *,
    experiment_ids: list[str],
    filter_string: str = "",
    datasets: list[dict] | None = None,
    order_by: list[dict] | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> LoggedModelPage:
    max_results = max_results or MAX_SEARCH_RESULTS
    if max_results < 0:
        raise InvalidParameterValue(f"Invalid value {max_results} for parameter 'max_results'.")
    if datasets and not all(dataset.get("dataset_name") for dataset in datasets):
        raise InvalidParameterValue("`dataset_name` in the `datasets` clause must be specified.")
    offset = decode_offset(page_token)
    numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
    experiment_pks = list(
        Experiment.objects.filter(workspace=workspace, number__in=numbers).values_list("pk", flat=True)
    )
    queryset = LoggedModel.objects.filter(experiment_id__in=experiment_pks, lifecycle_stage="active")
    queryset = filter_and_order_logged_models(queryset, filter_string, datasets or [], order_by or [])
    page = list(queryset.select_related("experiment")[offset : offset + max_results + 1])
    page, next_token = cut_page(page, offset, max_results)
    return LoggedModelPage(load_logged_models(page), next_token)
