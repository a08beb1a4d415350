"""Files logged by the real client with `mlflow.log_artifact` preview in the studio of the deployed
server: a notebook renders, a Parquet file written by pandas shows its rows, a WAV plays with ranges."""

from __future__ import annotations

import re

import pytest
import requests

from tests.artifact_samples import hostile_notebook, training_notebook, wav_bytes

# Stored files: run again on each artifact store (STUDIO_TEST_ARTIFACT_STORE).
pytestmark = pytest.mark.artifacts


@pytest.fixture
def logged(fluent, tmp_path, tracking_uri):
    """A run that logged the three files with log_artifact; returns its Artifacts tab's URL."""
    import pandas

    (tmp_path / "analysis.ipynb").write_bytes(training_notebook())
    (tmp_path / "hostile.ipynb").write_bytes(hostile_notebook())
    frame = pandas.DataFrame(
        {
            "sepal_length": [5.1, 4.9, 6.3],
            "species": ["setosa", "setosa", "virginica"],
            "seen": pandas.to_datetime(["2026-01-01", "2026-01-02", None]),
        }
    )
    frame.to_parquet(tmp_path / "sample.parquet", engine="pyarrow")
    (tmp_path / "tone.wav").write_bytes(wav_bytes(seconds=0.25))
    fluent.set_experiment("viewer")
    with fluent.start_run() as run:
        fluent.log_artifact(str(tmp_path / "analysis.ipynb"), artifact_path="notebooks")
        fluent.log_artifact(str(tmp_path / "hostile.ipynb"), artifact_path="notebooks")
        fluent.log_artifact(str(tmp_path / "sample.parquet"), artifact_path="data")
        fluent.log_artifact(str(tmp_path / "tone.wav"))
    return f"{tracking_uri}/ws/default/runs/{run.info.run_id}/artifacts/"


def test_a_logged_notebook_renders_on_the_artifacts_tab(logged):
    response = requests.get(logged, params={"path": "notebooks/analysis.ipynb"}, timeout=30)
    assert response.status_code == 200
    assert '<div class="notebook">' in response.text
    assert "import pandas as pd" in response.text and 'src="data:image/png;base64,' in response.text
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_logged_hostile_notebook_has_no_active_markup(logged):
    from tests.studio.test_artifact_viewer_pages import active_elements

    response = requests.get(logged, params={"path": "notebooks/hostile.ipynb"}, timeout=30)
    assert response.status_code == 200 and active_elements(response.text) == []


def test_a_parquet_file_written_by_pandas_shows_its_rows_and_schema(logged):
    html = requests.get(logged, params={"path": "data/sample.parquet"}, timeout=30).text
    assert "3 rows in 1 row group · 3 columns" in html
    assert re.search(r'<th>seen<span class="column-type">timestamp\[[nu]s\]</span></th>', html)
    assert "<td>virginica</td>" in html and "<td>null</td>" in html


def test_a_logged_wav_plays_from_the_raw_url_with_ranges(logged):
    assert "<audio controls" in requests.get(logged, params={"path": "tone.wav"}, timeout=30).text
    size = len(wav_bytes(seconds=0.25))
    whole = requests.get(f"{logged}raw", params={"path": "tone.wav"}, timeout=30)
    assert whole.headers["Content-Type"] == "audio/wav" and whole.content == wav_bytes(seconds=0.25)
    part = requests.get(
        f"{logged}raw", params={"path": "tone.wav"}, headers={"Range": "bytes=0-11"}, timeout=30
    )
    assert part.status_code == 206 and part.content[:4] == b"RIFF" and len(part.content) == 12
    assert part.headers["Content-Range"] == f"bytes 0-11/{size}"
    beyond = requests.get(
        f"{logged}raw", params={"path": "tone.wav"}, headers={"Range": f"bytes={size}-"}, timeout=30
    )
    assert beyond.status_code == 416
