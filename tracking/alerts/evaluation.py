"""One pass over every enabled alert rule: what fired since the last pass becomes Alert rows.

1. The enabled rules of active experiments are read in one query, and the newest metric point's
   id once: the pass looks at points up to it.
2. Each rule finds its runs in one set-based query (never a query per run):
   - metric_threshold: the points of its metric logged since its watermark
     (`checked_metric_id`) whose value crosses the threshold, grouped by run. NaN (stored as
     NULL) never crosses; +inf is above and -inf below every threshold. The query looks back
     LOOKBACK_IDS ids before the watermark (never before `watch_from_metric_id`): on PostgreSQL a
     transaction that took its ids before the last pass may commit after it.
   - run_failed: runs of the experiment that are FAILED or KILLED, ended (or, with no end time,
     started) since the rule began watching, looking back from its last pass by an hour
     (the end time is the client's clock).
   - run_stalled: RUNNING runs whose latest activity — the newest latest-point timestamp of their
     metrics, else their start — is older than the rule's minutes, and which went silent while
     the rule was watching (a run abandoned last month is not news).
   Runs that already have an alert of the rule are left out by the same query.
3. The alerts are inserted in one INSERT that skips what exists: the unique (rule, run)
   constraint is the judge, so two workers evaluating at once fire each alert once.
4. The rules' watermarks advance, in two UPDATEs whatever the number of rules.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Max, Min, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from tracking.models import Alert, AlertRule, Metric, Run
from tracking.models.experiments import ACTIVE
from tracking.times import datetime_to_ms

LOOKBACK_IDS = 10_000
FAILED_LOOKBACK = timedelta(hours=1)
ENDED_BADLY = ("FAILED", "KILLED")
_CROSSES = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def _number(value: float) -> str:
    return f"{value:.6g}"


def _metric_crossings(rule: AlertRule, top: int) -> list[tuple[int, float, str]]:
    start = max(rule.checked_metric_id - LOOKBACK_IDS, rule.watch_from_metric_id)
    if top <= start:
        return []
    upward = rule.comparison.startswith(">")
    rows = (
        Metric.objects.filter(
            id__gt=start,
            id__lte=top,
            key=rule.metric_key,
            run__experiment_id=rule.experiment_id,
            run__lifecycle_stage=ACTIVE,
            **{f"value__{_CROSSES[rule.comparison]}": rule.threshold},
        )
        .exclude(run__alerts__rule=rule)
        .values("run_id", "run__name")
        .annotate(worst=Max("value") if upward else Min("value"))
    )
    return [
        (
            row["run_id"],
            row["worst"],
            f"{rule.metric_key} = {_number(row['worst'])} {rule.comparison} {_number(rule.threshold)} "
            f"in run {row['run__name'] or '(unnamed)'}",
        )
        for row in rows
    ]


def _failed_runs(rule: AlertRule) -> list[tuple[int, float | None, str]]:
    since = rule.watch_from
    if rule.checked_at is not None:
        since = max(since, rule.checked_at - FAILED_LOOKBACK)
    rows = (
        Run.objects.filter(experiment_id=rule.experiment_id, lifecycle_stage=ACTIVE, status__in=ENDED_BADLY)
        .alias(ended=Coalesce("end_time", "start_time"))
        .filter(ended__gte=since)
        .exclude(alerts__rule=rule)
        .values_list("pk", "name", "status")
    )
    return [(pk, None, f"run {name or '(unnamed)'} ended {status}") for pk, name, status in rows]


def _stalled_runs(rule: AlertRule, now: datetime) -> list[tuple[int, float | None, str]]:
    quiet = timedelta(minutes=rule.stall_minutes)
    cutoff = now - quiet
    # Silent since before the rule was watching, by more than its minutes: old news.
    floor = rule.watch_from - quiet
    rows = (
        Run.objects.filter(
            experiment_id=rule.experiment_id, lifecycle_stage=ACTIVE, status="RUNNING", start_time__lt=cutoff
        )
        .annotate(last_ms=Max("metric_summaries__timestamp"))
        .filter(Q(last_ms__isnull=True) | Q(last_ms__lt=datetime_to_ms(cutoff)))
        .filter(Q(start_time__gte=floor) | Q(last_ms__gte=datetime_to_ms(floor)))
        .exclude(alerts__rule=rule)
        .values_list("pk", "name")
    )
    return [
        (pk, None, f"run {name or '(unnamed)'} has logged no metric for {rule.stall_minutes} minutes")
        for pk, name in rows
    ]


def evaluate_rules(*, now: datetime | None = None) -> int:
    """Fires what the enabled rules see since their last pass; the number of alerts created."""
    now = now or timezone.now()
    rules = list(AlertRule.objects.filter(enabled=True, experiment__lifecycle_stage=ACTIVE).order_by("pk"))
    if not rules:
        return 0
    top = Metric.objects.aggregate(top=Max("id"))["top"] or 0
    fired: list[Alert] = []
    for rule in rules:
        if rule.kind == AlertRule.METRIC_THRESHOLD:
            found = _metric_crossings(rule, top)
        elif rule.kind == AlertRule.RUN_FAILED:
            found = _failed_runs(rule)
        else:
            found = _stalled_runs(rule, now)
        fired += [
            Alert(
                rule=rule,
                run_id=run_pk,
                kind=rule.kind,
                message=message[:1000],
                value=value,
                fired_at=now,
                delivery_status=Alert.PENDING if rule.webhook_url else Alert.NO_WEBHOOK,
                next_attempt_at=now if rule.webhook_url else None,
            )
            for run_pk, value, message in found
        ]
    if fired:
        Alert.objects.bulk_create(fired, ignore_conflicts=True, batch_size=500)
    pks = [rule.pk for rule in rules]
    AlertRule.objects.filter(pk__in=pks, enabled=True).update(checked_at=now)
    AlertRule.objects.filter(
        pk__in=pks, enabled=True, kind=AlertRule.METRIC_THRESHOLD, checked_metric_id__lt=top
    ).update(checked_metric_id=top)
    return Alert.objects.filter(fired_at=now).count() if fired else 0
