"""Studio pages: a workspace's Alerts — the alerts its rules fired (newest first, a page at a time,
each with its run's link and its webhook delivery), its rules, and for Contributors and Owners the
form that makes a rule and the buttons that enable, disable, test and delete one.

Every change is a POST that calls one domain function and comes back to the page (303) with a
message saying what happened; a test alert's message is the webhook's answer.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from studio.lookups import experiment_or_404
from studio.routing import workspace_route
from tracking.access.permissions import Permission, role_allows
from tracking.alerts.delivery import send_test_alert
from tracking.alerts.queries import alerts_page, workspace_rules
from tracking.alerts.rules import (
    COMPARISONS,
    RuleSpec,
    create_rule,
    delete_rule,
    get_rule,
    set_rule_enabled,
    webhook_shown_to,
)
from tracking.errors import MlflowError, ResourceDoesNotExist
from tracking.models import AlertRule, Experiment, Workspace
from tracking.models.experiments import ACTIVE

MAX_PAGE = 10**6
FORM_FIELDS = ("name", "kind", "metric_key", "comparison", "threshold", "stall_minutes", "webhook_url")


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return min(int(raw), MAX_PAGE) if raw.isdigit() and int(raw) >= 1 else 1


def _condition(rule: AlertRule) -> str:
    if rule.kind == AlertRule.METRIC_THRESHOLD:
        return f"{rule.metric_key} {rule.comparison} {rule.threshold:.6g}"
    if rule.kind == AlertRule.RUN_FAILED:
        return "ends FAILED or KILLED"
    return f"RUNNING, no metric for {rule.stall_minutes} min"


def _alerts_page(
    request: HttpRequest,
    workspace: Workspace,
    *,
    form: dict | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    role = getattr(request, "workspace_role", None)
    page = _page_number(request)
    alerts, more = alerts_page(workspace, page)
    rules = workspace_rules(workspace)
    for rule in rules:
        rule.condition = _condition(rule)
        rule.webhook_shown = webhook_shown_to(rule, role)
    experiments = Experiment.objects.filter(workspace=workspace, lifecycle_stage=ACTIVE).order_by("name")
    context = {
        "workspace": workspace,
        "area": "alerts",
        "alerts": alerts,
        "page": page,
        "next_page": page + 1 if more else None,
        "rules": rules,
        "may_change": role_allows(role, Permission.WRITE),
        "experiments": list(experiments.values_list("number", "name")),
        "kinds": AlertRule.KINDS,
        "comparisons": COMPARISONS,
        "form": form or {"kind": AlertRule.METRIC_THRESHOLD, "comparison": ">"},
        "error": error,
    }
    return render(request, "studio/alerts/list.html", context, status=status)


def _back(workspace: Workspace) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("alerts", args=[workspace.name]), status=303)


@require_GET
def alert_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    return _alerts_page(request, workspace)


@require_POST
def rule_create(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    form = {field: request.POST.get(field, "") for field in (*FORM_FIELDS, "experiment_id")}
    try:
        experiment = experiment_or_404(workspace, form["experiment_id"] or "-")
    except Http404:
        return _alerts_page(request, workspace, form=form, error="Choose the rule's experiment.", status=400)
    spec = RuleSpec(**{field: form[field] for field in FORM_FIELDS})
    principal = getattr(request, "principal", None)
    try:
        rule = create_rule(
            experiment=experiment, spec=spec, created_by=getattr(principal, "username", "") or ""
        )
    except MlflowError as refused:
        return _alerts_page(request, workspace, form=form, error=refused.message, status=refused.http_status)
    messages.success(request, f"Created the rule {rule.name}.")
    return _back(workspace)


def _rule_or_404(workspace: Workspace, rule_id: int) -> AlertRule:
    try:
        return get_rule(workspace, rule_id)
    except ResourceDoesNotExist:
        raise Http404(f"No alert rule {rule_id}") from None


@require_POST
def rule_enable(request: HttpRequest, workspace: Workspace, rule_id: int) -> HttpResponse:
    rule = _rule_or_404(workspace, rule_id)
    enabled = request.POST.get("enabled") == "true"
    set_rule_enabled(rule=rule, enabled=enabled)
    messages.success(request, f"{'Enabled' if enabled else 'Disabled'} the rule {rule.name}.")
    return _back(workspace)


@require_POST
def rule_test(request: HttpRequest, workspace: Workspace, rule_id: int) -> HttpResponse:
    rule = _rule_or_404(workspace, rule_id)
    outcome = send_test_alert(rule=rule)
    if outcome.delivered:
        messages.success(request, f"Test alert of {rule.name} delivered: {outcome.status}.")
    else:
        messages.error(request, f"Test alert of {rule.name} not delivered: {outcome.status}.")
    return _back(workspace)


@require_POST
def rule_delete(request: HttpRequest, workspace: Workspace, rule_id: int) -> HttpResponse:
    rule = _rule_or_404(workspace, rule_id)
    delete_rule(rule=rule)
    messages.success(request, f"Deleted the rule {rule.name} and its alerts.")
    return _back(workspace)


_RULE = "ws/<slug:workspace>/alerts/rules/<id:rule_id>/"
urlpatterns = [
    workspace_route("ws/<slug:workspace>/alerts/", alert_list, name="alerts"),
    workspace_route("ws/<slug:workspace>/alerts/rules/", rule_create, name="alert-rule-create"),
    workspace_route(f"{_RULE}enable", rule_enable, name="alert-rule-enable"),
    workspace_route(f"{_RULE}test", rule_test, name="alert-rule-test"),
    workspace_route(f"{_RULE}delete", rule_delete, name="alert-rule-delete"),
]
