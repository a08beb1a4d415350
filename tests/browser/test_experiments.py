"""The experiments list and an experiment's runs table in a real browser."""

from __future__ import annotations

import math
import random
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from tests.conftest import ensure_default_workspace
from tracking.models import Experiment
from tracking.services.experiments import create_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch, update_run

NOW = datetime.now(UTC).replace(second=0, microsecond=0)


def log_training(
    experiment, name, *, lr, batch_size, optimizer, start, minutes, parent=None, status="FINISHED"
):
    """A run with params and ten epochs of metrics, shaped like a real training curve."""
    rng = random.Random(name)
    tags = [("mlflow.user", "alice")]
    if parent is not None:
        tags.append(("mlflow.parentRunId", parent.uuid))
    run = create_run(
        experiment=experiment,
        run_name=name,
        user_id=rng.choice(["alice", "bob", "chen"]),
        start_time=start,
        tags=tags,
    )
    quality = 1 - abs(math.log10(lr) + 2.5) / 4 + (0.02 if optimizer == "adam" else 0)
    points = []
    for epoch in range(10):
        progress = 1 - math.exp(-(epoch + 1) / 3)
        acc = min(0.995, 0.55 + 0.42 * quality * progress + rng.uniform(-0.01, 0.01))
        loss = 1.8 * (1 - progress * quality) + rng.uniform(0, 0.05)
        timestamp = int(start.timestamp() * 1000) + epoch * 1000
        points += [
            MetricPoint("accuracy", acc, timestamp, epoch),
            MetricPoint("loss", loss, timestamp, epoch),
            MetricPoint("val_accuracy", acc - rng.uniform(0.005, 0.03), timestamp, epoch),
            MetricPoint("val_loss", loss + rng.uniform(0.02, 0.1), timestamp, epoch),
        ]
    params = [("lr", str(lr)), ("batch_size", str(batch_size)), ("optimizer", optimizer), ("epochs", "10")]
    log_batch(run=run, batch=Batch(metrics=points, params=params))
    end = None if status == "RUNNING" else start + timedelta(minutes=minutes, seconds=rng.randint(0, 59))
    update_run(run=run, status=status, end_time=end)
    return run


def populate() -> None:
    workspace = ensure_default_workspace()
    mnist = create_experiment(
        workspace=workspace, name="mnist-cnn", tags=[("team", "vision"), ("dataset", "mnist-v2")]
    )
    cifar = create_experiment(workspace=workspace, name="cifar10-resnet", tags=[("team", "vision")])
    fraud = create_experiment(workspace=workspace, name="fraud-detection-xgboost", tags=[("team", "risk")])
    demo = create_experiment(
        workspace=workspace, name="<b>escaped</b> demo", tags=[("note", "<script>x</script>")]
    )
    # As if made over the last weeks: the list's "last activity" comes from these and the runs.
    for experiment, days in ((mnist, 14), (cifar, 9), (fraud, 21), (demo, 30)):
        moment = NOW - timedelta(days=days)
        Experiment.objects.filter(pk=experiment.pk).update(created_at=moment, updated_at=moment)
    Experiment.objects.filter(workspace=workspace, number=0).update(
        created_at=NOW - timedelta(days=60), updated_at=NOW - timedelta(days=60)
    )
    create_run(experiment=fraud, run_name="baseline", start_time=NOW - timedelta(days=3))
    start = NOW - timedelta(days=2)
    grid = [(lr, bs, opt) for lr in (0.1, 0.01, 0.003, 0.001) for bs in (32, 64) for opt in ("adam", "sgd")]
    for i, (lr, batch_size, optimizer) in enumerate(grid):
        log_training(
            mnist,
            f"{optimizer}-lr{lr}-bs{batch_size}",
            lr=lr,
            batch_size=batch_size,
            optimizer=optimizer,
            start=start + timedelta(minutes=20 * i),
            minutes=8 + i % 5,
            status="FAILED" if i == 5 else "FINISHED",
        )
    for s in range(2):
        sweep_start = NOW - timedelta(hours=6 - 3 * s)
        sweep = log_training(
            mnist, f"sweep-{s + 1}", lr=0.003, batch_size=64, optimizer="adam", start=sweep_start, minutes=45
        )
        for t in range(6 if s == 0 else 4):
            log_training(
                mnist,
                f"sweep-{s + 1}-trial-{t + 1}",
                lr=[0.0005, 0.001, 0.002, 0.004, 0.006, 0.008][t],
                batch_size=64,
                optimizer="adam",
                start=sweep_start + timedelta(minutes=5 * t),
                minutes=6,
                parent=sweep,
                status="RUNNING" if s == 1 and t == 3 else "FINISHED",
            )


@pytest.fixture
def studio(deployed):
    populate()
    return deployed.url


def metric_values(page, column: str) -> list[float]:
    index = page.locator("#runs thead tr:not(.groups) th").evaluate_all(
        f"(ths) => ths.findIndex((th) => th.dataset.column === {column!r})"
    )
    texts = page.locator(f"#runs tbody tr:not(.child) td:nth-child({index + 1})").all_inner_texts()
    return [float(text) for text in texts if text != "—"]


def test_one_searches_experiments_and_opens_one(page, studio, screenshot):
    page.goto(f"{studio}/ws/default/")

    expect(page.get_by_role("heading", name="Experiments")).to_be_visible()
    expect(page.get_by_role("link", name="<b>escaped</b> demo")).to_be_visible()
    screenshot(page, "experiments")

    page.get_by_label("Search experiments by name").fill("CIFAR")
    page.get_by_label("Search experiments by name").press("Enter")
    expect(page).to_have_url(re.compile(r"q=CIFAR"))
    expect(page.locator("table.experiments-table tbody tr")).to_have_count(1)
    expect(page.get_by_role("link", name="cifar10-resnet")).to_be_visible()

    page.get_by_label("Search experiments by name").fill("mnist")
    page.get_by_label("Search experiments by name").press("Enter")
    page.get_by_role("link", name="mnist-cnn").click()

    expect(page.get_by_role("heading", name="mnist-cnn")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/ws/default/experiments/1/$"))


def test_the_runs_table_sorts_filters_and_compares(page, studio, screenshot):
    page.goto(f"{studio}/ws/default/experiments/1/")

    header = page.locator("#runs thead")
    for column in ("params.lr", "params.optimizer", "metrics.accuracy", "metrics.val_loss"):
        expect(header.locator(f'th[data-column="{column}"]')).to_be_visible()
    expect(page.get_by_text("6 child runs")).to_be_visible()
    expect(page.locator("#runs tbody tr.child")).to_have_count(3 + 3)  # at most 3 under each parent

    # Sorting by a metric: a click sorts ascending, a second click descending.
    header.locator('th[data-column="metrics.accuracy"] a').click()
    expect(page).to_have_url(re.compile(r"sort=metrics.accuracy$"))
    ascending = metric_values(page, "metrics.accuracy")
    assert ascending == sorted(ascending)
    header.locator('th[data-column="metrics.accuracy"] a').click()
    expect(page).to_have_url(re.compile(r"sort=-metrics.accuracy$"))
    descending = metric_values(page, "metrics.accuracy")
    assert descending == sorted(descending, reverse=True)
    expect(header.locator('th[data-column="metrics.accuracy"]')).to_have_attribute("aria-sort", "descending")

    # Two runs picked: Compare carries both ids.
    compare = page.get_by_role("link", name="Compare")
    expect(compare).to_have_attribute("aria-disabled", "true")
    rows = page.locator("#runs tbody tr:not(.child)")
    first, second = rows.nth(0).get_attribute("data-run"), rows.nth(1).get_attribute("data-run")
    rows.nth(0).locator("input.pick").check()
    rows.nth(1).locator("input.pick").check()
    expect(page.get_by_text("2 runs selected")).to_be_visible()
    expect(compare).to_have_attribute("aria-disabled", "false")
    expect(compare).to_have_attribute("href", f"/ws/default/compare/?runs={first},{second}")
    screenshot(page, "experiment")

    # Folding a parent hides its child runs.
    page.get_by_role("button", name="Hide child runs of sweep-1").click()
    expect(page.locator("#runs tbody tr.child:visible")).to_have_count(3)

    # A filter in MLflow's syntax, and a bad one shown in the page.
    box = page.get_by_label("Filter runs (MLflow search syntax)")
    box.fill("params.optimizer = 'sgd' and metrics.accuracy > 0.5")
    box.press("Enter")
    expect(page.locator("#runs tbody tr")).to_have_count(8)
    expect(page).to_have_url(re.compile(r"sort=-metrics.accuracy"))
    box = page.get_by_label("Filter runs (MLflow search syntax)")
    box.fill("metrics.accuracy >> 0.5")
    box.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Expected numeric value type for metric")
    expect(page.get_by_text("Fix the filter to see runs.")).to_be_visible()


def test_the_filter_box_takes_or_not_parentheses_and_in_lists(page, studio, screenshot):
    page.goto(f"{studio}/ws/default/experiments/1/")
    box = page.get_by_label("Filter runs (MLflow search syntax)")

    # The grid: 4 learning rates x 2 batch sizes x 2 optimizers (and sweeps, all adam).
    box.fill("(params.lr IN ('0.1', '0.01') AND params.optimizer = 'sgd') OR run_name = 'adam-lr0.01-bs32'")
    box.press("Enter")
    rows = page.locator("#runs tbody tr")
    expect(rows).to_have_count(5)
    names = sorted(page.locator("#runs tbody tr td.name a").all_inner_texts())
    assert names == [
        "adam-lr0.01-bs32",
        "sgd-lr0.01-bs32",
        "sgd-lr0.01-bs64",
        "sgd-lr0.1-bs32",
        "sgd-lr0.1-bs64",
    ]

    box = page.get_by_label("Filter runs (MLflow search syntax)")
    box.fill("NOT params.optimizer = 'adam' AND NOT params.batch_size IN ('32')")
    box.press("Enter")
    expect(rows).to_have_count(4)

    page.get_by_text("Filter syntax").click()
    expect(page.locator(".filter-syntax")).to_contain_text("NOT binds first, then AND, then OR")
    box = page.get_by_label("Filter runs (MLflow search syntax)")
    box.fill("params.optimizer = 'adam' OR")
    box.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("expected a condition after OR at position 26")
    box = page.get_by_label("Filter runs (MLflow search syntax)")
    box.fill(
        "metrics.accuracy > 0.9 OR (params.optimizer = 'sgd' AND NOT tags.`mlflow.parentRunId` IS NOT NULL)"
    )
    box.press("Enter")
    page.get_by_text("Filter syntax").click()
    screenshot(page, "experiment-filter-or")


def test_the_runs_page_searches_across_experiments(page, studio, screenshot):
    page.goto(f"{studio}/ws/default/")
    page.get_by_role("link", name="Runs", exact=True).click()
    expect(page.get_by_role("heading", name="Runs across experiments")).to_be_visible()
    experiments = page.locator("#runs tbody td.experiment")
    expect(experiments.filter(has_text="fraud-detection-xgboost")).to_have_count(1)
    expect(experiments.filter(has_text="mnist-cnn").first).to_be_visible()

    # Two experiments picked, then a filter that reaches into both.
    page.locator("details.experiment-picker summary").click()
    page.get_by_label("mnist-cnn").check()
    page.get_by_label("fraud-detection-xgboost").check()
    page.get_by_role("button", name="Apply").click()
    expect(page).to_have_url(re.compile(r"exp=1.*exp=3|exp=3.*exp=1"))
    box = page.get_by_label("Filter runs (MLflow search syntax)")
    box.fill("run_name = 'baseline' OR (params.optimizer = 'sgd' AND metrics.accuracy > 0.95)")
    box.press("Enter")
    expect(page.locator("#runs tbody tr").first).to_be_visible()
    shown = set(experiments.all_inner_texts())
    assert shown == {"fraud-detection-xgboost", "mnist-cnn"}, shown
    expect(page.locator("details.experiment-picker .tally")).to_have_text("2")
    screenshot(page, "workspace-runs")

    # A run's name leads to its page; its experiment's name to the experiment.
    experiments.filter(has_text="fraud-detection-xgboost").get_by_role("link").click()
    expect(page.get_by_role("heading", name="fraud-detection-xgboost")).to_be_visible()


def test_the_runs_table_groups_by_a_param_and_opens_a_group(page, studio, screenshot):
    page.goto(f"{studio}/ws/default/experiments/1/")

    page.get_by_label("Group runs by").select_option("params.optimizer")
    expect(page).to_have_url(re.compile(r"group=params.optimizer"))
    groups = page.locator("#groups tbody tr.group")
    expect(groups).to_have_count(2)
    # 8 grid runs use sgd; adam has the other 8 of the grid and the 12 sweep runs.
    expect(groups.nth(0)).to_contain_text("adam")
    expect(groups.nth(0)).to_contain_text("20 runs")
    expect(groups.nth(1)).to_contain_text("8 runs")
    expect(page.get_by_text("28 runs in 2 groups")).to_be_visible()
    expect(page.locator("#groups td.spread .range").first).to_be_visible()
    screenshot(page, "experiment-grouped")

    groups.nth(1).get_by_role("link", name="sgd").click()
    expect(page.get_by_label("Filter runs (MLflow search syntax)")).to_have_value(
        "params.`optimizer` = 'sgd'"
    )
    expect(page.locator("#runs tbody tr")).to_have_count(8)


def plotted(page, key: str) -> list[dict]:
    """What plotly drew for a metric's chart: each trace's name, meta and visibility."""
    return page.locator(f'[data-chart][data-key="{key}"] .chart').evaluate(
        "plot => plot.data.map(t => ({name: t.name, meta: t.meta || {}, visible: t.visible}))"
    )


def test_grouped_runs_are_charted_as_each_groups_mean_with_a_band(page, studio, screenshot):
    adam = "params.optimizer = 'adam' AND params.lr IN ('0.1', '0.01', '0.003', '0.001')"
    page.goto(f"{studio}/ws/default/experiments/1/?group=params.lr&filter={quote(adam)}")

    page.get_by_role("link", name="Chart groups").click()
    expect(page).to_have_url(re.compile(r"/compare/\?exp=1&filter=.+&group=params.lr"))
    expect(page.locator('ul[aria-label="Groups"] li')).to_have_count(4)
    page.wait_for_function("window.studioCharts.drawn >= 4")
    traces = plotted(page, "val_accuracy")
    means = [trace["name"] for trace in traces if trace["meta"].get("mean")]
    assert means == [
        f"lr = {lr} · mean of {n}" for lr, n in (("0.001", 4), ("0.003", 4), ("0.01", 2), ("0.1", 2))
    ]
    shown = {
        trace["meta"]["spread"] for trace in traces if trace["meta"].get("band") and trace["visible"] is True
    }
    assert shown == {"range"}
    assert sum(1 for trace in traces if "run_id" in trace["meta"]) == 12
    screenshot(page, "compare-grouped")

    page.get_by_title("One standard deviation either side of the mean").click()
    page.wait_for_function(
        """() => document.querySelector('[data-chart][data-key="val_accuracy"] .chart').data
            .filter(t => t.meta && t.meta.band && t.visible === true).every(t => t.meta.spread === "std")"""
    )
    # Each run stays selectable: hidden on its own from every chart, its group's mean stays;
    # a whole group can be hidden too.
    page.get_by_label("Show adam-lr0.1-bs32 on the charts").uncheck()
    page.locator('ul[aria-label="Groups"] label').filter(has_text="0.01").get_by_role("checkbox").uncheck()
    for key in ("val_accuracy", "loss"):
        hidden = [trace for trace in plotted(page, key) if trace["visible"] is False]
        assert [trace["name"] for trace in hidden if "run_id" in trace["meta"]] == ["adam-lr0.1-bs32"]
        assert [trace["name"] for trace in hidden if trace["meta"].get("mean")] == ["lr = 0.01 · mean of 2"]


def test_the_column_picker_adds_min_and_max_columns(page, studio):
    page.goto(f"{studio}/ws/default/experiments/1/")

    page.locator("details.picker summary").click()
    page.get_by_label("val_accuracy: max").check()
    page.get_by_label("epochs", exact=True).uncheck()
    page.get_by_role("button", name="Apply").click()

    expect(page).to_have_url(re.compile(r"col=max%28metrics.val_accuracy%29"))
    expect(page.locator('#runs th[data-column="max(metrics.val_accuracy)"]')).to_be_visible()
    expect(page.locator('#runs th[data-column="params.epochs"]')).to_have_count(0)
    page.locator('#runs th[data-column="max(metrics.val_accuracy)"] a').click()
    values = metric_values(page, "max(metrics.val_accuracy)")
    assert values == sorted(values)
