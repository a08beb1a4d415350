"""Deleting a resource group in a real browser, carried out by a real Celery worker: the start
page offers it, the confirmation shows the dry run and wakes up only once the name is typed,
and the progress page follows the worker to the end; nothing of the group is left."""

from __future__ import annotations

import io
from pathlib import Path

from django.conf import settings
from playwright.sync_api import expect

from tracking.models import Metric, ResourceGroup, Run, Workspace
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch
from tracking.services.workspaces import create_workspace


def test_a_resource_group_is_deleted_after_typing_its_name(page, deployed, screenshot):
    group = ResourceGroup.objects.create(name="churn-project")
    workspace = create_workspace(resource_group=group, name="churn-dev")
    experiment = create_experiment(workspace=workspace, name="churn-baseline")
    for index in range(5):
        run = create_run(experiment=experiment, run_name=f"trial-{index}")
        log_batch(
            run=run, batch=Batch(metrics=[MetricPoint("auc", 0.7 + i / 1000, 1, i) for i in range(200)])
        )
        save_artifact(
            workspace=workspace,
            path=f"{proxy_path(run.artifact_uri)}/model.pkl",
            stream=io.BytesIO(b"m" * 2048),
        )
    folder = Path(settings.ARTIFACT_ROOT) / f"workspaces/{workspace.pk}"
    assert folder.exists()

    page.goto(deployed.url + "/")
    group_card = page.locator("article.card", has=page.get_by_role("heading", name="churn-project"))
    group_card.get_by_role("link", name="Delete resource group…").click()

    expect(page.get_by_role("heading", name="Delete the resource group “churn-project”?")).to_be_visible()
    expect(page.locator("tr[data-key=runs] td.num")).to_have_text("5")
    expect(page.locator("tr[data-key=metric_points] td.num")).to_have_text("1000")
    button = page.get_by_role("button", name="Delete for good")
    expect(button).to_be_disabled()
    page.get_by_label("Type churn-project to confirm").fill("churn-projec")
    expect(button).to_be_disabled()
    page.get_by_label("Type churn-project to confirm").fill("churn-project")
    expect(button).to_be_enabled()
    screenshot(page, "delete-resource-group")
    button.click()

    expect(page.get_by_role("heading", name="Deleting the resource group “churn-project”")).to_be_visible()
    expect(page.locator("[data-field=status]")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("tr[data-key=runs] [data-done]")).to_have_text("5")
    expect(page.get_by_role("link", name="Back to the start page")).to_be_visible()
    screenshot(page, "deletion-progress")

    assert not ResourceGroup.objects.filter(name="churn-project").exists()
    assert not Workspace.objects.filter(name="churn-dev").exists()
    assert not Run.objects.filter(experiment__workspace_id=workspace.pk).exists()
    assert not Metric.objects.filter(run__experiment__workspace_id=workspace.pk).exists()
    assert not folder.exists()
