"""Alerts in a real browser: a rule made with the form, a test alert sent to a local webhook, and
the alerts the server's worker fires, each with its run's link."""

from __future__ import annotations

import re

from django.utils import timezone
from playwright.sync_api import expect

from tests.deployed import wait_for
from tests.tracking.alerts.receiver import Receiver
from tracking.models import Alert
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint, record_points
from tracking.services.runs import create_run, update_run
from tracking.times import datetime_to_ms


def test_a_rule_made_in_the_page_fires_with_a_link_to_its_run(
    page, deployed_server, default_workspace, screenshot
):
    server = deployed_server(STUDIO_ALERTS_EVERY_SECONDS="1")
    experiment = create_experiment(workspace=default_workspace, name="image-classifier")
    receiver = Receiver()
    try:
        page.goto(f"{server.url}/ws/default/")
        page.get_by_role("link", name="Alerts", exact=True).click()
        expect(page.get_by_text("No alerts yet.")).to_be_visible()

        page.get_by_label("Name").fill("Validation loss diverges")
        page.get_by_label("Experiment").select_option(label="image-classifier")
        page.get_by_label("Fires when").select_option("metric_threshold")
        expect(page.get_by_label("Minutes without a metric")).to_be_hidden()
        page.get_by_label("Metric", exact=True).fill("val_loss")
        page.get_by_label("Comparison").select_option(">")
        page.get_by_label("Threshold").fill("2.5")
        page.get_by_label("Webhook URL").fill(receiver.url)
        page.get_by_role("button", name="Create the rule").click()
        expect(page.get_by_role("status")).to_have_text("Created the rule Validation loss diverges.")

        page.get_by_label("Name").fill("Runs that crash")
        page.get_by_label("Experiment").select_option(label="image-classifier")
        page.get_by_label("Fires when").select_option("run_failed")
        expect(page.get_by_label("Metric", exact=True)).to_be_hidden()
        page.get_by_label("Webhook URL").fill(receiver.url)
        page.get_by_role("button", name="Create the rule").click()

        page.get_by_label("Name").fill("Silent for 30 minutes")
        page.get_by_label("Experiment").select_option(label="image-classifier")
        page.get_by_label("Fires when").select_option("run_stalled")
        page.get_by_label("Minutes without a metric").fill("30")
        page.get_by_role("button", name="Create the rule").click()
        expect(page.locator("tr[data-rule]")).to_have_count(3)

        rule_row = page.locator("tr[data-rule]", has_text="Validation loss diverges")
        rule_row.get_by_role("button", name="Send a test alert").click()
        expect(page.get_by_role("status")).to_have_text(
            "Test alert of Validation loss diverges delivered: HTTP 200."
        )
        assert "a test alert" in receiver.texts()[0]

        now = timezone.now()
        diverging = create_run(experiment=experiment, run_name="resnet50-lr0.1")
        record_points(diverging, [MetricPoint("val_loss", v, datetime_to_ms(now), i)
                                     for i, v in enumerate([1.9, 2.2, 3.7])])  # fmt: skip
        healthy = create_run(experiment=experiment, run_name="resnet50-lr0.001")
        record_points(healthy, [MetricPoint("val_loss", 1.1, datetime_to_ms(now), 0)])
        for name, status in (("vit-b16-bs512", "FAILED"), ("vit-b16-bs256", "KILLED")):
            update_run(run=create_run(experiment=experiment, run_name=name), status=status, end_time=now)
        wait_for(lambda: Alert.objects.filter(delivery_status="delivered").count() == 3, 30,
                 lambda: f"three delivered alerts ({server.log_tail()})")  # fmt: skip

        page.reload()
        expect(page.locator("tr[data-alert]")).to_have_count(3)
        fired = page.locator("tr[data-alert]", has_text="val_loss = 3.7 > 2.5")
        expect(fired.locator('[data-field="delivery"]')).to_have_text("delivered")
        expect(page.locator("tr[data-alert]", has_text="resnet50-lr0.001")).to_have_count(0)
        screenshot(page, "alerts")

        fired.get_by_role("link", name="resnet50-lr0.1").click()
        expect(page).to_have_url(re.compile(rf"/ws/default/runs/{diverging.uuid}/$"))
        assert len(receiver.received) == 4
    finally:
        receiver.close()
