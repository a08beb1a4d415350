"""Artifacts and models in a real browser, with files logged by the real MLflow client.

A run logs a text file, a CSV, a JSON and an HTML report, and a scikit-learn model registered
as a model version; the studio then shows them the way Azure ML studio does: the MLmodel as a
card, the CSV as a table, the HTML in a sandbox, and the version's own Artifacts tab.
"""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

MODEL_NAME = "iris-classifier"
REPORT = """<!doctype html><html><body style="font-family: sans-serif">
<h1>Evaluation report</h1><p>Accuracy <b>0.97</b></p>
<script>document.body.insertAdjacentHTML("beforeend", "<p id='ran'>script ran</p>")</script>
</body></html>"""


@pytest.fixture
def mlflow_client(deployed):
    """The fluent MLflow API pointed at the server (as tests/compat does), reset afterwards."""
    import mlflow

    mlflow.set_tracking_uri(deployed.url)
    mlflow.set_registry_uri(deployed.url)
    yield mlflow
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.tracking.fluent._active_experiment_id = None
    mlflow.set_registry_uri(None)
    for variable in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID"):
        os.environ.pop(variable, None)


@pytest.fixture
def logged(mlflow_client, deployed):
    """A training run with its files and a registered model; returns (studio URL, run id)."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_client
    iris = load_iris(as_frame=True)
    features = iris.data.rename(columns=lambda name: name.replace(" (cm)", "").replace(" ", "_"))
    mlflow.set_experiment("iris-training")
    with mlflow.start_run(run_name="logistic-regression") as run:
        mlflow.log_param("max_iter", 500)
        mlflow.log_metric("accuracy", 0.97)
        mlflow.log_text("epoch 1 loss=0.91\nepoch 2 loss=0.55\nepoch 3 loss=0.31\n", "logs/train.log")
        mlflow.log_text("notes about this run\n", "notes.txt")
        mlflow.log_text(
            features.head(40).assign(species=iris.target[:40]).to_csv(index=False), "data/sample.csv"
        )
        mlflow.log_dict({"accuracy": 0.97, "classes": ["setosa", "versicolor", "virginica"]}, "metrics.json")
        mlflow.log_text(REPORT, "report.html")
        model = LogisticRegression(max_iter=500).fit(features, iris.target)
        mlflow.sklearn.log_model(
            model,
            name="model",
            input_example=features.head(3),
            pip_requirements=["scikit-learn"],
            registered_model_name=MODEL_NAME,
        )
    client = mlflow.MlflowClient()
    client.set_registered_model_alias(MODEL_NAME, "champion", "1")
    client.set_registered_model_tag(MODEL_NAME, "team", "vision")
    client.update_registered_model(MODEL_NAME, description="Logistic regression on the iris data set.")
    client.create_registered_model("fraud-detector", tags={"team": "risk"}, description="Flags card fraud.")
    client.create_registered_model("churn model v2.1", tags={"owner": "growth"})
    return deployed.url, run.info.run_id


def test_the_run_artifacts_tab_shows_the_model_card_tables_and_sandboxed_html(page, logged, screenshot):
    studio, run_id = logged
    page.goto(f"{studio}/ws/default/runs/{run_id}/artifacts/")
    expect(page.get_by_role("heading", name="logistic-regression")).to_be_visible()
    side = page.get_by_role("complementary", name="Files")
    expect(side.get_by_role("link", name="notes.txt")).to_be_visible()

    # MLflow 3 keeps the model apart from the run's files: it is listed under Logged models.
    side.get_by_role("link", name="model", exact=True).click()
    side.get_by_role("link", name="MLmodel").click()
    card = page.get_by_role("article", name="MLflow model")
    expect(card).to_be_visible()
    expect(card.locator(".chip", has_text="python_function")).to_be_visible()
    expect(card.locator(".chip", has_text="sklearn")).to_be_visible()
    inputs = card.locator(".signature table").first
    expect(inputs.get_by_role("row")).to_have_count(5)  # the header and four feature columns
    expect(inputs).to_contain_text("sepal_length")
    expect(card).to_contain_text("scikit-learn")
    screenshot(page, "run-artifacts")

    side.get_by_role("link", name="data", exact=True).click()
    side.get_by_role("link", name="sample.csv").click()
    table = page.locator(".data-table table")
    expect(table.locator("thead th").nth(1)).to_have_text("sepal_length")
    expect(table.locator("tbody tr")).to_have_count(40)

    side.get_by_role("link", name="report.html").click()
    frame = page.locator("iframe.html-frame")
    expect(frame).to_have_attribute("sandbox", "")
    report = page.frame_locator("iframe.html-frame")
    expect(report.get_by_role("heading", name="Evaluation report")).to_be_visible()
    expect(report.locator("#ran")).to_have_count(0)  # the sandbox kept the script from running


def test_an_artifact_is_deleted_after_its_name_is_typed(page, logged):
    studio, run_id = logged
    page.goto(f"{studio}/ws/default/runs/{run_id}/artifacts/?path=notes.txt")
    expect(page.locator("pre.code")).to_contain_text("notes about this run")
    page.get_by_text("Delete…").click()
    confirm = page.get_by_label("Name to confirm")
    button = page.get_by_role("button", name="Delete for good")
    confirm.fill("notes")
    expect(button).to_be_disabled()
    confirm.fill("notes.txt")
    expect(button).to_be_enabled()
    button.click()
    expect(page.get_by_role("status")).to_contain_text("Deleted notes.txt.")
    expect(page).to_have_url(re.compile(r"/artifacts/\?path=$"))
    expect(
        page.get_by_role("complementary", name="Files").get_by_role("link", name="notes.txt")
    ).to_have_count(0)


def test_the_models_area_lists_searches_and_shows_a_version_artifacts(page, logged, screenshot):
    studio, _ = logged
    page.goto(f"{studio}/ws/default/models/")
    rows = page.locator("table.models-table tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text=MODEL_NAME)).to_contain_text("@champion · v1")
    screenshot(page, "models")

    page.get_by_role("searchbox", name="Search models by name").fill("IRIS")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    rows.get_by_role("link", name=MODEL_NAME).click()
    expect(page.get_by_role("heading", name=MODEL_NAME)).to_be_visible()
    expect(page.locator(".description")).to_have_text("Logistic regression on the iris data set.")
    page.get_by_role("link", name="Version 1", exact=True).click()
    expect(page.get_by_role("heading", name=f"{MODEL_NAME} version 1")).to_be_visible()
    expect(page.get_by_text("Ready").first).to_be_visible()

    page.get_by_role("navigation", name="Model version").get_by_role("link", name="Artifacts").click()
    expect(page.get_by_role("article", name="MLflow model")).to_be_visible()  # MLmodel first, as in Azure
    side = page.get_by_role("complementary", name="Files")
    for name in ("MLmodel", "conda.yaml", "requirements.txt", "model.skops"):
        expect(side.get_by_role("link", name=name, exact=True)).to_be_visible()
    expect(side.locator(".tree-row", has_text="model.skops").locator(".tree-size")).to_contain_text("KB")
    screenshot(page, "model-version-artifacts")

    side.get_by_role("link", name="model.skops").click()
    download = page.get_by_role("link", name="Download").first
    expect(download).to_have_attribute("href", re.compile(r"raw\?path=model\.skops&download=1$"))
    with page.expect_download() as started:
        download.click()
    assert started.value.suggested_filename == "model.skops"
