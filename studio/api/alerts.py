"""Alerts and alert rules of a workspace.

    GET    /api/studio/v1/workspaces/<ws>/alerts                  fired alerts, newest first (?page=)
    GET    /api/studio/v1/workspaces/<ws>/alert-rules             the rules
    POST   /api/studio/v1/workspaces/<ws>/alert-rules             {"experiment_id" | "experiment_name",
                                                                   "name", "kind", "metric_key"?,
                                                                   "comparison"?, "threshold"?,
                                                                   "stall_minutes"?, "webhook_url"?}: 201
    GET    /api/studio/v1/workspaces/<ws>/alert-rules/<id>        one rule
    PATCH  /api/studio/v1/workspaces/<ws>/alert-rules/<id>        {"enabled"?, "name"?, "webhook_url"?}
    DELETE /api/studio/v1/workspaces/<ws>/alert-rules/<id>        the rule and its alerts
    POST   /api/studio/v1/workspaces/<ws>/alert-rules/<id>/test   send a test alert now: its outcome

Readers see alerts and rules, webhook URLs masked; Contributors and Owners change rules and send
test alerts (the routes' default: READ to read, WRITE to change).
"""

from __future__ import annotations

from django.db import transaction
from rest_framework import serializers
from rest_framework.response import Response

from tracking.alerts.delivery import run_url, send_test_alert
from tracking.alerts.queries import alerts_page, workspace_rules
from tracking.alerts.rules import (
    RuleSpec,
    create_rule,
    delete_rule,
    get_rule,
    rename_rule,
    set_rule_enabled,
    set_rule_webhook,
    webhook_shown_to,
)
from tracking.errors import InvalidParameterValue
from tracking.models import Alert, AlertRule, Experiment, Workspace
from tracking.queries.experiments import get_experiment, get_experiment_by_name

from .endpoints import StudioEndpoint, created
from .workspaces import principal_of

MAX_PAGE = 10**6


def rule_json(rule: AlertRule, role: str | None) -> dict:
    return {
        "id": rule.pk,
        "name": rule.name,
        "experiment_id": rule.experiment.experiment_id,
        "experiment_name": rule.experiment.name,
        "kind": rule.kind,
        "metric_key": rule.metric_key or None,
        "comparison": rule.comparison or None,
        "threshold": rule.threshold,
        "stall_minutes": rule.stall_minutes,
        "webhook_url": webhook_shown_to(rule, role) or None,
        "enabled": rule.enabled,
        "created_by": rule.created_by,
        "created_at": rule.created_at.isoformat(),
        "checked_at": rule.checked_at.isoformat() if rule.checked_at else None,
        "tested_at": rule.tested_at.isoformat() if rule.tested_at else None,
        "test_outcome": rule.test_outcome or None,
        "fired": getattr(rule, "fired", None),
    }


def alert_json(alert: Alert, workspace: Workspace) -> dict:
    return {
        "id": alert.pk,
        "rule_id": alert.rule_id,
        "rule_name": alert.rule.name,
        "kind": alert.kind,
        "message": alert.message,
        "value": alert.value,
        "fired_at": alert.fired_at.isoformat(),
        "run_id": alert.run.uuid,
        "run_name": alert.run.name,
        "run_url": run_url(workspace.name, alert.run.uuid),
        "experiment_id": alert.rule.experiment.experiment_id,
        "experiment_name": alert.rule.experiment.name,
        "delivery": {
            "status": alert.delivery_status,
            "attempts": alert.attempts,
            "last_error": alert.last_error or None,
            "delivered_at": alert.delivered_at.isoformat() if alert.delivered_at else None,
        },
    }


def _role(request) -> str | None:
    return getattr(request._request, "workspace_role", None)


class PageSerializer(serializers.Serializer):
    page = serializers.IntegerField(required=False, default=1, min_value=1, max_value=MAX_PAGE)


class Alerts(StudioEndpoint):
    def get(self, request, workspace: Workspace) -> Response:
        page = self.valid(PageSerializer, request.query_params.dict())["page"]
        alerts, more = alerts_page(workspace, page)
        return Response(
            {
                "alerts": [alert_json(alert, workspace) for alert in alerts],
                "next_page": page + 1 if more else None,
            }
        )


class NewRule(serializers.Serializer):
    experiment_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=32)
    experiment_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    # The rule's own fields are checked by the domain (tracking.alerts.rules), one place for the
    # page's form and this API.
    name = serializers.JSONField(required=False, allow_null=True, default="")
    kind = serializers.JSONField(required=False, allow_null=True, default="")
    metric_key = serializers.JSONField(required=False, allow_null=True, default="")
    comparison = serializers.JSONField(required=False, allow_null=True, default="")
    threshold = serializers.JSONField(required=False, allow_null=True, default=None)
    stall_minutes = serializers.JSONField(required=False, allow_null=True, default=None)
    webhook_url = serializers.JSONField(required=False, allow_null=True, default="")


def _experiment(workspace: Workspace, fields: dict) -> Experiment:
    """The rule's experiment, by id or by name (never created: a rule watches what exists)."""
    experiment_id, name = fields["experiment_id"].strip(), fields["experiment_name"].strip()
    if bool(experiment_id) == bool(name):
        raise InvalidParameterValue("Name the rule's experiment by 'experiment_id' or by 'experiment_name'.")
    return (
        get_experiment(workspace, experiment_id) if experiment_id else get_experiment_by_name(workspace, name)
    )


class AlertRules(StudioEndpoint):
    def get(self, request, workspace: Workspace) -> Response:
        role = _role(request)
        return Response({"rules": [rule_json(rule, role) for rule in workspace_rules(workspace)]})

    def post(self, request, workspace: Workspace) -> Response:
        fields = self.valid(NewRule, request.data)
        experiment = _experiment(workspace, fields)
        spec = RuleSpec(**{name: fields[name] for name in RuleSpec.__dataclass_fields__})
        rule = create_rule(experiment=experiment, spec=spec, created_by=principal_of(request).username or "")
        return created(rule_json(rule, _role(request)), f"{request.path.rstrip('/')}/{rule.pk}")


class RuleChange(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    name = serializers.JSONField(required=False, allow_null=True)
    webhook_url = serializers.JSONField(required=False, allow_null=True)


class AlertRuleDetail(StudioEndpoint):
    def get(self, request, workspace: Workspace, rule_id: int) -> Response:
        return Response(rule_json(get_rule(workspace, rule_id), _role(request)))

    def patch(self, request, workspace: Workspace, rule_id: int) -> Response:
        rule = get_rule(workspace, rule_id)
        fields = self.valid(RuleChange, request.data)
        with transaction.atomic():
            if "name" in fields:
                rename_rule(rule=rule, name=fields["name"])
            if "webhook_url" in fields:
                set_rule_webhook(rule=rule, webhook_url=fields["webhook_url"] or "")
            if "enabled" in fields:
                set_rule_enabled(rule=rule, enabled=fields["enabled"])
        return Response(rule_json(rule, _role(request)))

    def delete(self, request, workspace: Workspace, rule_id: int) -> Response:
        delete_rule(rule=get_rule(workspace, rule_id))
        return Response(status=204)


class AlertRuleTest(StudioEndpoint):
    def post(self, request, workspace: Workspace, rule_id: int) -> Response:
        outcome = send_test_alert(rule=get_rule(workspace, rule_id))
        return Response({"delivered": outcome.delivered, "outcome": outcome.status})
