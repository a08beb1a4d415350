"""Alerts: rules an experiment's runs are watched by, and the alerts they fired (each once per run).

A rule is a row first: the worker's periodic pass (`tracking.alerts.evaluation`) reads every
enabled rule, keeps on the rule how far it has looked (`checked_metric_id`, `checked_at`), and
fires an Alert row per (rule, run) at most once — the unique constraint decides, so two workers
evaluating at the same time never fire twice. An alert's webhook delivery is claimed and retried
on its row (`tracking.alerts.delivery`).
"""

from __future__ import annotations

from django.db import models

from .experiments import Experiment
from .runs import Run


class AlertRule(models.Model):
    METRIC_THRESHOLD = "metric_threshold"
    RUN_FAILED = "run_failed"
    RUN_STALLED = "run_stalled"
    KINDS = [
        (METRIC_THRESHOLD, "a metric crosses a threshold"),
        (RUN_FAILED, "a run ends FAILED or KILLED"),
        (RUN_STALLED, "a running run logs nothing for a while"),
    ]
    COMPARISONS = [(">", ">"), (">=", ">="), ("<", "<"), ("<=", "<=")]

    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=KINDS)
    metric_key = models.CharField(max_length=250, blank=True, default="")
    comparison = models.CharField(max_length=2, choices=COMPARISONS, blank=True, default="")
    threshold = models.FloatField(null=True)
    stall_minutes = models.PositiveIntegerField(null=True)
    # Optional: without one, alerts only appear on the Alerts page. A secret (it often carries a
    # token in its path): only Contributors and Owners see it whole.
    webhook_url = models.CharField(max_length=2000, blank=True, default="")
    enabled = models.BooleanField(default=True)
    created_by = models.CharField(max_length=256, blank=True, default="")
    created_at = models.DateTimeField()
    # What the rule watches starts when it is created or enabled again: metric points after this
    # id, runs that ended or went silent after this time (no alerts for the past).
    watch_from_metric_id = models.BigIntegerField(default=0)
    watch_from = models.DateTimeField()
    # How far the evaluation has looked: metric points up to this id, and its last pass's time.
    checked_metric_id = models.BigIntegerField(default=0)
    checked_at = models.DateTimeField(null=True)
    # The last "send a test alert": when, and what the webhook answered.
    tested_at = models.DateTimeField(null=True)
    test_outcome = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["enabled", "kind"], name="alert_rule_enabled_kind")]

    def __str__(self) -> str:
        return f"alert rule {self.pk}: {self.name}"


class Alert(models.Model):
    """A rule fired for a run; delivered to the rule's webhook at most once successfully."""

    NO_WEBHOOK = "none"
    PENDING = "pending"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"
    DELIVERY_STATUSES = [(s, s) for s in (NO_WEBHOOK, PENDING, SENDING, DELIVERED, FAILED)]

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=16, choices=AlertRule.KINDS)
    message = models.CharField(max_length=1000)
    value = models.FloatField(null=True)
    fired_at = models.DateTimeField()
    delivery_status = models.CharField(max_length=9, choices=DELIVERY_STATUSES, default=NO_WEBHOOK)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True)
    delivered_at = models.DateTimeField(null=True)
    # A short status of the last attempt ("HTTP 500", "timed out"), never the response's body.
    last_error = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "run"], name="alert_once_per_rule_and_run")]
        indexes = [
            models.Index(fields=["delivery_status", "next_attempt_at"], name="alert_delivery_due"),
            models.Index(fields=["fired_at"], name="alert_fired_at"),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk}: {self.message}"
