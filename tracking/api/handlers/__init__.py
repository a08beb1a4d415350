"""The MLflow RPC handlers; importing this package registers them with the router."""

from . import experiments, metrics, runs, server  # noqa: F401
