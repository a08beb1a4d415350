"""The viewer's richer kinds on the Artifacts tabs: audio and video, notebooks, Parquet; who sees them,
how their bytes are served (types, ranges), and that nothing a file holds runs on our pages."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from django.test import Client

from registry.services.model_versions import create_model_version
from registry.services.registered_models import create_registered_model
from studio import notebook_preview
from tests.artifact_samples import hostile_notebook, parquet_bytes, training_notebook, wav_bytes
from tracking.services.experiments import create_experiment
from tracking.services.logged_models import create_logged_model
from tracking.services.runs import create_run

from . import test_artifact_pages
from .test_artifact_pages import MODEL_FILES, page_url, put

# The store under tmp_path (autouse) and the default workspace, as on the Artifacts tab's own tests.
artifact_root = test_artifact_pages.artifact_root
workspace = test_artifact_pages.workspace

WAV = wav_bytes(seconds=0.5)
FILES = {
    "report.ipynb": training_notebook(),
    "hostile.ipynb": hostile_notebook(),
    "old.ipynb": b'{"nbformat": 3, "worksheets": [{"cells": []}]}',
    "broken.ipynb": b'{"cells": [',
    "iris.parquet": parquet_bytes(),
    "broken.parquet": b"PAR1 not really",
    "tone.wav": WAV,
    "clip.webm": b"\x1aE\xdf\xa3 fake webm",
    "song.mp3": b"ID3 fake",
}
MEDIA_TYPES = {"tone.wav": "audio/wav", "clip.webm": "video/webm", "song.mp3": "audio/mpeg"}


@pytest.fixture
def run(workspace):
    run = create_run(experiment=create_experiment(workspace=workspace, name="viewer"))
    put(workspace, run.artifact_uri, FILES)
    return run


def page(client, run, path: str) -> str:
    response = client.get(page_url(run), {"path": path})
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


class ActiveMarkup(HTMLParser):
    """Elements and attributes of a page that would run something: scripts other than our own,
    event handlers, javascript: URLs, frames that may run scripts, embedded objects."""

    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "script" and not (values.get("src") or "").startswith("/static/"):
            self.found.append(f"<script> {values}")
        if tag in ("object", "embed", "applet", "base"):
            self.found.append(f"<{tag}>")
        if tag == "iframe" and ("sandbox" not in values or "allow-scripts" in (values["sandbox"] or "")):
            self.found.append(f"<iframe> {values.get('src')}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                ("javascript:", "vbscript:", "data:text")
            ):
                self.found.append(f"<{tag} {name}={value}>")


def active_elements(html: str) -> list[str]:
    parser = ActiveMarkup()
    parser.feed(html)
    return parser.found


# --- Audio and video -------------------------------------------------------------------------


def test_audio_and_video_play_from_the_raw_url(client, run):
    audio = page(client, run, "tone.wav")
    assert re.search(
        r'<audio controls preload="metadata" src="/ws/default/runs/\w+/artifacts/raw\?path=tone.wav">', audio
    )
    video = page(client, run, "clip.webm")
    assert re.search(r'<video controls preload="metadata" src="[^"]+raw\?path=clip.webm">', video)


@pytest.mark.parametrize(("name", "content_type"), MEDIA_TYPES.items())
def test_media_is_served_as_its_type_inline_and_inert(client, run, name, content_type):
    response = client.get(page_url(run, "raw"), {"path": name})
    assert response.status_code == 200
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("inline")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"].split("; ")
    assert response["Accept-Ranges"] == "bytes"
    assert b"".join(response.streaming_content) == FILES[name]


def test_media_ranges_answer_206_with_only_the_bytes_asked(client, run):
    size = len(WAV)
    middle = client.get(page_url(run, "raw"), {"path": "tone.wav"}, HTTP_RANGE="bytes=100-199")
    assert middle.status_code == 206 and middle["Content-Type"] == "audio/wav"
    assert middle["Content-Range"] == f"bytes 100-199/{size}" and middle["Content-Length"] == "100"
    assert b"".join(middle.streaming_content) == WAV[100:200]
    tail = client.get(page_url(run, "raw"), {"path": "tone.wav"}, HTTP_RANGE="bytes=-10")
    assert tail["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"
    assert b"".join(tail.streaming_content) == WAV[-10:]
    rest = client.get(page_url(run, "raw"), {"path": "tone.wav"}, HTTP_RANGE=f"bytes={size - 4}-")
    assert b"".join(rest.streaming_content) == WAV[-4:]


@pytest.mark.parametrize(
    "header", [f"bytes={len(WAV)}-", f"bytes={len(WAV) + 10}-{len(WAV) + 20}", "bytes=-0", "bytes=9-3"]
)
def test_media_ranges_outside_the_file_answer_416(client, run, header):
    response = client.get(page_url(run, "raw"), {"path": "tone.wav"}, HTTP_RANGE=header)
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{len(WAV)}"


def test_only_known_media_names_get_a_media_type(client, workspace, run):
    put(workspace, run.artifact_uri, {"tone.wav.html": b"<script>alert(1)</script>", "movie.avi": b"RIFF"})
    page_html = page(client, run, "movie.avi")
    assert "<video" not in page_html
    assert (
        client.get(page_url(run, "raw"), {"path": "movie.avi"})["Content-Type"] == "application/octet-stream"
    )
    assert (
        client.get(page_url(run, "raw"), {"path": "tone.wav.html"})["Content-Type"]
        == "text/plain; charset=utf-8"
    )
    download = client.get(page_url(run, "raw"), {"path": "tone.wav", "download": "1"})
    assert download["Content-Type"] == "application/octet-stream"


# --- Notebooks -------------------------------------------------------------------------------


def test_a_notebook_renders_its_cells_and_outputs(client, run):
    html = page(client, run, "report.ipynb")
    assert '<div class="notebook">' in html
    assert '<code class="language-python">import pandas as pd' in html
    assert '<div class="nb-prompt">[1]:</div>' in html
    assert '<pre class="nb-text">(150, 4)\n</pre>' in html
    assert 'src="data:image/png;base64,' in html
    assert '<iframe class="nb-frame" sandbox="" srcdoc="' in html and "&lt;td&gt;forest&lt;/td&gt;" in html
    assert "KeyError: &#x27;svm&#x27;" in html
    assert ">Notebook</a>" in html and ">Source</a>" in html


def test_a_notebook_source_view_is_its_json(client, run):
    response = client.get(page_url(run), {"path": "report.ipynb", "view": "raw"})
    html = response.content.decode()
    assert '<div class="notebook">' not in html and "&quot;nbformat&quot;: 4" in html


def test_nothing_in_a_hostile_notebook_is_active_on_the_page(client, run):
    html = page(client, run, "hostile.ipynb")
    assert active_elements(html) == []
    assert 'tracker.example/pixel.png"' not in html.replace('title="https://tracker.example/pixel.png"', "")
    frames = re.findall(r"<iframe[^>]*>", html)
    assert len(frames) == 2 and all(' sandbox="" ' in frame and "allow-" not in frame for frame in frames)
    assert "window.__pwned = &#x27;javascript output&#x27;" in html  # JavaScript output, as text


def test_the_page_of_a_notebook_is_inert_itself(client, run):
    response = client.get(page_url(run), {"path": "hostile.ipynb"})
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"].startswith("text/html")
    raw = client.get(page_url(run, "raw"), {"path": "hostile.ipynb"})
    assert raw["Content-Type"] == "text/plain; charset=utf-8" and raw["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("name", "message"),
    [("old.ipynb", "format 3"), ("broken.ipynb", "not valid JSON")],
)
def test_a_notebook_that_cannot_be_rendered_says_why_and_shows_its_text(client, run, name, message):
    html = page(client, run, name)
    assert message in html and "It is shown as text." in html
    assert '<div class="notebook">' not in html and '<pre class="code">' in html


def test_a_notebook_over_the_size_limit_is_shown_as_text(client, workspace, run, monkeypatch):
    monkeypatch.setattr("studio.views.artifacts.preview.MAX_NOTEBOOK_BYTES", 1000)
    html = page(client, run, "report.ipynb")
    assert "Notebooks up to 1000" in html and '<div class="notebook">' not in html


def test_without_markdown_it_a_notebook_still_renders(client, run, monkeypatch):
    monkeypatch.setattr(notebook_preview, "_markdown", None)
    html = page(client, run, "hostile.ipynb")
    assert "Markdown cells are shown as their source" in html and active_elements(html) == []


# --- Parquet ---------------------------------------------------------------------------------


def test_a_parquet_file_shows_its_first_rows_and_schema(client, run):
    html = page(client, run, "iris.parquet")
    assert "100 rows in 3 row groups · 7 columns" in html
    assert '<th>measured_at<span class="column-type">timestamp[us, tz=UTC]</span></th>' in html
    assert html.count('<td class="row-number">') == 20
    assert "<td>2026-01-01T00:00:00+00:00</td>" in html
    assert "The first 20 rows are shown." in html
    assert '<td>id</td><td><code class="type">int64</code></td><td>no</td>' in html
    assert "Open raw" not in html  # its raw bytes are a download


def test_a_corrupt_parquet_file_says_so_and_offers_the_download(client, run):
    html = page(client, run, "broken.parquet")
    assert "This is not a Parquet file" in html and "Download" in html
    raw = client.get(page_url(run, "raw"), {"path": "broken.parquet"})
    assert raw["Content-Type"] == "application/octet-stream" and raw["Content-Disposition"].startswith(
        "attachment"
    )


# --- Model versions and access -------------------------------------------------------------


def test_a_model_version_artifacts_tab_previews_the_same_kinds(client, workspace, run):
    experiment = run.experiment
    logged = create_logged_model(experiment=experiment, name="model", source_run_id=run.uuid)
    put(
        workspace,
        logged.artifact_location,
        {
            **MODEL_FILES,
            "eval.ipynb": training_notebook(),
            "sample.parquet": parquet_bytes(),
            "tone.wav": WAV,
        },
    )
    model = create_registered_model(workspace=workspace, name="iris")
    create_model_version(
        workspace=workspace,
        model=model,
        source=f"models:/{logged.model_id}",
        model_id=logged.model_id,
        run_id=run.uuid,
    )
    base = "/ws/default/models/iris/versions/1/artifacts/"
    notebook_html = client.get(base, {"path": "eval.ipynb"}).content.decode()
    assert '<div class="notebook">' in notebook_html
    assert (
        '<span class="column-type">int64</span>'
        in client.get(base, {"path": "sample.parquet"}).content.decode()
    )
    assert (
        '<audio controls preload="metadata" src="/ws/default/models/iris/versions/1/artifacts/raw?path=tone.wav">'
        in client.get(base, {"path": "tone.wav"}).content.decode()
    )
    media = client.get(f"{base}raw", {"path": "tone.wav"}, HTTP_RANGE="bytes=0-3")
    assert media.status_code == 206 and media["Content-Type"] == "audio/wav"
    assert b"".join(media.streaming_content) == b"RIFF"


@pytest.mark.parametrize(("persona", "status"), [("owner", 200), ("reader", 200), ("outsider", 404)])
def test_readers_see_the_previews_and_outsiders_do_not(auth_on, team, persona, status):
    run = create_run(experiment=create_experiment(workspace=team.workspace, name="shared"))
    put(team.workspace, run.artifact_uri, FILES)
    browser = Client()
    browser.force_login(team.user(persona))
    for path in ("report.ipynb", "iris.parquet", "tone.wav"):
        assert browser.get(page_url(run, workspace="team-a"), {"path": path}).status_code == status, path
    raw = browser.get(page_url(run, "raw", workspace="team-a"), {"path": "tone.wav"}, HTTP_RANGE="bytes=0-3")
    assert raw.status_code == (206 if status == 200 else 404)


def test_the_check_for_active_markup_finds_what_it_looks_for():
    page_html = (
        '<script>x</script><img src=x onerror="y"><a href=" JavaScript:z">a</a><iframe srcdoc="s"></iframe>'
    )
    assert len(active_elements(page_html)) == 4
    assert (
        active_elements('<script src="/static/studio/artifacts.js"></script><iframe sandbox=""></iframe>')
        == []
    )
