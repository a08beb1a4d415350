"""Alert rules: creating, enabling, disabling and deleting them, each checked before anything is
written. Who may call these is decided by the route (Contributors and Owners)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from tracking.access.permissions import Permission, role_allows
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import AlertRule, Experiment, Metric, Workspace

from .webhooks import check_url, masked

KINDS = [kind for kind, _ in AlertRule.KINDS]
COMPARISONS = [comparison for comparison, _ in AlertRule.COMPARISONS]
MAX_NAME = 200
MAX_KEY = 250
MAX_STALL_MINUTES = 7 * 24 * 60
# What a rule may name (1e300 and such are allowed; NaN and infinities are not thresholds).
MAX_THRESHOLD = 1e300


@dataclass(frozen=True)
class RuleSpec:
    """What a rule watches, as a form or the API gives it (checked by `checked_spec`)."""

    name: str
    kind: str
    metric_key: str = ""
    comparison: str = ""
    threshold: object = None
    stall_minutes: object = None
    webhook_url: str = ""


def _text(value: object, field: str, max_length: int, *, required: bool) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidParameterValue(f"'{field}' must be a string.")
    value = value.strip()
    if required and not value:
        raise InvalidParameterValue(f"'{field}' is required.")
    if len(value) > max_length:
        raise InvalidParameterValue(f"'{field}' is longer than {max_length} characters.")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidParameterValue(f"'{field}' may not contain control characters.")
    return value


def _number(value: object, field: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip()[:400])
        except ValueError:
            raise InvalidParameterValue(f"'{field}' must be a number, not {value[:40]!r}.") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidParameterValue(f"'{field}' must be a number.")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond any float
        value = math.inf
    if not math.isfinite(value) or abs(value) > MAX_THRESHOLD:
        raise InvalidParameterValue(f"'{field}' must be a finite number (at most {MAX_THRESHOLD:g} in size).")
    return value


def _minutes(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) <= 9:
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_STALL_MINUTES:
        raise InvalidParameterValue(
            f"'stall_minutes' must be a whole number of minutes from 1 to {MAX_STALL_MINUTES}."
        )
    return value


def checked_spec(spec: RuleSpec) -> dict:
    """The rule's fields, checked; INVALID_PARAMETER_VALUE naming the first field that is wrong."""
    kind = spec.kind if isinstance(spec.kind, str) else ""
    if kind not in KINDS:
        raise InvalidParameterValue(f"'kind' must be one of {', '.join(KINDS)}.")
    fields = {
        "name": _text(spec.name, "name", MAX_NAME, required=True),
        "kind": kind,
        "metric_key": "",
        "comparison": "",
        "threshold": None,
        "stall_minutes": None,
        "webhook_url": check_url(_text(spec.webhook_url, "webhook_url", 2000, required=False))
        if spec.webhook_url
        else "",
    }
    if kind == AlertRule.METRIC_THRESHOLD:
        fields["metric_key"] = _text(spec.metric_key, "metric_key", MAX_KEY, required=True)
        if spec.comparison not in COMPARISONS:
            raise InvalidParameterValue(f"'comparison' must be one of {' '.join(COMPARISONS)}.")
        fields["comparison"] = spec.comparison
        if spec.threshold is None or spec.threshold == "":
            raise InvalidParameterValue("'threshold' is required for a metric threshold.")
        fields["threshold"] = _number(spec.threshold, "threshold")
    elif kind == AlertRule.RUN_STALLED:
        fields["stall_minutes"] = _minutes(spec.stall_minutes)
    return fields


def _latest_metric_id() -> int:
    return Metric.objects.aggregate(top=Max("id"))["top"] or 0


def create_rule(*, experiment: Experiment, spec: RuleSpec, created_by: str) -> AlertRule:
    """A new rule; it watches what happens from now on (runs that failed before do not fire)."""
    if not experiment.is_active:
        raise InvalidParameterValue(f"Experiment '{experiment.name}' is deleted; restore it first.")
    fields = checked_spec(spec)
    now = timezone.now()
    top = _latest_metric_id()
    return AlertRule.objects.create(
        experiment=experiment,
        created_by=created_by[:256],
        created_at=now,
        watch_from=now,
        watch_from_metric_id=top,
        checked_metric_id=top,
        **fields,
    )


def get_rule(workspace: Workspace, rule_id: int) -> AlertRule:
    """The rule with this id in this workspace, or RESOURCE_DOES_NOT_EXIST."""
    rule = (
        AlertRule.objects.filter(pk=rule_id, experiment__workspace=workspace)
        .select_related("experiment__workspace")
        .first()
    )
    if rule is None:
        raise ResourceDoesNotExist(f"Alert rule {rule_id} does not exist in workspace '{workspace.name}'.")
    return rule


def set_rule_enabled(*, rule: AlertRule, enabled: bool) -> AlertRule:
    """Enables or disables the rule. Enabled again, it watches from now on: what happened while it
    was off stays quiet, as it would have with no rule."""
    if enabled == rule.enabled:
        return rule
    changes: dict = {"enabled": enabled}
    if enabled:
        now = timezone.now()
        top = _latest_metric_id()
        changes.update(watch_from=now, watch_from_metric_id=top, checked_metric_id=top, checked_at=None)
    AlertRule.objects.filter(pk=rule.pk).update(**changes)
    for field, value in changes.items():
        setattr(rule, field, value)
    return rule


def rename_rule(*, rule: AlertRule, name: str) -> AlertRule:
    rule.name = _text(name, "name", MAX_NAME, required=True)
    AlertRule.objects.filter(pk=rule.pk).update(name=rule.name)
    return rule


def set_rule_webhook(*, rule: AlertRule, webhook_url: str) -> AlertRule:
    rule.webhook_url = (
        check_url(_text(webhook_url, "webhook_url", 2000, required=False)) if webhook_url else ""
    )
    AlertRule.objects.filter(pk=rule.pk).update(webhook_url=rule.webhook_url)
    return rule


def delete_rule(*, rule: AlertRule) -> None:
    """The rule and the alerts it fired."""
    with transaction.atomic():
        AlertRule.objects.filter(pk=rule.pk).delete()


def webhook_shown_to(rule: AlertRule, role: str | None) -> str:
    """The rule's webhook URL as this role may see it: whole for those who may change rules
    (Contributors, Owners), scheme and host only for Readers (its path often holds a token)."""
    return rule.webhook_url if role_allows(role, Permission.WRITE) else masked(rule.webhook_url)
