"""Reading runs: single look-ups, bulk loading of their data, and search."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Experiment, MetricSummary, Param, Run, RunInput, RunModelLink, RunTag, Workspace
from tracking.search.paging import decode_offset, encode_token
from tracking.search.runs import filter_and_order_runs
from tracking.validation import check_max_results

from .experiments import parse_experiment_number


def get_run(workspace: Workspace, run_id: str) -> Run:
    """The run with this id in this workspace, or RESOURCE_DOES_NOT_EXIST."""
    try:
        return Run.objects.select_related("experiment").get(uuid=run_id, experiment__workspace=workspace)
    except Run.DoesNotExist:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found") from None


@dataclass(slots=True)
class DatasetInputRecord:
    name: str
    digest: str
    source_type: str
    source: str
    schema: str
    profile: str
    tags: list[tuple[str, str]]


@dataclass(slots=True)
class RunRecord:
    """A run with everything `GetRun` returns, loaded in a fixed number of queries."""

    pk: int
    run_id: str
    experiment_id: str
    name: str
    user_id: str
    status: str
    start_time: datetime
    end_time: datetime | None
    lifecycle_stage: str
    artifact_uri: str
    params: list[tuple[str, str]] = field(default_factory=list)
    tags: list[tuple[str, str]] = field(default_factory=list)
    # (key, value or None for NaN, timestamp, step)
    metrics: list[tuple[str, float | None, int, int]] = field(default_factory=list)
    dataset_inputs: list[DatasetInputRecord] = field(default_factory=list)
    model_inputs: list[str] = field(default_factory=list)
    model_outputs: list[tuple[str, int]] = field(default_factory=list)


_RUN_COLUMNS = (
    "pk",
    "uuid",
    "experiment__number",
    "name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
)


def load_runs(run_pks: list[int]) -> list[RunRecord]:
    """The runs with these pks, in this order, with params, tags, metrics and inputs."""
    if not run_pks:
        return []
    records = {row[0]: RunRecord(*row[:2], str(row[2]), *row[3:]) for row in _run_rows(run_pks)}
    for run_pk, key, value in Param.objects.filter(run_id__in=run_pks).values_list("run_id", "key", "value"):
        records[run_pk].params.append((key, value))
    for run_pk, key, value in RunTag.objects.filter(run_id__in=run_pks).values_list("run_id", "key", "value"):
        records[run_pk].tags.append((key, value))
    summaries = MetricSummary.objects.filter(run_id__in=run_pks).values_list(
        "run_id", "key", "value", "timestamp", "step"
    )
    for run_pk, *metric in summaries:
        records[run_pk].metrics.append(tuple(metric))
    inputs = RunInput.objects.filter(run_id__in=run_pks).values_list(
        "run_id",
        "dataset__name",
        "dataset__digest",
        "dataset__source_type",
        "dataset__source",
        "dataset__schema",
        "dataset__profile",
        "tags",
    )
    for run_pk, *dataset, tags in inputs:
        records[run_pk].dataset_inputs.append(DatasetInputRecord(*dataset, [tuple(tag) for tag in tags]))
    links = RunModelLink.objects.filter(run_id__in=run_pks).values_list(
        "run_id", "model_id", "direction", "step"
    )
    for run_pk, model_id, direction, step in links:
        if direction == RunModelLink.INPUT:
            records[run_pk].model_inputs.append(model_id)
        else:
            records[run_pk].model_outputs.append((model_id, step))
    return [records[pk] for pk in run_pks if pk in records]


def _run_rows(run_pks: list[int]):
    return Run.objects.filter(pk__in=run_pks).values_list(*_RUN_COLUMNS)


def get_run_record(workspace: Workspace, run_id: str) -> RunRecord:
    run_pk = (
        Run.objects.filter(uuid=run_id, experiment__workspace=workspace).values_list("pk", flat=True).first()
    )
    if run_pk is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    return load_runs([run_pk])[0]


@dataclass
class RunPage:
    runs: list[RunRecord]
    next_page_token: str | None


_VIEW_TYPES = {"ACTIVE_ONLY": ["active"], "DELETED_ONLY": ["deleted"], "ALL": ["active", "deleted"]}


def search_runs(
    workspace: Workspace,
    *,
    experiment_ids: list[str],
    filter_string: str = "",
    run_view_type: str = "ACTIVE_ONLY",
    max_results: int = 1000,
    order_by: list[str] | None = None,
    page_token: str | None = None,
) -> RunPage:
    check_max_results(max_results)
    offset = decode_offset(page_token)
    numbers = [parse_experiment_number(experiment_id) for experiment_id in experiment_ids]
    experiment_pks = list(
        Experiment.objects.filter(workspace=workspace, number__in=numbers).values_list("pk", flat=True)
    )
    if not experiment_pks:
        return RunPage([], None)
    queryset = Run.objects.filter(
        experiment_id__in=experiment_pks, lifecycle_stage__in=_VIEW_TYPES.get(run_view_type, ["active"])
    )
    queryset = filter_and_order_runs(queryset, filter_string, order_by or [])
    run_pks = list(queryset.values_list("pk", flat=True)[offset : offset + max_results + 1])
    next_token = None
    if len(run_pks) > max_results:
        run_pks = run_pks[:max_results]
        next_token = encode_token(offset=offset + max_results)
    return RunPage(load_runs(run_pks), next_token)


def check_run_ids(run_ids: list[str]) -> None:
    if not run_ids:
        raise InvalidParameterValue("GetMetricHistoryBulkInterval request must specify at least one run_id.")
