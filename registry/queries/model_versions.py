"""Looking up and searching model versions, by number, by alias, and by what produced them."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import QuerySet

from registry.models import ModelVersion, RegisteredModel
from registry.search import model_version_query
from registry.validation import (
    LATEST_ALIAS,
    MAX_MODEL_VERSION_RESULTS,
    check_alias,
    check_max_results,
    check_model_name,
    model_not_found,
    parse_version,
    version_not_found,
)
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Workspace
from tracking.search.paging import cut_page, decode_offset

from .records import (
    VersionRecord,
    created_version_record,
    highest_version,
    search_versions,
    version_by_alias,
    version_by_number,
    version_by_pk,
    with_version_children,
)

DEFAULT_MAX_RESULTS = MAX_MODEL_VERSION_RESULTS  # the proto's default for SearchModelVersions


def _versions_of(workspace: Workspace, name: str) -> QuerySet:
    check_model_name(name)
    return ModelVersion.objects.filter(registered_model__workspace=workspace, registered_model__name=name)


def get_model_version(workspace: Workspace, name: str, version: str | int) -> ModelVersion:
    """The version, with its registered model loaded, or RESOURCE_DOES_NOT_EXIST."""
    number = parse_version(version, name)
    try:
        return _versions_of(workspace, name).select_related("registered_model").get(version=number)
    except ModelVersion.DoesNotExist:
        raise version_not_found(name, version) from None


def get_model_version_record(workspace: Workspace, name: str, version: str | int) -> VersionRecord:
    check_model_name(name)
    record = version_by_number(workspace.pk, name, parse_version(version, name))
    if record is None:
        raise version_not_found(name, version)
    return record


def load_model_version(version: ModelVersion) -> VersionRecord:
    record = version_by_pk(version.pk)
    assert record is not None  # the caller holds the version
    return record


def load_created_model_version(version: ModelVersion) -> VersionRecord:
    """The answer to CreateModelVersion, without a query: see `created_version_record`."""
    return created_version_record(version)


def get_model_version_by_alias(workspace: Workspace, name: str, alias: str) -> VersionRecord:
    """The version an alias names; `latest` names the highest version.

    An unknown alias is INVALID_PARAMETER_VALUE (MLflow's answer), an unknown model
    RESOURCE_DOES_NOT_EXIST.
    """
    check_model_name(name)
    check_alias(alias)
    is_latest = alias.lower() == LATEST_ALIAS
    record = highest_version(workspace.pk, name) if is_latest else version_by_alias(workspace.pk, name, alias)
    if record is not None:
        return record
    if not RegisteredModel.objects.filter(workspace=workspace, name=name).exists():
        raise model_not_found(name)
    if is_latest:
        raise ResourceDoesNotExist(f"Latest version not found for model {name}.")
    raise InvalidParameterValue(f"Registered model alias {alias} not found.")


def get_download_uri(workspace: Workspace, name: str, version: str | int) -> str:
    number = parse_version(version, name)
    location = _versions_of(workspace, name).filter(version=number).values_list("storage_location", flat=True)
    for uri in location:
        return uri
    raise version_not_found(name, version)


@dataclass
class VersionPage:
    versions: list[VersionRecord]
    next_page_token: str | None


def search_model_versions(
    workspace: Workspace,
    *,
    filter_string: str = "",
    max_results: int | None = None,
    order_by: list[str] | None = None,
    page_token: str | None = None,
) -> VersionPage:
    max_results = check_max_results(
        DEFAULT_MAX_RESULTS if max_results is None else max_results, MAX_MODEL_VERSION_RESULTS
    )
    offset = decode_offset(page_token)
    query = model_version_query(workspace.pk, filter_string, order_by or [])
    records, next_token = cut_page(
        search_versions(query, limit=max_results + 1, offset=offset), offset, max_results
    )
    return VersionPage(with_version_children(records), next_token)


def registrations(workspace: Workspace, model_ids: list[str]) -> dict[str, list[tuple[str, int]]]:
    """Per logged model id, the (registered model name, version) pairs registered from it, in one query.

    What `LoggedModelInfo.registrations` lists; the tracking shapes can call this for a page of
    logged models.
    """
    found: dict[str, list[tuple[str, int]]] = defaultdict(list)
    if not model_ids:
        return found
    rows = (
        ModelVersion.objects.filter(registered_model__workspace=workspace, model_id__in=model_ids)
        .order_by("registered_model__name", "version")
        .values_list("model_id", "registered_model__name", "version")
    )
    for model_id, name, version in rows:
        found[model_id].append((name, version))
    return found
