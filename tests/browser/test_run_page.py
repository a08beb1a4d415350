"""A run's pages in a real browser: the Overview, charts drawn by plotly.js (traces counted on
the page), log scale, the description form, and the Compare page with its parallel coordinates."""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import expect

from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch, update_run

T0 = 1_764_500_000_000
TRACES = "() => Array.from(document.querySelectorAll('.chart-card')).map(c => c.querySelectorAll('.scatterlayer .trace').length)"


def log_history(run, curves: dict, steps: int) -> None:
    points = [
        MetricPoint(key, curve(i), T0 + i * 2000, i) for key, curve in curves.items() for i in range(steps)
    ]
    for start in range(0, len(points), 1000):
        log_batch(run=run, batch=Batch(metrics=points[start : start + 1000]))


@pytest.fixture
def studio(deployed):
    return deployed.url


@pytest.fixture
def experiment(studio):
    from tracking.models import Workspace

    return create_experiment(workspace=Workspace.objects.get(name="default"), name="cifar10-resnet")


@pytest.fixture
def run(experiment):
    run = create_run(
        experiment=experiment,
        run_name="resnet18-baseline",
        user_id="ada",
        tags=[("mlflow.source.name", "train.py"), ("mlflow.source.type", "LOCAL"), ("team", "vision")],
    )
    log_batch(
        run=run,
        batch=Batch(params=[("lr", "0.1"), ("batch_size", "128"), ("optimizer", "sgd"), ("epochs", "30")]),
    )
    # loss: 4,000 points with one spike (drawn downsampled, with a band); accuracy: 40 points.
    log_history(
        run,
        {"loss": lambda i: 2.3 / (1 + i / 250) + 0.04 * math.sin(i / 3) + (3.0 if i == 2500 else 0.0)},
        4000,
    )
    log_history(run, {"accuracy": lambda i: 0.95 - 0.85 / (1 + i / 6)}, 40)
    return run


@pytest.fixture
def compared(experiment):
    runs = []
    for index, (lr, optimizer) in enumerate([("0.1", "sgd"), ("0.03", "sgd"), ("0.01", "adam")]):
        run = create_run(experiment=experiment, run_name=f"trial-{index}", user_id="ada")
        log_batch(run=run, batch=Batch(params=[("lr", lr), ("optimizer", optimizer), ("batch_size", "128")]))
        scale = 1 + index * 0.35
        log_history(
            run,
            {
                "loss": lambda i, s=scale: 2.3 / (1 + i / (30 * s)) + 0.05 * math.sin(i * s),
                "val_accuracy": lambda i, s=scale: 0.9 - 0.8 / (1 + i / (25 * s)),
            },
            300,
        )
        update_run(run=run, status="FINISHED")
        runs.append(run)
    return runs


def test_the_overview_shows_params_and_metrics(page, studio, run, screenshot):
    page.goto(f"{studio}/ws/default/runs/{run.uuid}/")

    expect(page.get_by_role("heading", name="resnet18-baseline")).to_be_visible()
    expect(page.locator("#params-table")).to_contain_text("optimizer")
    expect(page.locator("#params-table")).to_contain_text("sgd")
    expect(page.locator("#metrics-table")).to_contain_text("loss")
    expect(page.locator("#metrics-table")).to_contain_text("accuracy")
    expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    assert page.evaluate("typeof window.Plotly") == "undefined"
    screenshot(page, "run-overview")


def test_the_description_is_edited_in_place(page, studio, run):
    page.goto(f"{studio}/ws/default/runs/{run.uuid}/")

    page.get_by_text("Add a description").click()
    page.get_by_role("textbox", name="Description").fill("Baseline for the LR sweep.\n<b>not bold</b>")
    page.get_by_role("button", name="Save description").click()

    expect(page.get_by_text("Description saved.")).to_be_visible()
    description = page.get_by_test_id("description")
    expect(description).to_contain_text("Baseline for the LR sweep.")
    expect(description).to_contain_text("<b>not bold</b>")


def test_the_metrics_tab_draws_a_chart_per_metric_and_toggles_log_scale(page, studio, run, screenshot):
    page.goto(f"{studio}/ws/default/runs/{run.uuid}/metrics/")
    page.wait_for_function("window.studioCharts && window.studioCharts.drawn >= 2")

    # accuracy: 40 points, one line; loss: 4,000 points in buckets, a min-max band and a line.
    assert page.evaluate(TRACES) == [1, 3]
    loss = page.locator(".chart-card", has_text="loss").locator(".chart")
    assert page.evaluate("(el) => Math.max(...el.data[1].y)", loss.element_handle()) > 3.0  # the spike
    expect(page.locator(".chart-card", has_text="loss").locator(".chart-note")).to_contain_text(
        "4,000 points"
    )

    page.get_by_label("Log scale").check()
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.chart')).every(el => el.layout.yaxis.type === 'log')"
    )
    page.get_by_label("Log scale").uncheck()
    page.wait_for_function(
        "Array.from(document.querySelectorAll('.chart')).every(el => el.layout.yaxis.type === 'linear')"
    )

    page.locator("#smoothing").fill("0.9")
    page.wait_for_function(
        "(() => { const el = document.querySelector('.chart-card .chart'); return el.data[0].y[1] !== 0.95 - 0.85 / (1 + 1 / 6); })()"
    )
    screenshot(page, "run-metrics")


def test_relative_time_refetches_the_charts(page, studio, run):
    page.goto(f"{studio}/ws/default/runs/{run.uuid}/metrics/")
    page.wait_for_function("window.studioCharts.drawn >= 2")

    page.get_by_text("Relative time").click()

    page.wait_for_function("window.studioCharts.drawn >= 4")
    assert page.evaluate("document.querySelector('.chart').layout.xaxis.title.text") == "Relative time (s)"
    assert (
        page.evaluate("Math.max(...document.querySelector('.chart').data[0].x)") == 78.0
    )  # 39 points, 2 s apart


def test_a_running_runs_charts_refresh(page, studio, run):
    page.clock.install()
    page.goto(f"{studio}/ws/default/runs/{run.uuid}/metrics/")
    page.wait_for_function("window.studioCharts.drawn >= 2")
    log_batch(run=run, batch=Batch(metrics=[MetricPoint("accuracy", 0.99, T0 + 100_000, 40)]))

    page.clock.run_for(11_000)

    page.wait_for_function("document.querySelector('.chart').data[0].x.length === 41")
    expect(page.locator("#live")).to_be_visible()


def test_compare_draws_one_trace_per_run_per_metric_and_parallel_coordinates(
    page, studio, compared, screenshot
):
    ids = ",".join(run.uuid for run in compared)
    page.goto(f"{studio}/ws/default/compare/?runs={ids}")
    page.wait_for_function("window.studioCharts && window.studioCharts.drawn >= 2")

    assert page.evaluate(TRACES) == [3, 3]
    names = page.evaluate("Array.from(document.querySelector('.chart').data).map(t => t.name)")
    assert names == ["trial-0", "trial-1", "trial-2"]
    page.wait_for_function("document.querySelector('#parcoords .parcoords') !== null")
    assert page.evaluate("document.getElementById('parcoords').data[0].type") == "parcoords"
    assert page.evaluate("document.getElementById('parcoords').data[0].dimensions.length") == 4

    same = page.locator("#compare-table tr.same").filter(has_text="batch_size")
    expect(same).to_be_visible()
    page.get_by_label("Differences only").check()
    expect(same).to_be_hidden()
    expect(page.locator("#compare-table tr.differs").filter(has_text="optimizer")).to_be_visible()
    page.get_by_label("Differences only").uncheck()
    screenshot(page, "compare")
