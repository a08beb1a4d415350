"""Reading the AI gateway's configuration, always within one workspace.

Every look-up takes the workspace: an id from another workspace is not found, the same answer
as an id that never existed. Lists load their related rows in a fixed number of queries.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import Prefetch, QuerySet

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import (
    GatewayBudgetPolicy,
    GatewayEndpoint,
    GatewayEndpointBinding,
    GatewayEndpointModelMapping,
    GatewayModelDefinition,
    GatewaySecret,
    Workspace,
)
from tracking.search.paging import cut_page, decode_offset

MAX_RESULTS = 1000
DEFAULT_MAX_RESULTS = 1000


def _not_found(kind: str, **keys: str) -> ResourceDoesNotExist:
    described = ", ".join(f"{name}='{value}'" for name, value in keys.items())
    return ResourceDoesNotExist(f"{kind} not found ({described})")


def _one_of(first: str, first_value: str | None, second: str, second_value: str | None) -> None:
    if bool(first_value) == bool(second_value):
        raise InvalidParameterValue(f"Exactly one of {first} or {second} must be provided")


# --- Secrets ------------------------------------------------------------------------------------


def get_secret(workspace: Workspace, *, secret_id: str = "", name: str = "") -> GatewaySecret:
    if secret_id:
        found = GatewaySecret.objects.filter(workspace=workspace, secret_id=secret_id).first()
        if found is None:
            raise _not_found("GatewaySecret", secret_id=secret_id)
        return found
    found = GatewaySecret.objects.filter(workspace=workspace, name=name).first()
    if found is None:
        raise _not_found("GatewaySecret", secret_name=name)
    return found


def list_secrets(workspace: Workspace, *, provider: str = "") -> list[GatewaySecret]:
    secrets = GatewaySecret.objects.filter(workspace=workspace)
    if provider:
        secrets = secrets.filter(provider=provider)
    return list(secrets.order_by("created_at", "id"))


# --- Model definitions --------------------------------------------------------------------------


def _definitions(workspace: Workspace) -> QuerySet[GatewayModelDefinition]:
    return GatewayModelDefinition.objects.filter(workspace=workspace).select_related("secret")


def get_model_definition(
    workspace: Workspace, *, model_definition_id: str = "", name: str = ""
) -> GatewayModelDefinition:
    if model_definition_id:
        found = _definitions(workspace).filter(model_definition_id=model_definition_id).first()
        if found is None:
            raise _not_found("GatewayModelDefinition", model_definition_id=model_definition_id)
        return found
    found = _definitions(workspace).filter(name=name).first()
    if found is None:
        raise _not_found("GatewayModelDefinition", name=name)
    return found


def list_model_definitions(
    workspace: Workspace, *, provider: str = "", secret_id: str = ""
) -> list[GatewayModelDefinition]:
    definitions = _definitions(workspace)
    if provider:
        definitions = definitions.filter(provider=provider)
    if secret_id:
        definitions = definitions.filter(secret__secret_id=secret_id)
    return list(definitions.order_by("created_at", "id"))


def model_definitions_by_id(workspace: Workspace, ids: set[str]) -> dict[str, GatewayModelDefinition]:
    found = _definitions(workspace).filter(model_definition_id__in=ids)
    return {definition.model_definition_id: definition for definition in found}


# --- Endpoints ----------------------------------------------------------------------------------


def _endpoints(workspace: Workspace) -> QuerySet[GatewayEndpoint]:
    mappings = GatewayEndpointModelMapping.objects.select_related(
        "model_definition", "model_definition__secret"
    ).order_by("created_at", "id")
    return (
        GatewayEndpoint.objects.filter(workspace=workspace)
        .select_related("experiment")
        .prefetch_related(Prefetch("model_mappings", queryset=mappings), "tags")
    )


def get_endpoint(workspace: Workspace, *, endpoint_id: str = "", name: str = "") -> GatewayEndpoint:
    """The endpoint with its mappings, definitions and tags loaded."""
    _one_of("endpoint_id", endpoint_id, "name", name)
    if endpoint_id:
        found = _endpoints(workspace).filter(endpoint_id=endpoint_id).first()
        if found is None:
            raise _not_found("GatewayEndpoint", endpoint_id=endpoint_id)
        return found
    found = _endpoints(workspace).filter(name=name).first()
    if found is None:
        raise _not_found("GatewayEndpoint", name=name)
    return found


def endpoint_exists(workspace: Workspace, endpoint_id: str) -> bool:
    return GatewayEndpoint.objects.filter(workspace=workspace, endpoint_id=endpoint_id).exists()


def list_endpoints(workspace: Workspace, *, provider: str = "", secret_id: str = "") -> list[GatewayEndpoint]:
    endpoints = _endpoints(workspace)
    if provider:
        endpoints = endpoints.filter(model_mappings__model_definition__provider=provider)
    if secret_id:
        endpoints = endpoints.filter(model_mappings__model_definition__secret__secret_id=secret_id)
    return list(endpoints.distinct().order_by("created_at", "id"))


def list_bindings(
    workspace: Workspace, *, endpoint_id: str = "", resource_type: str = "", resource_id: str = ""
) -> list[GatewayEndpointBinding]:
    bindings = GatewayEndpointBinding.objects.filter(endpoint__workspace=workspace).select_related("endpoint")
    if endpoint_id:
        bindings = bindings.filter(endpoint__endpoint_id=endpoint_id)
    if resource_type:
        bindings = bindings.filter(resource_type=resource_type)
    if resource_id:
        bindings = bindings.filter(resource_id=resource_id)
    return list(bindings.order_by("created_at", "id"))


# --- Budgets ------------------------------------------------------------------------------------


def get_budget_policy(workspace: Workspace, budget_policy_id: str) -> GatewayBudgetPolicy:
    found = GatewayBudgetPolicy.objects.filter(workspace=workspace, budget_policy_id=budget_policy_id).first()
    if found is None:
        raise _not_found("BudgetPolicy", budget_policy_id=budget_policy_id)
    return found


def list_budget_policies(
    workspace: Workspace, *, max_results: int | None, page_token: str | None
) -> tuple[list[GatewayBudgetPolicy], str | None]:
    limit = max_results or DEFAULT_MAX_RESULTS
    if not 0 < limit <= MAX_RESULTS:
        raise InvalidParameterValue(
            f"Invalid value {limit} for parameter 'max_results' supplied. It must be at most {MAX_RESULTS}."
        )
    offset = decode_offset(page_token)
    rows = list(
        GatewayBudgetPolicy.objects.filter(workspace=workspace).order_by("budget_policy_id")[
            offset : offset + limit + 1
        ]
    )
    return cut_page(rows, offset, limit)


@dataclass(frozen=True)
class BudgetWindow:
    policy: GatewayBudgetPolicy
    start: datetime
    end: datetime
    spend: float


_FIXED_UNITS = {"MINUTES": timedelta(minutes=1), "HOURS": timedelta(hours=1), "DAYS": timedelta(days=1)}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Windows line up as MLflow's: weeks from Sunday 1969-12-28, months from January 1970.
_FIRST_SUNDAY = datetime(1969, 12, 28, tzinfo=UTC)


def _month_start(months_since_1970: int) -> datetime:
    return datetime(1970 + months_since_1970 // 12, months_since_1970 % 12 + 1, 1, tzinfo=UTC)


def budget_window(unit: str, value: int, now: datetime) -> tuple[datetime, datetime]:
    """The fixed window of `value` units that holds `now`: (start, end)."""
    if unit == "MONTHS":
        months = (now.year - 1970) * 12 + now.month - 1
        first = months - months % value
        return _month_start(first), _month_start(first + value)
    if unit == "WEEKS":
        origin, length = _FIRST_SUNDAY, timedelta(weeks=value)
    else:
        origin, length = _EPOCH, _FIXED_UNITS[unit] * value
    start = origin + ((now - origin) // length) * length
    return start, start + length


def budget_windows(workspace: Workspace, *, now: datetime) -> list[BudgetWindow]:
    """Each policy's current window. Spend is 0: this server forwards no requests to providers,
    so no gateway usage is recorded against a budget."""
    policies = GatewayBudgetPolicy.objects.filter(workspace=workspace).order_by("budget_policy_id")
    windows = []
    for policy in policies:
        start, end = budget_window(policy.duration_unit, policy.duration_value, now)
        windows.append(BudgetWindow(policy=policy, start=start, end=end, spend=0.0))
    return windows
