"""Budget policies: a spending cap per window, for the workspace, an endpoint or a user."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from tracking.errors import InvalidParameterValue
from tracking.models import (
    GatewayBudgetPolicy,
    Workspace,
)
from tracking.queries import gateway as queries

from .rows import fit, new_id

_TARGETED_SCOPES = ("ENDPOINT", "USER")


@dataclass(frozen=True)
class BudgetChange:
    budget_unit: str | None = None
    budget_amount: float | None = None
    duration_unit: str | None = None
    duration_value: int | None = None
    target_scope: str | None = None
    target_value: str | None = None  # None: not given; "" : given empty
    budget_action: str | None = None


def _check_target(workspace: Workspace, scope: str, target: str | None) -> str | None:
    if scope in _TARGETED_SCOPES:
        if not target:
            raise InvalidParameterValue(f"target_value is required when target_scope is {scope}.")
        if scope == "ENDPOINT":
            # A cap on an endpoint that does not exist (here) would never apply.
            queries.get_endpoint(workspace, endpoint_id=target)
        return target
    if target:
        raise InvalidParameterValue("target_value can only be set when target_scope is ENDPOINT or USER.")
    return None


def _check_duration(value: int | None) -> None:
    if value is not None and value <= 0:
        raise InvalidParameterValue(f"duration.value must be a positive integer, got {value}")


def create_budget_policy(
    *, workspace: Workspace, change: BudgetChange, created_by: str = ""
) -> GatewayBudgetPolicy:
    _check_duration(change.duration_value)
    target = _check_target(workspace, change.target_scope or "", change.target_value)
    now = timezone.now()
    policy = GatewayBudgetPolicy(
        workspace=workspace,
        budget_policy_id=new_id("bp"),
        budget_unit=change.budget_unit,
        budget_amount=change.budget_amount,
        duration_unit=change.duration_unit,
        duration_value=change.duration_value,
        target_scope=change.target_scope,
        target_value=target,
        budget_action=change.budget_action,
        created_at=now,
        updated_at=now,
        created_by=created_by,
        updated_by=created_by,
    )
    fit(policy)
    policy.save()
    return policy


def update_budget_policy(
    *, policy: GatewayBudgetPolicy, change: BudgetChange, updated_by: str = ""
) -> GatewayBudgetPolicy:
    _check_duration(change.duration_value)
    for field in ("budget_unit", "budget_amount", "duration_unit", "duration_value", "budget_action"):
        if (value := getattr(change, field)) is not None:
            setattr(policy, field, value)
    if change.target_scope is not None or change.target_value is not None:
        scope = change.target_scope or policy.target_scope
        # A target means something only within its scope: a new scope needs a new target.
        inherited = policy.target_value if scope == policy.target_scope else None
        target = change.target_value if change.target_value is not None else inherited
        policy.target_value = _check_target(policy.workspace, scope, target)
        policy.target_scope = scope
    policy.updated_at = timezone.now()
    if updated_by:
        policy.updated_by = updated_by
    fit(policy)
    policy.save()
    return policy


def delete_budget_policy(*, policy: GatewayBudgetPolicy) -> None:
    policy.delete()
