"""Changing the AI gateway's configuration: secrets, model definitions, endpoints, budgets.

Each function is one transaction. The objects passed in were looked up within the caller's
workspace (tracking.queries.gateway); references given by id are resolved within that same
workspace here, so nothing can point across workspaces. Secret values are sealed before they
reach the database and never leave this package in any form but their masked preview
(gateway.secrets). One module per noun; this one names them all and removes a workspace's whole set-up.
"""

from __future__ import annotations

from tracking.models import (
    GatewayBudgetPolicy,
    GatewayEndpoint,
    GatewayModelDefinition,
    GatewaySecret,
    Workspace,
)

from .budgets import BudgetChange, create_budget_policy, delete_budget_policy, update_budget_policy
from .endpoints import (
    LINKAGE_TYPES,
    FallbackConfig,
    ModelConfig,
    attach_model,
    create_binding,
    create_endpoint,
    delete_binding,
    delete_endpoint,
    delete_endpoint_tag,
    detach_model,
    set_endpoint_tag,
    update_endpoint,
)
from .model_definitions import create_model_definition, delete_model_definition, update_model_definition
from .secrets import (
    check_auth_config,
    create_secret,
    delete_secret,
    mask,
    open_secret,
    reseal_secrets,
    update_secret,
)

__all__ = [
    "LINKAGE_TYPES",
    "BudgetChange",
    "FallbackConfig",
    "ModelConfig",
    "attach_model",
    "check_auth_config",
    "create_binding",
    "create_budget_policy",
    "create_endpoint",
    "create_model_definition",
    "create_secret",
    "delete_binding",
    "delete_budget_policy",
    "delete_endpoint",
    "delete_endpoint_tag",
    "delete_model_definition",
    "delete_secret",
    "delete_workspace_gateway",
    "detach_model",
    "mask",
    "open_secret",
    "reseal_secrets",
    "set_endpoint_tag",
    "update_budget_policy",
    "update_endpoint",
    "update_model_definition",
    "update_secret",
]


def delete_workspace_gateway(*, workspace: Workspace) -> tuple[int, dict[str, int]]:
    """Removes the workspace's gateway set-up (for the workspace's purge): endpoints first, with
    their models' links, bindings and tags, so that no definition is still in use; what went."""
    total, by_model = 0, {}
    for rows in (
        GatewayEndpoint.objects.filter(workspace=workspace),
        GatewayModelDefinition.objects.filter(workspace=workspace),
        GatewaySecret.objects.filter(workspace=workspace),
        GatewayBudgetPolicy.objects.filter(workspace=workspace),
    ):
        deleted, counts = rows.delete()
        total += deleted
        by_model.update(counts)
    return total, by_model
