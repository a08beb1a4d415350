"""Tracking data: tenancy (resource groups, workspaces), experiments, runs and what runs log."""

from .alerts import Alert, AlertRule
from .assessments import Assessment
from .compute import ComputeTarget, WorkerHeartbeat
from .deletions import Deletion
from .environments import Environment
from .evaluation_datasets import (
    EvaluationDataset,
    EvaluationDatasetExperiment,
    EvaluationDatasetRecord,
    EvaluationDatasetTag,
)
from .experiment_keys import ExperimentKey
from .experiments import Experiment, ExperimentTag
from .gateway import (
    GatewayBudgetPolicy,
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayEndpointTag,
    GatewayModelDefinition,
    GatewaySecret,
)
from .imports import Import
from .issues import Issue, IssueCategory
from .jobs import Job
from .label_schemas import LabelSchema
from .logged_models import LoggedModel, LoggedModelMetric, LoggedModelParam, LoggedModelTag
from .metrics import Metric, MetricSummary
from .review_queues import ReviewQueue, ReviewQueueItem, ReviewQueueLabelSchema, ReviewQueueUser
from .runs import Dataset, Param, Run, RunInput, RunModelLink, RunTag
from .scorers import OnlineScoringConfig, Scorer, ScorerVersion
from .traces import PendingTraceRunLink, Span, Trace, TraceMetadata, TracePromptLink, TraceRunLink, TraceTag
from .workspaces import ResourceGroup, Workspace

__all__ = [
    "Alert",
    "AlertRule",
    "Assessment",
    "ComputeTarget",
    "Dataset",
    "Deletion",
    "Environment",
    "EvaluationDataset",
    "EvaluationDatasetExperiment",
    "EvaluationDatasetRecord",
    "EvaluationDatasetTag",
    "Experiment",
    "ExperimentKey",
    "ExperimentTag",
    "GatewayBudgetPolicy",
    "GatewayEndpoint",
    "GatewayEndpointBinding",
    "GatewayEndpointModelMapping",
    "GatewayEndpointTag",
    "GatewayModelDefinition",
    "GatewaySecret",
    "Import",
    "Issue",
    "IssueCategory",
    "Job",
    "LabelSchema",
    "LoggedModel",
    "LoggedModelMetric",
    "LoggedModelParam",
    "LoggedModelTag",
    "Metric",
    "MetricSummary",
    "OnlineScoringConfig",
    "Param",
    "PendingTraceRunLink",
    "ResourceGroup",
    "ReviewQueue",
    "ReviewQueueItem",
    "ReviewQueueLabelSchema",
    "ReviewQueueUser",
    "Run",
    "RunInput",
    "RunModelLink",
    "RunTag",
    "Scorer",
    "ScorerVersion",
    "Span",
    "Trace",
    "TraceMetadata",
    "TracePromptLink",
    "TraceRunLink",
    "TraceTag",
    "WorkerHeartbeat",
    "Workspace",
]
