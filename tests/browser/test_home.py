"""The home page in a real browser: workspaces with their tracking URIs and counts, and the
latest experiments and runs."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import ensure_default_workspace
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run


@pytest.fixture
def studio(deployed, make_workspace):
    workspace = ensure_default_workspace()
    experiment = create_experiment(workspace=workspace, name="experiment_with_mlflow")
    for _ in range(3):
        create_run(experiment=experiment)
    make_workspace("team-a", group="research")
    return deployed.url


def test_the_home_page_lists_workspaces_with_their_tracking_uris(page, studio, screenshot):
    page.goto(studio)

    expect(page.get_by_role("heading", name="Your ML workspaces")).to_be_visible()
    default_row = page.get_by_role("row").filter(has_text=f"{studio}")
    expect(default_row.first).to_contain_text("default")
    research = page.locator("article.card", has=page.get_by_role("heading", name="research"))
    expect(research.get_by_role("row").filter(has_text="team-a")).to_contain_text(f"{studio}/ws/team-a")
    recent = page.locator("section.recent")
    expect(recent.get_by_role("link", name="experiment_with_mlflow")).to_be_visible()
    expect(recent.locator("tbody tr")).to_have_count(1 + 2 + 3)  # Default experiments, and the runs
    screenshot(page, "home")
