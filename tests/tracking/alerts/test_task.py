"""The beat task: one pass evaluates the rules and delivers what fired; on the schedule at the
interval the environment sets."""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from tracking.alerts.rules import RuleSpec, create_rule
from tracking.models import Alert
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, update_run
from tracking.tasks import evaluate_alerts


def test_the_task_fires_and_delivers_in_one_pass(default_workspace, receiver, private_webhooks):
    experiment = create_experiment(workspace=default_workspace, name="e")
    create_rule(experiment=experiment, spec=RuleSpec(name="f", kind="run_failed", webhook_url=receiver.url),
                created_by="")  # fmt: skip
    update_run(run=create_run(experiment=experiment), status="KILLED", end_time=timezone.now())
    evaluate_alerts()
    evaluate_alerts()
    assert Alert.objects.get().delivery_status == "delivered" and len(receiver.received) == 1


def test_it_is_on_the_beat_schedule_and_expires_rather_than_piling_up():
    entry = settings.CELERY_BEAT_SCHEDULE["alerts"]
    assert entry["task"] == "tracking.tasks.evaluate_alerts"
    assert entry["schedule"] == float(settings.ALERTS_EVERY_SECONDS) == entry["options"]["expires"]
