"""Looking up and searching a workspace's experiments."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

import orjson
from django.db import connection
from django.db.models.expressions import RawSQL

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Experiment, ExperimentTag, Workspace
from tracking.models.experiments import ACTIVE
from tracking.raw_sql import aware, fetch_instance, fetch_rows, table
from tracking.search.experiments import filter_and_order_experiments
from tracking.search.paging import cut_page, decode_offset
from tracking.validation import check_max_results


def parse_experiment_number(experiment_id: str) -> int:
    try:
        number = int(experiment_id)
        if not -(2**63) <= number < 2**63:  # beyond the column, as no experiment has such an id
            raise ValueError(number)
    except (TypeError, ValueError):
        raise InvalidParameterValue(
            f"Invalid experiment ID '{experiment_id}'. Experiment ID must be a valid integer."
        ) from None
    return number


def get_experiment(workspace: Workspace, experiment_id: str) -> Experiment:
    number = parse_experiment_number(experiment_id)
    # Every run's creation looks its experiment up first: plain SQL spares building the ORM query.
    experiment = fetch_instance(
        Experiment, "e", "WHERE e.workspace_id = %s AND e.number = %s", [workspace.pk, number]
    )
    if experiment is None:
        raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
    return experiment


def get_experiment_by_name(workspace: Workspace, name: str) -> Experiment:
    experiment = fetch_instance(
        Experiment, "e", "WHERE e.workspace_id = %s AND e.name = %s", [workspace.pk, name]
    )
    if experiment is None:
        raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")
    return experiment


@dataclass
class ExperimentRecord:
    """An experiment as a search answers it: its columns and tags, read without ORM instances."""

    pk: int
    number: int
    name: str
    artifact_location: str
    lifecycle_stage: str
    created_at: datetime
    updated_at: datetime
    tags: list[tuple[str, str]] = field(default_factory=list)

    @property
    def experiment_id(self) -> str:
        return str(self.number)


@dataclass
class ExperimentPage:
    experiments: list[ExperimentRecord]
    next_page_token: str | None


_RECORD_COLUMNS = ("pk", "number", "name", "artifact_location", "lifecycle_stage", "created_at", "updated_at")


def search_experiments(
    workspace: Workspace,
    *,
    filter_string: str = "",
    order_by: list[str] | None = None,
    view_type: str = "ACTIVE_ONLY",
    max_results: int = 1000,
    page_token: str | None = None,
) -> ExperimentPage:
    check_max_results(max_results)
    offset = decode_offset(page_token)
    sql, params = _search_sql(
        workspace.pk, filter_string, tuple(order_by or ()), view_type, offset, max_results
    )
    rows, next_token = cut_page(fetch_rows(sql, params), offset, max_results)
    return ExperimentPage(
        [ExperimentRecord(*row[:5], aware(row[5]), aware(row[6]), _tag_pairs(row[7])) for row in rows],
        next_token,
    )


@functools.lru_cache(maxsize=256)
def _search_sql(
    workspace_pk: int,
    filter_string: str,
    order_by: tuple[str, ...],
    view_type: str,
    offset: int,
    max_results: int,
) -> tuple[str, tuple]:
    """The SQL of a search and its parameters, which depend on nothing else: the ORM builds them
    (parsing the filter, compiling the query) once per search asked again, as a client paging or
    a page refreshing does. Each row ends with its experiment's tags as a JSON array of pairs
    (`_tags_of_each`): the page and its tags in one round trip."""
    queryset = Experiment.objects.filter(workspace_id=workspace_pk)
    if view_type == "ACTIVE_ONLY":
        queryset = queryset.filter(lifecycle_stage="active")
    elif view_type == "DELETED_ONLY":
        queryset = queryset.filter(lifecycle_stage="deleted")
    queryset = filter_and_order_experiments(queryset, filter_string, list(order_by))
    # The ORM builds the search's SQL; its rows are read plain (a page of a thousand experiments
    # as model instances cost more than the search itself).
    sql, params = (
        queryset.annotate(tag_pairs=RawSQL(_tags_of_each(), ()))
        .values_list(*_RECORD_COLUMNS, "tag_pairs")[offset : offset + max_results + 1]
        .query.sql_with_params()
    )
    return sql, tuple(params)


@functools.cache
def _tags_of_each() -> str:
    """A correlated subquery: the tags of the experiment of the row, as JSON text, an array of
    [key, value] pairs (NULL or [] when it has none)."""
    tags, experiments = table(ExperimentTag), table(Experiment)
    pair = (
        "json_build_array(t.key, t.value)"
        if connection.vendor == "postgresql"
        else "json_array(t.key, t.value)"
    )
    aggregate = (
        f"json_agg({pair})::text" if connection.vendor == "postgresql" else f"json_group_array({pair})"
    )
    return f"SELECT {aggregate} FROM {tags} t WHERE t.experiment_id = {experiments}.id"


def _tag_pairs(text: str | None) -> list[tuple[str, str]]:
    """The tags of `_tags_of_each` by key, as `experiment_tags` gives them."""
    if not text:
        return []
    return sorted(map(tuple, orjson.loads(text)))


def experiment_tags(
    experiments: list[Experiment] | list[ExperimentRecord],
) -> dict[int, list[tuple[str, str]]]:
    """Tags of several experiments, by experiment pk, in one plain query per 10,000 experiments (a
    list may hold 50,000, past SQLite's 32,766 parameters; a search reads its
    page's tags with the page)."""
    tags: dict[int, list[tuple[str, str]]] = defaultdict(list)
    pks = [experiment.pk for experiment in experiments]
    for start in range(0, len(pks), _TAG_READ_CHUNK):
        chunk = pks[start : start + _TAG_READ_CHUNK]
        sql = (
            f"SELECT experiment_id, key, value FROM {table(ExperimentTag)} "
            f"WHERE experiment_id IN ({', '.join(['%s'] * len(chunk))}) ORDER BY key"
        )
        for experiment_pk, key, value in fetch_rows(sql, chunk):
            tags[experiment_pk].append((key, value))
    return tags


_TAG_READ_CHUNK = 10_000


def active_experiments(workspace: Workspace) -> list[Experiment]:
    """The workspace's active experiments, by name."""
    return list(
        Experiment.objects.filter(workspace=workspace, lifecycle_stage=ACTIVE).order_by("name", "number")
    )


def get_experiments(workspace: Workspace, experiment_ids: list[str]) -> list[Experiment]:
    """The experiments of `workspace` with these ids, in one query, in the order given (each once).

    An id no experiment of the workspace has is RESOURCE_DOES_NOT_EXIST, with the message of a
    single look-up: an experiment of another workspace is as unknown as one that never was.
    """
    numbers = list(dict.fromkeys(parse_experiment_number(experiment_id) for experiment_id in experiment_ids))
    found = {e.number: e for e in existing_experiments(workspace, experiment_ids)}
    for number in numbers:
        if number not in found:
            raise ResourceDoesNotExist(f"No Experiment with id={number} exists")
    return [found[number] for number in numbers]


def existing_experiments(workspace: Workspace, experiment_ids: list[str]) -> list[Experiment]:
    """Those of the ids that name an experiment of `workspace` (any other id is passed over)."""
    numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
    return list(Experiment.objects.filter(workspace=workspace, number__in=numbers))
