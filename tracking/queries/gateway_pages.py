"""What the studio's AI gateway page reads: a workspace's endpoints with their models, fallbacks
and bindings, its model definitions, its secrets (their masked previews only: the page never
opens a secret), and its budget policies with their current windows.

Seven queries whatever the number of rows: endpoints, their model mappings and tags (prefetched),
bindings, the scorers those bind, definitions, secrets, budgets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from tracking.models import (
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayModelDefinition,
    GatewaySecret,
    Scorer,
    Workspace,
)

from .gateway import (
    BudgetWindow,
    budget_windows,
    list_bindings,
    list_endpoints,
    list_model_definitions,
    list_secrets,
)


@dataclass(slots=True)
class EndpointView:
    endpoint: GatewayEndpoint
    primary: list[GatewayEndpointModelMapping] = field(default_factory=list)
    fallbacks: list[GatewayEndpointModelMapping] = field(default_factory=list)  # in fallback order
    bindings: list[tuple[GatewayEndpointBinding, Scorer | None]] = field(default_factory=list)


@dataclass(slots=True)
class GatewayOverview:
    endpoints: list[EndpointView]
    definitions: list[tuple[GatewayModelDefinition, int]]  # with the number of endpoints using each
    secrets: list[GatewaySecret]
    budgets: list[tuple[BudgetWindow, str]]  # with what the policy applies to, as people read it


def gateway_overview(workspace: Workspace, *, now: datetime) -> GatewayOverview:
    endpoints = {endpoint.pk: EndpointView(endpoint) for endpoint in list_endpoints(workspace)}
    uses: dict[int, set[int]] = {}
    for view in endpoints.values():
        for mapping in view.endpoint.model_mappings.all():
            uses.setdefault(mapping.model_definition_id, set()).add(view.endpoint.pk)
            (view.fallbacks if mapping.linkage_type == "FALLBACK" else view.primary).append(mapping)
        view.fallbacks.sort(key=lambda mapping: (mapping.fallback_order is None, mapping.fallback_order or 0))
    bindings = list_bindings(workspace)
    scorer_ids = {binding.resource_id for binding in bindings if binding.resource_type == "scorer"}
    scorers = (
        {
            scorer.scorer_id: scorer
            for scorer in Scorer.objects.filter(
                scorer_id__in=scorer_ids, experiment__workspace=workspace
            ).select_related("experiment")
        }
        if scorer_ids
        else {}
    )
    for binding in bindings:
        endpoints[binding.endpoint_id].bindings.append((binding, scorers.get(binding.resource_id)))
    names = {view.endpoint.endpoint_id: view.endpoint.name for view in endpoints.values()}
    return GatewayOverview(
        endpoints=list(endpoints.values()),
        definitions=[
            (definition, len(uses.get(definition.pk, ()))) for definition in list_model_definitions(workspace)
        ],
        secrets=list_secrets(workspace),
        budgets=[(window, _target(window, names)) for window in budget_windows(workspace, now=now)],
    )


def _target(window: BudgetWindow, endpoint_names: dict[str, str]) -> str:
    policy = window.policy
    if policy.target_scope == "ENDPOINT":
        return f"Endpoint {endpoint_names.get(policy.target_value or '', policy.target_value)}"
    if policy.target_scope == "USER":
        return f"User {policy.target_value}"
    return "Whole workspace"
