"""Delivering alerts to their rule's webhook, and the "send a test alert" of a rule.

An alert waiting for delivery is claimed by a conditional UPDATE (pending, or sending with an
expired lease, and due): the worker that updates the row sends it, any other finds nothing to
claim. A failure worth retrying (a timeout, a 5xx, a 429) is tried again after
ALERTS_WEBHOOK_RETRY_SECONDS, then twice that, up to ALERTS_WEBHOOK_ATTEMPTS attempts in all;
any other failure (a refused address, a 4xx, a redirect) ends it at once. A worker killed
between sending and recording may send an alert a second time after its lease: delivery is
at least once, and the page shows each alert once.

The message is Slack's incoming-webhook JSON: `text` (what every Slack-compatible receiver
shows), and `blocks` with the same text and a button to the run. User content (rule names, run
names, metric keys) is escaped as Slack asks (&, <, >), so a name cannot mention @channel or
forge a link.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tracking.models import Alert, AlertRule

from .webhooks import Outcome, post_json

BATCH = 50
ICONS = {AlertRule.METRIC_THRESHOLD: ":chart_with_upwards_trend:", AlertRule.RUN_FAILED: ":x:"}


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def run_url(workspace_name: str, run_uuid: str) -> str:
    return f"{settings.SERVER_URL}/ws/{workspace_name}/runs/{run_uuid}/"


def alerts_url(workspace_name: str) -> str:
    return f"{settings.SERVER_URL}/ws/{workspace_name}/alerts/"


def slack_message(*, rule: AlertRule, message: str, link: str, link_text: str) -> dict:
    icon = ICONS.get(rule.kind, ":hourglass:")
    experiment = rule.experiment
    line = f"{icon} *{slack_escape(rule.name)}*: {slack_escape(message)}"
    where = f"experiment {slack_escape(experiment.name)} in workspace {experiment.workspace.name}"
    return {
        "text": f"{line} ({where}) <{link}|{slack_escape(link_text)}>",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": line}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": where}]},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": link_text[:75]}, "url": link}
                ],
            },
        ],
    }


def alert_payload(alert: Alert) -> dict:
    workspace = alert.rule.experiment.workspace.name
    return slack_message(
        rule=alert.rule,
        message=alert.message,
        link=run_url(workspace, alert.run.uuid),
        link_text="Open the run",
    )


def _claim(alert_id: int, now: datetime) -> bool:
    lease = now + timedelta(seconds=settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS * 4 + 30)
    due = Q(delivery_status=Alert.PENDING) | Q(delivery_status=Alert.SENDING)
    claimed = Alert.objects.filter(due, pk=alert_id, next_attempt_at__lte=now).update(
        delivery_status=Alert.SENDING, next_attempt_at=lease
    )
    return claimed == 1


def _record(alert: Alert, outcome: Outcome, now: datetime) -> None:
    attempts = alert.attempts + 1
    changes: dict = {"attempts": attempts, "last_error": "" if outcome.delivered else outcome.status}
    if outcome.delivered:
        changes.update(delivery_status=Alert.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif outcome.retry and attempts < settings.ALERTS_WEBHOOK_ATTEMPTS:
        wait = settings.ALERTS_WEBHOOK_RETRY_SECONDS * 2 ** (attempts - 1)
        changes.update(delivery_status=Alert.PENDING, next_attempt_at=now + timedelta(seconds=wait))
    else:
        changes.update(delivery_status=Alert.FAILED, next_attempt_at=None)
    Alert.objects.filter(pk=alert.pk, delivery_status=Alert.SENDING).update(**changes)


def deliver_due(*, now: datetime | None = None, limit: int = BATCH) -> int:
    """Sends the alerts that are due (at most `limit`); the number delivered."""
    now = now or timezone.now()
    due = Q(delivery_status=Alert.PENDING) | Q(delivery_status=Alert.SENDING)
    candidates = list(
        Alert.objects.filter(due, next_attempt_at__lte=now)
        .select_related("rule__experiment__workspace", "run")
        .order_by("next_attempt_at")[:limit]
    )
    delivered = 0
    for alert in candidates:
        if not _claim(alert.pk, now):
            continue  # another worker has it
        if alert.rule.webhook_url:
            outcome = post_json(alert.rule.webhook_url, alert_payload(alert))
        else:
            outcome = Outcome(False, "the rule's webhook was removed")
        _record(alert, outcome, timezone.now())
        delivered += outcome.delivered
    return delivered


def send_test_alert(*, rule: AlertRule) -> Outcome:
    """Posts a test message to the rule's webhook at once, and records what it answered."""
    if not rule.webhook_url:
        outcome = Outcome(False, "this rule has no webhook; its alerts appear on the Alerts page only")
    else:
        workspace = rule.experiment.workspace.name
        payload = slack_message(
            rule=rule,
            message="a test alert from the studio (no run is concerned)",
            link=alerts_url(workspace),
            link_text="Open the alerts",
        )
        outcome = post_json(rule.webhook_url, payload)
    now = timezone.now()
    AlertRule.objects.filter(pk=rule.pk).update(tested_at=now, test_outcome=outcome.status[:300])
    rule.tested_at, rule.test_outcome = now, outcome.status[:300]
    return outcome
