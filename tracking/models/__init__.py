"""Tracking data: tenancy (resource groups, workspaces), experiments, runs and what runs log."""

from .alerts import Alert, AlertRule
from .assessments import Assessment
from .compute import ComputeTarget, WorkerHeartbeat
from .deletions import Deletion
from .environments import Environment
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
from .jobs import Job
from .logged_models import LoggedModel, LoggedModelMetric, LoggedModelParam, LoggedModelTag
from .metrics import Metric, MetricSummary
from .runs import Dataset, Param, Run, RunInput, RunModelLink, RunTag
from .traces import Span, Trace, TraceMetadata, TracePromptLink, TraceRunLink, TraceTag
from .workspaces import ResourceGroup, Workspace

__all__ = [
    "Alert",
    "AlertRule",
    "Assessment",
    "ComputeTarget",
    "Dataset",
    "Deletion",
    "Environment",
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
    "Job",
    "LoggedModel",
    "LoggedModelMetric",
    "LoggedModelParam",
    "LoggedModelTag",
    "Metric",
    "MetricSummary",
    "Param",
    "ResourceGroup",
    "Run",
    "RunInput",
    "RunModelLink",
    "RunTag",
    "Span",
    "Trace",
    "TraceMetadata",
    "TracePromptLink",
    "TraceRunLink",
    "TraceTag",
    "WorkerHeartbeat",
    "Workspace",
]
