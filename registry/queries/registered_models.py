"""Looking up and searching a workspace's registered models."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from registry.models import RegisteredModel
from registry.search import registered_model_query
from registry.validation import (
    MAX_REGISTERED_MODEL_RESULTS,
    canonical_stage,
    check_max_results,
    check_model_name,
    model_not_found,
)
from tracking.models import Workspace
from tracking.raw_sql import fetch_instance
from tracking.search.paging import cut_page, decode_offset

from .records import (
    ModelRecord,
    VersionRecord,
    created_model_record,
    latest_versions_by_name,
    model_by_name,
    search_models,
    with_model_details,
)

DEFAULT_MAX_RESULTS = 100


def get_registered_model(workspace: Workspace, name: str) -> RegisteredModel:
    """The model with this name in this workspace, or RESOURCE_DOES_NOT_EXIST."""
    check_model_name(name)
    # Every registry write looks its model up first: plain SQL spares building the ORM query.
    model = fetch_instance(
        RegisteredModel, "m", "WHERE m.workspace_id = %s AND m.name = %s", [workspace.pk, name]
    )
    if model is None:
        raise model_not_found(name)
    return model


def get_registered_model_record(workspace: Workspace, name: str) -> ModelRecord:
    """The model with its latest version per stage, tags and aliases."""
    check_model_name(name)
    record = model_by_name(workspace.pk, name)
    if record is None:
        raise model_not_found(name)
    return record


def load_registered_model(model: RegisteredModel) -> ModelRecord:
    record = model_by_name(model.workspace_id, model.name)
    assert record is not None  # the caller holds the model
    return record


def load_created_registered_model(model: RegisteredModel) -> ModelRecord:
    """The answer to CreateRegisteredModel, without a query: see `created_model_record`."""
    return created_model_record(model)


def get_latest_versions(
    workspace: Workspace, name: str, stages: Iterable[str] | None = None
) -> list[VersionRecord]:
    """Per stage asked for (every stage when none is), the version with the highest number."""
    check_model_name(name)
    wanted = {canonical_stage(stage) for stage in stages} if stages else None
    records = latest_versions_by_name(workspace.pk, name, wanted)
    if records is None:
        raise model_not_found(name)
    return records


@dataclass
class ModelPage:
    models: list[ModelRecord]
    next_page_token: str | None


def search_registered_models(
    workspace: Workspace,
    *,
    filter_string: str = "",
    max_results: int | None = None,
    order_by: list[str] | None = None,
    page_token: str | None = None,
) -> ModelPage:
    max_results = check_max_results(
        DEFAULT_MAX_RESULTS if max_results is None else max_results, MAX_REGISTERED_MODEL_RESULTS
    )
    offset = decode_offset(page_token)
    query = registered_model_query(workspace.pk, filter_string, order_by or [])
    records, next_token = cut_page(
        search_models(query, limit=max_results + 1, offset=offset), offset, max_results
    )
    return ModelPage(with_model_details(records), next_token)
