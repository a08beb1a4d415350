"""The permission matrix: what each MLflow operation needs, in one table the API router consults.

Every RPC of `tracking.api.spec.RPCS` (and each extra route) is classified here by its request
message; a test fails when MLflow grows an RPC that is not. docs/permissions.md is the same
table for people.

- SERVER: facts about the server, no workspace data: any authenticated caller.
- DIRECTORY: the list of workspaces and creating one; not tied to the addressed workspace.
- READ: Reader and above.  WRITE: Contributor and above (logging, registering, jobs).
- DELETE_OWN: a Contributor may do it to their own runs, an Owner to any.
- OWNER: deleting anything else, gateway set-up, the workspace itself, its members.
"""

from __future__ import annotations

from enum import StrEnum

from .models import ROLE_RANK, Role


class Permission(StrEnum):
    SERVER = "server"
    DIRECTORY = "directory"
    READ = "read"
    WRITE = "write"
    DELETE_OWN = "delete_own"
    OWNER = "owner"


# The least role that may exercise a permission inside a workspace.
LEAST_ROLE = {
    Permission.READ: Role.READER,
    Permission.WRITE: Role.CONTRIBUTOR,
    Permission.DELETE_OWN: Role.CONTRIBUTOR,
    Permission.OWNER: Role.OWNER,
}

# RPCs that address a workspace by the `workspace_name` in their path rather than by the
# request's /ws/<name>/ prefix or X-MLFLOW-WORKSPACE header.
ADDRESSED_BY_PATH = {"mlflow.GetWorkspace", "mlflow.UpdateWorkspace", "mlflow.DeleteWorkspace"}

_SERVER = ["mlflow.ServerInfo"]

_DIRECTORY = ["mlflow.ListWorkspaces", "mlflow.CreateWorkspace"]

_READ = [
    # Experiments, runs, metrics
    "mlflow.GetExperimentByName",
    "mlflow.SearchExperiments",
    "mlflow.GetExperiment",
    "mlflow.GetRun",
    "mlflow.SearchRuns",
    "mlflow.GetMetricHistory",
    "mlflow.GetMetricHistoryBulkInterval",
    "mlflow.SearchDatasets",
    # Artifacts
    "mlflow.ListArtifacts",
    "mlflow.CreatePresignedDownloadUrl",
    "mlflow.artifacts.DownloadArtifact",
    "mlflow.artifacts.ListArtifacts",
    "mlflow.artifacts.GetPresignedDownloadUrl",
    # MLflow's web UI routes (no .proto declares them; tracking/api/handlers/ui.py)
    "mlflow.ui.GetMetricHistoryBulk",
    "mlflow.ui.GetArtifact",
    "mlflow.ui.GetLoggedModelArtifact",
    "mlflow.ui.GetModelVersionArtifact",
    "mlflow.ui.GetTraceArtifact",
    "mlflow.ui.ListGatewayProxyEndpoints",
    # GraphQL: every field is one of the reads above (tracking/api/graphql/schema.py FIELD_RPCS)
    "mlflow.ui.GraphQL",
    # Logged models
    "mlflow.GetLoggedModel",
    "mlflow.SearchLoggedModels",
    "mlflow.ListLoggedModelArtifacts",
    # Traces, assessments, issues, label schemas
    "mlflow.GetTraceInfo",
    "mlflow.GetTraceInfoV3",
    "mlflow.GetTrace",
    "mlflow.BatchGetTraces",
    "mlflow.BatchGetTraceInfos",
    "mlflow.SearchTraces",
    "mlflow.SearchTracesV3",
    "mlflow.SearchUnifiedTraces",
    "mlflow.GetOnlineTraceDetails",
    "mlflow.CalculateTraceFilterCorrelation",
    "mlflow.QueryTraceMetrics",
    "mlflow.GetAssessmentRequest",
    "mlflow.issues.GetIssue",
    "mlflow.issues.SearchIssues",
    "mlflow.label_schemas.GetLabelSchema",
    "mlflow.label_schemas.GetLabelSchemaByName",
    "mlflow.label_schemas.ListLabelSchemas",
    # Evaluation datasets, scorers, prompt optimization, review queues
    "mlflow.GetDataset",
    "mlflow.SearchEvaluationDatasets",
    "mlflow.GetDatasetExperimentIds",
    "mlflow.GetDatasetRecords",
    "mlflow.ListScorers",
    "mlflow.ListScorerVersions",
    "mlflow.GetScorer",
    "mlflow.scorers.GetOnlineScoringConfigs",
    "mlflow.GetPromptOptimizationJob",
    "mlflow.SearchPromptOptimizationJobs",
    "mlflow.review_queues.GetReviewQueue",
    "mlflow.review_queues.GetReviewQueueByName",
    "mlflow.review_queues.ListReviewQueues",
    "mlflow.review_queues.ListReviewQueueItems",
    # AI gateway configuration (secret values are never returned, only their info)
    "mlflow.GetGatewaySecretInfo",
    "mlflow.ListGatewaySecretInfos",
    "mlflow.GetGatewayEndpoint",
    "mlflow.ListGatewayEndpoints",
    "mlflow.GetGatewayModelDefinition",
    "mlflow.ListGatewayModelDefinitions",
    "mlflow.ListGatewayEndpointBindings",
    "mlflow.GetGatewayBudgetPolicy",
    "mlflow.ListGatewayBudgetPolicies",
    "mlflow.ListGatewayBudgetWindows",
    "mlflow.GetGatewayGuardrail",
    "mlflow.ListGatewayGuardrails",
    "mlflow.ListEndpointGuardrailConfigs",
    # The gateway's provider catalog (the UI's ajax routes) and whether secrets can be kept
    "mlflow.gateway.ListSupportedProviders",
    "mlflow.gateway.ListSupportedModels",
    "mlflow.gateway.GetProviderConfig",
    "mlflow.gateway.GetSecretsConfig",
    # Model registry
    "mlflow.GetRegisteredModel",
    "mlflow.SearchRegisteredModels",
    "mlflow.GetLatestVersions",
    "mlflow.GetModelVersion",
    "mlflow.SearchModelVersions",
    "mlflow.GetModelVersionDownloadUri",
    "mlflow.GetModelVersionByAlias",
    # The workspace itself
    "mlflow.GetWorkspace",
]

_WRITE = [
    # Experiments, runs, metrics
    "mlflow.CreateExperiment",
    "mlflow.UpdateExperiment",
    "mlflow.SetExperimentTag",
    "mlflow.DeleteExperimentTag",
    "mlflow.CreateRun",
    "mlflow.UpdateRun",
    "mlflow.LogMetric",
    "mlflow.LogParam",
    "mlflow.SetTag",
    "mlflow.DeleteTag",
    "mlflow.LogBatch",
    "mlflow.LogModel",
    "mlflow.LogInputs",
    "mlflow.LogOutputs",
    # Artifacts
    "mlflow.CreatePresignedUploadUrl",
    "mlflow.artifacts.UploadArtifact",
    "mlflow.artifacts.CreateMultipartUpload",
    "mlflow.artifacts.CompleteMultipartUpload",
    "mlflow.artifacts.AbortMultipartUpload",
    # MLflow's web UI routes (no .proto declares them; tracking/api/handlers/ui.py)
    "mlflow.ui.CreatePromptlabRun",
    "mlflow.ui.UploadArtifact",
    # An invocation through the prompt lab's proxy, as a gateway invocation below
    "mlflow.ui.InvokeGatewayProxyEndpoint",
    # Logged models
    "mlflow.CreateLoggedModel",
    "mlflow.FinalizeLoggedModel",
    "mlflow.SetLoggedModelTags",
    "mlflow.DeleteLoggedModelTag",
    "mlflow.LogLoggedModelParamsRequest",
    # Traces, assessments, issues, label schemas
    "mlflow.SetTraceTag",
    "mlflow.SetTraceTagV3",
    "mlflow.DeleteTraceTag",
    "mlflow.DeleteTraceTagV3",
    "mlflow.StartTrace",
    "mlflow.EndTrace",
    "mlflow.StartTraceV3",
    # OpenTelemetry's span export (POST /v1/traces), which MLflow's client sends spans by.
    "opentelemetry.ExportTraceServiceRequest",
    "mlflow.LinkTracesToRun",
    "mlflow.LinkPromptsToTrace",
    "mlflow.CreateAssessment",
    "mlflow.UpdateAssessment",
    "mlflow.DeleteAssessment",
    "mlflow.issues.CreateIssue",
    "mlflow.issues.UpdateIssue",
    "mlflow.label_schemas.CreateLabelSchema",
    "mlflow.label_schemas.UpdateLabelSchema",
    # Evaluation datasets, scorers, prompt optimization, review queues
    "mlflow.CreateDataset",
    "mlflow.SetDatasetTags",
    "mlflow.DeleteDatasetTag",
    "mlflow.UpsertDatasetRecords",
    "mlflow.AddDatasetToExperiments",
    "mlflow.RemoveDatasetFromExperiments",
    "mlflow.RegisterScorer",
    "mlflow.scorers.UpsertOnlineScoringConfig",
    "mlflow.CreatePromptOptimizationJob",
    "mlflow.CancelPromptOptimizationJob",
    "mlflow.review_queues.CreateReviewQueue",
    "mlflow.review_queues.GetOrCreateUserQueue",
    "mlflow.review_queues.UpdateReviewQueue",
    "mlflow.review_queues.AddItemsToReviewQueue",
    "mlflow.review_queues.RemoveItemsFromReviewQueue",
    "mlflow.review_queues.SetReviewQueueItemStatus",
    # Model registry
    "mlflow.CreateRegisteredModel",
    "mlflow.RenameRegisteredModel",
    "mlflow.UpdateRegisteredModel",
    "mlflow.CreateModelVersion",
    "mlflow.UpdateModelVersion",
    "mlflow.TransitionModelVersionStage",
    "mlflow.SetRegisteredModelTag",
    "mlflow.SetModelVersionTag",
    "mlflow.DeleteRegisteredModelTag",
    "mlflow.DeleteModelVersionTag",
    "mlflow.SetRegisteredModelAlias",
    "mlflow.DeleteRegisteredModelAlias",
    # Calling a gateway endpoint (tracking.api.gateway_invocations: outside /api/, not a route
    # of the RPC table; see OUTSIDE_THE_API)
    "mlflow.gateway.InvokeEndpoint",
]

# Operations classified here whose paths are Django URLs of their own rather than API routes.
OUTSIDE_THE_API = {"mlflow.gateway.InvokeEndpoint"}

_DELETE_OWN = ["mlflow.DeleteRun", "mlflow.RestoreRun"]

_OWNER = [
    "mlflow.DeleteExperiment",
    "mlflow.RestoreExperiment",
    "mlflow.DeleteTraces",
    "mlflow.DeleteTracesV3",
    "mlflow.DeleteLoggedModel",
    "mlflow.artifacts.DeleteArtifact",
    "mlflow.label_schemas.DeleteLabelSchema",
    "mlflow.DeleteDataset",
    "mlflow.DeleteDatasetRecords",
    "mlflow.DeleteScorer",
    "mlflow.DeletePromptOptimizationJob",
    "mlflow.review_queues.DeleteReviewQueue",
    "mlflow.DeleteRegisteredModel",
    "mlflow.DeleteModelVersion",
    # AI gateway set-up holds provider secrets and budgets: the workspace's owners manage it.
    "mlflow.CreateGatewaySecret",
    "mlflow.UpdateGatewaySecret",
    "mlflow.DeleteGatewaySecret",
    "mlflow.CreateGatewayEndpoint",
    "mlflow.UpdateGatewayEndpoint",
    "mlflow.DeleteGatewayEndpoint",
    "mlflow.CreateGatewayModelDefinition",
    "mlflow.UpdateGatewayModelDefinition",
    "mlflow.DeleteGatewayModelDefinition",
    "mlflow.AttachModelToGatewayEndpoint",
    "mlflow.DetachModelFromGatewayEndpoint",
    "mlflow.CreateGatewayEndpointBinding",
    "mlflow.DeleteGatewayEndpointBinding",
    "mlflow.SetGatewayEndpointTag",
    "mlflow.DeleteGatewayEndpointTag",
    "mlflow.CreateGatewayBudgetPolicy",
    "mlflow.UpdateGatewayBudgetPolicy",
    "mlflow.DeleteGatewayBudgetPolicy",
    "mlflow.CreateGatewayGuardrail",
    "mlflow.DeleteGatewayGuardrail",
    "mlflow.AddGuardrailToEndpoint",
    "mlflow.RemoveGuardrailFromEndpoint",
    "mlflow.UpdateEndpointGuardrailConfig",
    # The workspace itself
    "mlflow.UpdateWorkspace",
    "mlflow.DeleteWorkspace",
]


def _table() -> dict[str, Permission]:
    table: dict[str, Permission] = {}
    for permission, names in (
        (Permission.SERVER, _SERVER),
        (Permission.DIRECTORY, _DIRECTORY),
        (Permission.READ, _READ),
        (Permission.WRITE, _WRITE),
        (Permission.DELETE_OWN, _DELETE_OWN),
        (Permission.OWNER, _OWNER),
    ):
        for name in names:
            if name in table:
                raise ValueError(f"{name} is classified twice")
            table[name] = permission
    return table


RPC_PERMISSIONS: dict[str, Permission] = _table()


def permission_for(rpc_message: str) -> Permission:
    """The permission an RPC needs; an unclassified one is refused as owner-only (fail closed)."""
    return RPC_PERMISSIONS.get(rpc_message, Permission.OWNER)


def role_allows(role: str | None, permission: Permission) -> bool:
    if role is None:
        return False
    least = LEAST_ROLE.get(permission)
    return least is None or ROLE_RANK[Role(role)] >= ROLE_RANK[least]
