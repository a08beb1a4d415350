"""Saved views of an experiment's runs table in a real browser: save, open by link, make default,
replace, delete."""

from __future__ import annotations

import re
from urllib.parse import quote

from playwright.sync_api import expect

from tests.browser.test_experiments import studio  # noqa: F401 (the fixture)
from tests.tracking.queries.test_saved_views import mlflow_envelope
from tracking.models import Experiment
from tracking.queries.saved_views import VIEW_TAG_PREFIX
from tracking.services.experiments import set_experiment_tag

COLUMNS = ["params.lr", "params.optimizer", "metrics.accuracy", "max(metrics.val_accuracy)"]


def shown_columns(page) -> list[str]:
    return page.locator("#runs thead th.key").evaluate_all("(ths) => ths.map((th) => th.dataset.column)")


def open_menu(page):
    page.locator("#views-menu > summary").click()
    return page.locator("#views-menu .views-panel")


def test_one_saves_a_view_opens_it_by_link_makes_it_default_and_deletes_it(page, studio, screenshot):  # noqa: F811
    # A view MLflow's UI saved, grouped by a param, is listed beside ours.
    mnist = Experiment.objects.get(name="mnist-cnn")
    state = {
        "groupBy": {"aggregateFunction": "average", "groupByKeys": [{"mode": "param", "groupByData": "lr"}]}
    }
    set_experiment_tag(
        experiment=mnist,
        key=f"{VIEW_TAG_PREFIX}from-mlflow",
        value=mlflow_envelope("Learning rates (MLflow)", state),
    )
    query = "&".join(f"col={quote(column)}" for column in COLUMNS)
    page.goto(f"{studio}/ws/default/experiments/1/?sort=-metrics.accuracy&{query}")
    page.get_by_label("Filter runs (MLflow search syntax)").fill("params.optimizer = 'adam'")
    page.get_by_label("Filter runs (MLflow search syntax)").press("Enter")

    panel = open_menu(page)
    expect(panel.get_by_role("link", name="Learning rates (MLflow)")).to_be_visible()
    panel.get_by_label("Save view as").fill("Adam, best first")
    panel.get_by_role("button", name="Save view").click()
    expect(page.get_by_text("Saved the view “Adam, best first”")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?view=[0-9a-f]{32}$"))
    link = page.url

    # Its link opens the same table for anyone, from a fresh page.
    other = page.context.new_page()
    other.goto(link)
    assert shown_columns(other) == COLUMNS
    expect(other.locator("#views-menu > summary")).to_contain_text("Adam, best first")
    expect(other.get_by_label("Filter runs (MLflow search syntax)")).to_have_value(
        "params.optimizer = 'adam'"
    )
    accuracy = other.locator('#runs th[data-column="metrics.accuracy"]')
    expect(accuracy).to_have_attribute("aria-sort", "descending")
    other.close()

    # Made the default, it is what the experiment's page opens in.
    panel = open_menu(page)
    panel.locator("li", has_text="Adam, best first").get_by_role("button", name="Make default").click()
    expect(page.get_by_text("The experiment's page now opens in this view.")).to_be_visible()
    page.goto(f"{studio}/ws/default/experiments/1/")
    assert shown_columns(page) == COLUMNS
    panel = open_menu(page)
    expect(panel.locator("li", has_text="Adam, best first").locator(".default-badge")).to_be_visible()
    expect(panel.locator("li.active")).to_have_count(1)
    screenshot(page, "experiment-saved-views")

    # The MLflow view opens grouped.
    panel.get_by_role("link", name="Learning rates (MLflow)").click()
    expect(page.locator("#groups")).to_be_visible()
    expect(page.get_by_text(re.compile(r"runs in \d+ groups"))).to_be_visible()

    # Saving under a taken name asks before replacing.
    page.goto(f"{studio}/ws/default/experiments/1/?view=&col=params.lr")
    panel = open_menu(page)
    panel.get_by_label("Save view as").fill("adam, BEST first")
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Save view").click()
    expect(page.get_by_text("Saved the view “adam, BEST first”")).to_be_visible()
    assert shown_columns(page) == ["params.lr"]
    expect(open_menu(page).locator(".view-link")).to_have_count(2)

    # Deleted, after a confirmation; the page opens in the table's own defaults again.
    panel = page.locator("#views-menu .views-panel")
    page.once("dialog", lambda dialog: dialog.accept())
    panel.locator("li", has_text="adam, BEST first").get_by_role("button", name="Delete").click()
    expect(page.get_by_text("Deleted the view.")).to_be_visible()
    page.goto(f"{studio}/ws/default/experiments/1/")
    assert "params.batch_size" in shown_columns(page)
    expect(open_menu(page).locator(".view-link")).to_have_count(1)
