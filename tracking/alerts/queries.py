"""What the Alerts page and the studio API list: a workspace's alerts, newest first, a page at a
time, and its rules; each in a fixed number of queries whatever the number of rows."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from tracking.models import Alert, AlertRule, Experiment, Workspace

PAGE_SIZE = 50


def workspace_alerts(workspace: Workspace) -> QuerySet[Alert]:
    return (
        Alert.objects.filter(rule__experiment__workspace=workspace)
        .select_related("rule__experiment", "run")
        .order_by("-fired_at", "-pk")
    )


def alerts_page(workspace: Workspace, page: int, size: int = PAGE_SIZE) -> tuple[list[Alert], bool]:
    """The alerts of page `page` (1-based), and whether a next page exists."""
    start = (page - 1) * size
    rows = list(workspace_alerts(workspace)[start : start + size + 1])
    return rows[:size], len(rows) > size


def workspace_rules(workspace: Workspace) -> list[AlertRule]:
    return list(
        AlertRule.objects.filter(experiment__workspace=workspace)
        .select_related("experiment")
        .annotate(fired=Count("alerts"))
        .order_by("experiment__name", "name", "pk")
    )


def experiment_alert_counts(experiment: Experiment) -> dict[str, int]:
    """How many rules watch the experiment and how many alerts they fired, in one query."""
    return AlertRule.objects.filter(experiment=experiment).aggregate(
        rules=Count("pk", distinct=True), fired=Count("alerts")
    )
