"""Looking up and listing a workspace's label schemas."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from tracking.errors import ResourceDoesNotExist
from tracking.models import Experiment, LabelSchema, Workspace
from tracking.search.paging import cut_page, decode_offset
from tracking.validation import check_max_results

from .experiments import get_experiment

DEFAULT_LIST_RESULTS = 100  # review queues and their items: 1000 (MLflow's defaults)
MAX_LIST_RESULTS = 50_000  # MLflow's SEARCH_MAX_RESULTS_THRESHOLD


def active_experiment(workspace: Workspace, experiment_id: str) -> Experiment:
    """The workspace's experiment if it is not deleted (MLflow's label schemas and review queues
    see only active ones)."""
    experiment = get_experiment(workspace, experiment_id)
    if not experiment.is_active:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
    return experiment


def find_label_schema(workspace: Workspace, schema_id: str) -> LabelSchema | None:
    return (
        LabelSchema.objects.select_related("experiment")
        .filter(schema_id=schema_id, experiment__workspace=workspace)
        .first()
    )


def get_label_schema(workspace: Workspace, schema_id: str) -> LabelSchema:
    schema = find_label_schema(workspace, schema_id)
    if schema is None:
        raise ResourceDoesNotExist(f"Label schema with id '{schema_id}' not found.")
    return schema


def get_label_schema_by_name(experiment: Experiment, name: str) -> LabelSchema:
    schema = LabelSchema.objects.select_related("experiment").filter(experiment=experiment, name=name).first()
    if schema is None:
        raise ResourceDoesNotExist(
            f"Label schema with name '{name}' not found for experiment '{experiment.experiment_id}'."
        )
    return schema


@dataclass
class Page:
    rows: list
    next_page_token: str | None


def check_page_request(
    max_results: int | None, page_token: str | None, default: int = DEFAULT_LIST_RESULTS
) -> tuple[int, int]:
    """(page size, offset) of a list request, or INVALID_PARAMETER_VALUE."""
    size = check_max_results(default if max_results is None else max_results, MAX_LIST_RESULTS)
    return size, decode_offset(page_token)


def paged(
    rows: QuerySet, max_results: int | None, page_token: str | None, default: int = DEFAULT_LIST_RESULTS
) -> Page:
    """One page of ordered rows: one query."""
    size, offset = check_page_request(max_results, page_token, default)
    page, next_token = cut_page(list(rows[offset : offset + size + 1]), offset, size)
    return Page(page, next_token)


def list_label_schemas(
    experiment: Experiment, *, max_results: int | None = None, page_token: str | None = None
) -> Page:
    """The newest first (MLflow's order)."""
    rows = LabelSchema.objects.filter(experiment=experiment).select_related("experiment")
    return paged(rows.order_by("-created_at", "schema_id"), max_results, page_token)
