"""The artifact viewer in a real browser: a notebook, a Parquet file and a WAV logged by the real
MLflow client, and a hostile notebook whose scripts must not run anywhere on the page."""

from __future__ import annotations

import datetime
import io

import pytest
from playwright.sync_api import expect

from tests.artifact_samples import chart_png, hostile_notebook, training_notebook, wav_bytes
from tests.browser.test_artifacts_and_models import mlflow_client  # noqa: F401 - a fixture


def iris_parquet() -> bytes:
    from sklearn.datasets import load_iris

    iris = load_iris(as_frame=True)
    frame = iris.data.rename(columns=lambda name: name.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = iris.target.map(dict(enumerate(iris.target_names)))
    start = datetime.datetime(2026, 3, 1, 9, tzinfo=datetime.UTC)
    frame["measured_at"] = [start + datetime.timedelta(minutes=7 * index) for index in range(len(frame))]
    frame["tags"] = [["field"] if index % 4 else ["field", "reviewed"] for index in range(len(frame))]
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False)
    return buffer.getvalue()


@pytest.fixture
def logged(mlflow_client, deployed, tmp_path):  # noqa: F811 - the fixture above
    """A run that logged a notebook, a hostile notebook, a Parquet file and a WAV; its tab's URL."""
    mlflow = mlflow_client
    files = {
        "notebooks/training-report.ipynb": training_notebook(chart_png()),
        "notebooks/hostile.ipynb": hostile_notebook(),
        "data/iris.parquet": iris_parquet(),
        "audio/tone.wav": wav_bytes(seconds=1.0),
    }
    mlflow.set_experiment("iris-training")
    with mlflow.start_run(run_name="notebook-review") as run:
        for path, data in files.items():
            folder, name = path.split("/")
            (tmp_path / name).write_bytes(data)
            mlflow.log_artifact(str(tmp_path / name), artifact_path=folder)
    return f"{deployed.url}/ws/default/runs/{run.info.run_id}/artifacts/"


def test_a_notebook_renders_with_its_outputs(page, logged, screenshot):
    page.goto(f"{logged}?path=notebooks/training-report.ipynb")
    notebook = page.locator(".notebook")
    expect(notebook.get_by_role("heading", name="Training report")).to_be_visible()
    expect(notebook.locator(".nb-prompt", has_text="[1]:")).to_be_visible()
    expect(notebook.locator("pre.nb-text").first).to_have_text("(150, 4)\n")
    chart = notebook.locator(".nb-output-image img")
    expect(chart).to_be_visible()
    assert chart.evaluate("image => image.naturalWidth") == 520  # the PNG decoded
    table = page.frame_locator("iframe.nb-frame").first
    expect(table.locator("td", has_text="boosting")).to_be_visible()
    expect(notebook.locator("pre.nb-error")).to_contain_text("KeyError: 'svm'")
    screenshot(page, "artifact-notebook")


def test_nothing_in_a_hostile_notebook_runs(page, logged):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{logged}?path=notebooks/hostile.ipynb")
    expect(page.locator(".notebook")).to_be_visible()
    expect(page.locator("iframe.nb-frame")).to_have_count(2)
    page.wait_for_load_state("load")
    # Markdown's <script> and onerror are text, and the javascript: link is no link.
    expect(page.locator(".nb-markdown").first).to_contain_text("<script>window.__pwned")
    expect(page.locator(".nb-markdown a")).to_have_count(0)
    html_frame = page.frame_locator("iframe.nb-frame").first
    expect(html_frame.locator("b")).to_have_text("bold")  # the HTML output shows, its script does not run
    page.locator(".nb-markdown").first.click()  # a click anywhere fires no handler either
    assert page.evaluate("window.__pwned") is None
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert dialogs == []
    assert (
        page.evaluate("[...document.scripts].some(script => script.textContent.includes('__pwned'))") is False
    )


def test_a_parquet_file_shows_its_first_rows_and_schema(page, logged, screenshot):
    page.goto(f"{logged}?path=data/iris.parquet")
    expect(page.locator(".parquet-summary")).to_contain_text("150 rows in 1 row group · 7 columns")
    table = page.locator(".data-table table")
    expect(table.locator("thead th").nth(1)).to_contain_text("sepal_length")
    expect(table.locator("thead th").nth(6)).to_contain_text("timestamp")
    expect(table.locator("tbody tr")).to_have_count(20)
    expect(table.locator("tbody tr").first).to_contain_text("setosa")
    expect(page.locator("table.schema tbody tr")).to_have_count(7)
    screenshot(page, "artifact-parquet")


def test_a_wav_file_plays_in_an_audio_element(page, logged):
    answers = []
    page.on("response", lambda response: "raw?path=audio" in response.url and answers.append(response))
    page.goto(f"{logged}?path=audio/tone.wav")
    audio = page.locator(".media-preview audio")
    expect(audio).to_be_visible()
    page.wait_for_function("document.querySelector('.media-preview audio').readyState > 0", timeout=15_000)
    duration = audio.evaluate("element => element.duration")
    assert abs(duration - 1.0) < 0.05
    # Seeking asks the server for a range; the element keeps playing from there.
    audio.evaluate("element => { element.currentTime = 0.6; }")
    page.wait_for_function("document.querySelector('.media-preview audio').seeking === false")
    assert audio.evaluate("element => element.error") is None
    # The browser asked for ranges and was answered with them.
    ranged = [answer for answer in answers if answer.request.headers.get("range")]
    assert ranged and all(answer.status == 206 for answer in ranged)
    assert ranged[0].headers["content-type"] == "audio/wav"
