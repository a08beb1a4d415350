"""The GraphQL types MLflow's web UI queries, answered by the same handlers as the REST API.

The type and field names are MLflow's (its UI's queries are validated against them); each root
field reads its input as the RPC's message (`check_message`, the REST API's own checks), calls
the RPC's handler, and the types resolve from the wire dict it returns. Every root field is a
read: FIELD_RPCS names the RPC behind each, and a test keeps them all READ in the permission table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import graphene
from graphene.utils.str_converters import to_snake_case
from graphql import DirectiveLocation, GraphQLArgument, GraphQLDirective, GraphQLNonNull, GraphQLString
from graphql.language.ast import IntValueNode, StringValueNode

from ..protocol import check_message
from ..router import ApiCall

# MLflow's UI tags its queries with @component(name: ...); the schema must declare it.
COMPONENT_DIRECTIVE = GraphQLDirective(
    name="component",
    locations=[DirectiveLocation.QUERY, DirectiveLocation.MUTATION],
    args={"name": GraphQLArgument(GraphQLNonNull(GraphQLString))},
)


@dataclass
class Context:
    """One request's: the call (workspace, principal), and what its resolvers share so that a
    list of runs costs one look-up of their experiments and one of their model versions."""

    call: ApiCall
    run_ids: list[str] = field(default_factory=list)
    versions_by_run: dict[str, list[dict]] | None = None
    experiments: dict[str, dict] = field(default_factory=dict)


class LongString(graphene.Scalar):
    """A 64-bit integer sent as a string, which JavaScript's numbers would round (MLflow's type)."""

    @staticmethod
    def serialize(value: Any) -> str:
        return str(value)

    @staticmethod
    def parse_literal(node: Any, _variables: Any = None) -> int | None:
        if isinstance(node, (IntValueNode, StringValueNode)) and node.value.lstrip("-").isdigit():
            return int(node.value)
        return None

    @staticmethod
    def parse_value(value: Any) -> int:
        return int(value)


def _list_or_empty(parent: dict, info: Any) -> list:
    return parent.get(to_snake_case(info.field_name)) or []


def list_of(of: Any) -> graphene.Field:
    """A list field of an answer: [] when the wire dict leaves it out (proto3 JSON drops empty
    lists, where MLflow's GraphQL answers [])."""
    return graphene.Field(graphene.List(graphene.NonNull(of)), resolver=_list_or_empty)


def _finite(value: Any) -> float | None:
    """A metric's value as GraphQL's Float can carry it: NaN and the infinities become null."""
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


class ApiError(graphene.ObjectType):
    code = graphene.String()
    message = graphene.String()
    help_url = graphene.String()
    trace_id = graphene.String()


class KeyValue(graphene.ObjectType):
    key = graphene.String()
    value = graphene.String()


class MlflowExperimentTag(KeyValue):
    pass


class MlflowRunTag(KeyValue):
    pass


class MlflowParam(KeyValue):
    pass


class MlflowInputTag(KeyValue):
    pass


class MlflowModelVersionTag(KeyValue):
    pass


class MlflowRunStatus(graphene.Enum):
    RUNNING = "RUNNING"
    SCHEDULED = "SCHEDULED"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class MlflowModelVersionStatus(graphene.Enum):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"
    READY = "READY"


class MlflowViewType(graphene.Enum):
    ACTIVE_ONLY = "ACTIVE_ONLY"
    DELETED_ONLY = "DELETED_ONLY"
    ALL = "ALL"


class MlflowExperiment(graphene.ObjectType):
    experiment_id = graphene.String()
    name = graphene.String()
    artifact_location = graphene.String()
    lifecycle_stage = graphene.String()
    last_update_time = LongString()
    creation_time = LongString()
    tags = list_of(MlflowExperimentTag)
    effective_trace_archival_retention = graphene.String()
    workspace = graphene.String()


class MlflowMetric(graphene.ObjectType):
    key = graphene.String()
    value = graphene.Float()
    timestamp = LongString()
    step = LongString()
    dataset_name = graphene.String()
    dataset_digest = graphene.String()
    model_id = graphene.String()
    run_id = graphene.String()

    @staticmethod
    def resolve_value(metric: dict, _info: Any) -> float | None:
        return _finite(metric.get("value"))


class MlflowRunData(graphene.ObjectType):
    metrics = list_of(MlflowMetric)
    params = list_of(MlflowParam)
    tags = list_of(MlflowRunTag)


class MlflowRunInfo(graphene.ObjectType):
    run_id = graphene.String()
    run_uuid = graphene.String()
    run_name = graphene.String()
    experiment_id = graphene.String()
    user_id = graphene.String()
    status = graphene.Field(MlflowRunStatus)
    start_time = LongString()
    end_time = LongString()
    artifact_uri = graphene.String()
    lifecycle_stage = graphene.String()


class MlflowDataset(graphene.ObjectType):
    name = graphene.String()
    digest = graphene.String()
    source_type = graphene.String()
    source = graphene.String()
    schema = graphene.String()
    profile = graphene.String()


class MlflowDatasetInput(graphene.ObjectType):
    tags = list_of(MlflowInputTag)
    dataset = graphene.Field(MlflowDataset)


class MlflowModelInput(graphene.ObjectType):
    model_id = graphene.String()


class MlflowModelOutput(graphene.ObjectType):
    model_id = graphene.String()
    step = LongString()


class MlflowRunInputs(graphene.ObjectType):
    dataset_inputs = list_of(MlflowDatasetInput)
    model_inputs = list_of(MlflowModelInput)


class MlflowRunOutputs(graphene.ObjectType):
    model_outputs = list_of(MlflowModelOutput)


class MlflowModelVersion(graphene.ObjectType):
    name = graphene.String()
    version = graphene.String()
    creation_timestamp = LongString()
    last_updated_timestamp = LongString()
    user_id = graphene.String()
    current_stage = graphene.String()
    description = graphene.String()
    source = graphene.String()
    run_id = graphene.String()
    status = graphene.Field(MlflowModelVersionStatus)
    status_message = graphene.String()
    tags = list_of(MlflowModelVersionTag)
    run_link = graphene.String()
    aliases = graphene.Field(graphene.List(graphene.String), resolver=_list_or_empty)
    model_id = graphene.String()


class MlflowRun(graphene.ObjectType):
    info = graphene.Field(MlflowRunInfo)
    data = graphene.Field(MlflowRunData)
    inputs = graphene.Field(MlflowRunInputs)
    outputs = graphene.Field(MlflowRunOutputs)
    experiment = graphene.Field(MlflowExperiment)
    model_versions = graphene.List(graphene.NonNull(MlflowModelVersion))  # resolved below

    @staticmethod
    def resolve_experiment(run: dict, info: Any) -> dict | None:
        context: Context = info.context
        experiment_id = run["info"]["experiment_id"]
        if experiment_id not in context.experiments:
            answer = _call(context, "mlflow.GetExperiment", {"experiment_id": experiment_id})
            context.experiments[experiment_id] = answer["experiment"]
        return context.experiments[experiment_id]

    @staticmethod
    def resolve_model_versions(run: dict, info: Any) -> list[dict]:
        context: Context = info.context
        if context.versions_by_run is None:
            # Every run of the answer at once: one search, whatever the number of runs.
            quoted = ", ".join(f"'{run_id}'" for run_id in context.run_ids if "'" not in run_id)
            versions = _call(
                context,
                "mlflow.SearchModelVersions",
                {"filter": f"run_id IN ({quoted})", "max_results": 200_000},
            ).get("model_versions", [])
            context.versions_by_run = {}
            for version in versions:
                context.versions_by_run.setdefault(version.get("run_id", ""), []).append(version)
        return context.versions_by_run.get(run["info"]["run_id"], [])


class MlflowFileInfo(graphene.ObjectType):
    path = graphene.String()
    is_dir = graphene.Boolean()
    file_size = LongString()

    @staticmethod
    def resolve_file_size(file_info: dict, _info: Any) -> int:
        # The wire dict leaves a directory's size out; MLflow's GraphQL reads the proto's default.
        return file_info.get("file_size", 0)


class MlflowMetricWithRunId(graphene.ObjectType):
    key = graphene.String()
    value = graphene.Float()
    timestamp = LongString()
    step = LongString()
    run_id = graphene.String()

    @staticmethod
    def resolve_value(metric: dict, _info: Any) -> float | None:
        return _finite(metric.get("value"))


class MlflowDatasetSummary(graphene.ObjectType):
    experiment_id = graphene.String()
    name = graphene.String()
    digest = graphene.String()
    context = graphene.String()

    @staticmethod
    def resolve_context(summary: dict, _info: Any) -> str:
        # A dataset logged without a context tag: "" in MLflow's GraphQL (the proto's default).
        return summary.get("context", "")


class Answer(graphene.ObjectType):
    """What every root field answers: its data, and MLflow's `apiError` (null: errors go to
    GraphQL's `errors`, as from MLflow's server)."""

    apiError = graphene.Field(ApiError)  # MLflow spells it so


class PagedAnswer(Answer):
    next_page_token = graphene.String()


class MlflowGetExperimentResponse(Answer):
    experiment = graphene.Field(MlflowExperiment)


class MlflowGetRunResponse(Answer):
    run = graphene.Field(MlflowRun)


class MlflowSearchRunsResponse(PagedAnswer):
    runs = list_of(MlflowRun)


class MlflowSearchModelVersionsResponse(PagedAnswer):
    model_versions = list_of(MlflowModelVersion)


class MlflowGetMetricHistoryBulkIntervalResponse(Answer):
    metrics = list_of(MlflowMetricWithRunId)


class MlflowListArtifactsResponse(PagedAnswer):
    root_uri = graphene.String()
    files = list_of(MlflowFileInfo)


class MlflowSearchDatasetsResponse(Answer):
    dataset_summaries = list_of(MlflowDatasetSummary)


class MlflowGetExperimentInput(graphene.InputObjectType):
    experiment_id = graphene.String()


class MlflowGetRunInput(graphene.InputObjectType):
    run_id = graphene.String()
    run_uuid = graphene.String()


class MlflowSearchRunsInput(graphene.InputObjectType):
    experiment_ids = graphene.List(graphene.String)
    filter = graphene.String()
    run_view_type = graphene.Field(MlflowViewType)
    max_results = graphene.Int()
    order_by = graphene.List(graphene.String)
    page_token = graphene.String()


class MlflowSearchModelVersionsInput(graphene.InputObjectType):
    filter = graphene.String()
    max_results = LongString()
    order_by = graphene.List(graphene.String)
    page_token = graphene.String()


class MlflowGetMetricHistoryBulkIntervalInput(graphene.InputObjectType):
    run_ids = graphene.List(graphene.String)
    metric_key = graphene.String()
    start_step = graphene.Int()
    end_step = graphene.Int()
    max_results = graphene.Int()


class MlflowListArtifactsInput(graphene.InputObjectType):
    run_id = graphene.String()
    run_uuid = graphene.String()
    path = graphene.String()
    page_token = graphene.String()


class MlflowSearchDatasetsInput(graphene.InputObjectType):
    experiment_ids = graphene.List(graphene.String)


# The RPC behind each root field (its permission, its checks, its handler).
FIELD_RPCS = {
    "mlflow_get_experiment": "mlflow.GetExperiment",
    "mlflow_get_run": "mlflow.GetRun",
    "mlflow_search_runs": "mlflow.SearchRuns",
    "mlflow_search_model_versions": "mlflow.SearchModelVersions",
    "mlflow_get_metric_history_bulk_interval": "mlflow.GetMetricHistoryBulkInterval",
    "mlflow_list_artifacts": "mlflow.ListArtifacts",
    "mlflow_search_datasets": "mlflow.SearchDatasets",
}


def _plain(value: Any) -> Any:
    """A GraphQL input value as JSON would have carried it (enums by name, no None fields)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _call(context: Context, rpc_message: str, raw: dict[str, Any]) -> dict[str, Any]:
    """The RPC's handler on `raw`, checked as the REST API checks its request."""
    from ..router import handler_for

    message = check_message(raw, rpc_message, "")
    call = context.call
    return handler_for(rpc_message)(
        ApiCall(
            request=call.request,
            workspace=call.workspace,
            message=message,
            principal=call.principal,
            role=call.role,
        )
    )


def _root(field_name: str, after: Callable[[Context, dict], None] | None = None) -> Callable:
    def resolve(_root_value: Any, info: Any, input: Any = None) -> dict[str, Any]:
        context: Context = info.context
        answer = _call(context, FIELD_RPCS[field_name], _plain(dict(input or {})))
        if after is not None:
            after(context, answer)
        return answer

    return resolve


def _note_runs(context: Context, answer: dict) -> None:
    runs = answer.get("runs") or ([answer["run"]] if "run" in answer else [])
    context.run_ids.extend(run["info"]["run_id"] for run in runs)


class Query(graphene.ObjectType):
    mlflow_get_experiment = graphene.Field(MlflowGetExperimentResponse, input=MlflowGetExperimentInput())
    mlflow_get_run = graphene.Field(MlflowGetRunResponse, input=MlflowGetRunInput())
    mlflow_search_runs = graphene.Field(MlflowSearchRunsResponse, input=MlflowSearchRunsInput())
    mlflow_search_model_versions = graphene.Field(
        MlflowSearchModelVersionsResponse, input=MlflowSearchModelVersionsInput()
    )
    mlflow_get_metric_history_bulk_interval = graphene.Field(
        MlflowGetMetricHistoryBulkIntervalResponse, input=MlflowGetMetricHistoryBulkIntervalInput()
    )
    mlflow_list_artifacts = graphene.Field(MlflowListArtifactsResponse, input=MlflowListArtifactsInput())

    resolve_mlflow_get_experiment = _root("mlflow_get_experiment")
    resolve_mlflow_get_run = _root("mlflow_get_run", _note_runs)
    resolve_mlflow_search_runs = _root("mlflow_search_runs", _note_runs)
    resolve_mlflow_search_model_versions = _root("mlflow_search_model_versions")
    resolve_mlflow_get_metric_history_bulk_interval = _root("mlflow_get_metric_history_bulk_interval")
    resolve_mlflow_list_artifacts = _root("mlflow_list_artifacts")


class Mutation(graphene.ObjectType):
    """Reads that MLflow's schema files under mutations (its UI sends them so); nothing changes."""

    mlflow_search_runs = graphene.Field(MlflowSearchRunsResponse, input=MlflowSearchRunsInput())
    mlflow_search_datasets = graphene.Field(MlflowSearchDatasetsResponse, input=MlflowSearchDatasetsInput())

    resolve_mlflow_search_runs = _root("mlflow_search_runs", _note_runs)
    resolve_mlflow_search_datasets = _root("mlflow_search_datasets")


SCHEMA = graphene.Schema(query=Query, mutation=Mutation, directives=[COMPONENT_DIRECTIVE])
