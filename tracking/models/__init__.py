"""Tracking data: tenancy (resource groups, workspaces), experiments, runs and what runs log."""

from .experiments import Experiment, ExperimentTag
from .metrics import Metric, MetricSummary
from .runs import Dataset, Param, Run, RunInput, RunModelLink, RunTag
from .workspaces import ResourceGroup, Workspace

__all__ = [
    "Dataset",
    "Experiment",
    "ExperimentTag",
    "Metric",
    "MetricSummary",
    "Param",
    "ResourceGroup",
    "Run",
    "RunInput",
    "RunModelLink",
    "RunTag",
    "Workspace",
]
