"""Studio's Python SDK: `Workspace.from_config()`, tracking tokens for MLflow, remote runs."""

from .auth import StudioRequestHeaderProvider, TokenSource
from .config import ConfigNotFound, find_config
from .errors import StudioError
from .jobs import Environment, Experiment, Run, ScriptRunConfig
from .workspace import Workspace

__all__ = [
    "ConfigNotFound",
    "Environment",
    "Experiment",
    "Run",
    "ScriptRunConfig",
    "StudioError",
    "StudioRequestHeaderProvider",
    "TokenSource",
    "Workspace",
    "find_config",
]
