"""A run's Images tab (a gallery per key with a step slider), its image files and thumbnail
bundles, and the images section of the comparison: what they show, what they refuse, who may
see them, and how many queries they cost."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from studio.views.images import BUNDLE_COUNT
from tests.logged_images import log_images, put
from tracking.services.artifacts import proxy_path
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run


@pytest.fixture(autouse=True)
def artifacts_in_tmp(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="images")


@pytest.fixture
def run(experiment):
    run = create_run(experiment=experiment, run_name="unet")
    log_images(experiment.workspace, run, "val/<b>masks</b>", range(0, 30, 3))
    log_images(experiment.workspace, run, "samples", range(5))
    return run


def url(run, tail: str = "", workspace: str = "default") -> str:
    return f"/ws/{workspace}/runs/{run.uuid}/images/{tail}"


def embedded(html: str, element: str = "image-series"):
    match = re.search(rf'<script id="{element}" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def thumbnails(series: dict) -> list[str]:
    """The thumbnails' names as static/studio/images.js derives them."""
    return [
        file.removesuffix(".png") + ("+" if "+step+" in file else "%") + "compressed.webp"
        if entry == 1
        else entry
        for file, entry in zip(series["files"], series["thumbs"], strict=True)
    ]


def bundle(response) -> dict[str, bytes]:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    length = int.from_bytes(body[:4], "big")
    header, offset, found = json.loads(body[4 : 4 + length]), 4 + length, {}
    for name, size in header:
        found[name] = body[offset : offset + size]
        offset += size
    assert offset == len(body)
    return found


# --- The tab -----------------------------------------------------------------------------------


def test_the_tab_is_shown_only_for_a_run_that_logged_images(client, experiment, run):
    plain = create_run(experiment=experiment)
    assert url(plain) not in client.get(f"/ws/default/runs/{plain.uuid}/").content.decode()
    assert url(run) in client.get(f"/ws/default/runs/{run.uuid}/").content.decode()
    assert url(run) in client.get(f"/ws/default/runs/{run.uuid}/artifacts/").content.decode()


def test_it_shows_a_card_per_key_at_its_last_step(client, run):
    response = client.get(url(run))
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("data-image-card") == 2
    assert "val/&lt;b&gt;masks&lt;/b&gt;" in html and "<b>masks" not in html
    assert 'max="9" value="9"' in html and 'max="4" value="4"' in html
    assert '<strong data-field="step">27</strong>' in html
    series = embedded(html)
    assert [one["key"] for one in series] == ["samples", "val/<b>masks</b>"]
    assert series[1]["steps"] == list(range(0, 30, 3))
    assert series[1]["thumbs"] == [1] * 10  # the client's usual name, derived by the page
    assert series[1]["bundles"][0]["from"] == 0 and series[1]["bundles"][0]["count"] == 10


def test_thumbnails_named_otherwise_are_named_on_the_page(client, experiment):
    run = create_run(experiment=experiment)
    folder = f"{proxy_path(run.artifact_uri)}/images"
    uid = "ab0e3f0c-3b1e-4a53-9a1f-1f8e2f4c5d6e"
    # The older "%" names; the store refuses those that decode to control characters ("%17...").
    older = f"k%step%1%timestamp%3000000000000%{uid}"
    put(experiment.workspace, f"{folder}/{older}.png", b"png")
    put(experiment.workspace, f"{folder}/{older}%compressed.webp", b"webp")
    alone = f"k+step+2+timestamp+1764500000000+{uid}+compressed.webp"  # no image beside it
    put(experiment.workspace, f"{folder}/{alone}", b"webp")
    log_images(experiment.workspace, run, "other", [0])
    (series, _) = embedded(client.get(url(run)).content.decode())
    assert series["thumbs"] == [1, alone]
    assert thumbnails(series) == [f"{older}%compressed.webp", alone]
    assert series["files"] == [f"{older}.png", alone]


def test_a_run_without_images_says_how_to_log_them(client, experiment):
    plain = create_run(experiment=experiment)
    html = client.get(url(plain)).content.decode()
    assert "No images yet" in html and "mlflow.log_image" in html and "image-series" not in html


def test_an_image_logged_as_a_plain_artifact_stays_in_the_artifacts_tab(client, experiment):
    plain = create_run(experiment=experiment)
    put(experiment.workspace, f"{proxy_path(plain.artifact_uri)}/images/plot.png", b"\x89PNG")
    assert "No images yet" in client.get(url(plain)).content.decode()


def test_the_page_costs_a_fixed_number_of_queries_however_many_steps(
    client, experiment, django_assert_max_num_queries
):
    run = create_run(experiment=experiment)
    for key in ("a", "b", "c"):
        log_images(experiment.workspace, run, key, range(120), thumbnails=False)
    with django_assert_max_num_queries(6):
        response = client.get(url(run))
    assert len(embedded(response.content.decode())[2]["steps"]) == 120


def test_a_key_of_many_steps_comes_in_bundles_of_bounded_size(client, experiment):
    run = create_run(experiment=experiment)
    log_images(experiment.workspace, run, "k", range(BUNDLE_COUNT + 20))
    (series,) = embedded(client.get(url(run)).content.decode())
    assert [(b["from"], b["count"]) for b in series["bundles"]] == [(0, BUNDLE_COUNT), (BUNDLE_COUNT, 20)]


# --- Files and bundles -------------------------------------------------------------------------


def test_an_image_is_served_as_a_raster_type_inert_and_cached_for_good(client, run):
    (samples, _) = embedded(client.get(url(run)).content.decode())
    for name, content_type in ((samples["files"][0], "image/png"), (thumbnails(samples)[0], "image/webp")):
        response = client.get(url(run, "file"), {"name": name})
        assert response.status_code == 200
        assert response["Content-Type"] == content_type
        assert response["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in response["Content-Security-Policy"]
        assert "immutable" in response["Cache-Control"]
        assert b"".join(response.streaming_content)[:4] in (b"\x89PNG", b"RIFF")


@pytest.mark.parametrize(
    "name",
    [
        "",
        "../MLmodel",
        "plot.png",
        "k+step+1+timestamp+1764500000000+0b0e3f0c.svg",
        "a/k+step+1+timestamp+1764500000000+0b0e3f0c.png",
        "k+step+1+timestamp+1764500000000+0b0e3f0c.png",  # well-formed, but never logged
    ],
)
def test_it_serves_nothing_but_logged_images(client, run, name):
    assert client.get(url(run, "file"), {"name": name}).status_code == 404


def test_an_svg_in_the_images_folder_is_never_served(client, experiment):
    plain = create_run(experiment=experiment)
    name = "k+step+1+timestamp+1764500000000+0b0e3f0c.svg"
    put(experiment.workspace, f"{proxy_path(plain.artifact_uri)}/images/{name}", b"<svg onload=alert(1)>")
    assert client.get(url(plain, "file"), {"name": name}).status_code == 404


def test_a_bundle_carries_the_thumbnails_of_a_range_of_steps(client, run):
    series = embedded(client.get(url(run)).content.decode())[1]
    response = client.get(f"{url(run, 'thumbnails')}?{series['bundles'][0]['query']}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "immutable" in response["Cache-Control"]
    found = bundle(response)
    assert list(found) == thumbnails(series)
    assert all(data.startswith(b"RIFF") for data in found.values())
    part = client.get(url(run, "thumbnails"), {"key": series["key"], "from": 8, "count": 5})
    assert list(bundle(part)) == thumbnails(series)[8:]
    assert part["Cache-Control"] == "private, no-cache"  # no fingerprint: not cached for good


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"key": "samples", "from": "x", "count": "2"}, 400),
        ({"key": "samples", "from": "-1", "count": "2"}, 400),
        ({"key": "samples", "from": "0", "count": "0"}, 400),
        ({"key": "samples", "from": "0", "count": str(BUNDLE_COUNT + 1)}, 400),
        ({"key": "samples", "from": "0"}, 400),
        ({"key": "nope", "from": "0", "count": "2"}, 404),
        ({"key": "samples", "from": "99999999999999999999999", "count": "2"}, 200),
    ],
)
def test_a_bad_bundle_request_gets_a_clear_answer(client, run, query, status):
    assert client.get(url(run, "thumbnails"), query).status_code == status


# --- Access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), [("reader", 200), ("outsider", 404)])
def test_a_reader_sees_the_images_and_an_outsider_does_not(auth_on, team, persona, status):
    run = create_run(experiment=create_experiment(workspace=team.workspace, name="images"))
    log_images(team.workspace, run, "k", range(2))
    browser = Client()
    browser.force_login(team.user(persona))
    page = browser.get(url(run, workspace="team-a"))
    assert page.status_code == status
    thumbs = url(run, "thumbnails", workspace="team-a")
    assert browser.get(thumbs, {"key": "k", "from": 0, "count": 2}).status_code == status
    if status == 200:
        name = embedded(page.content.decode())[0]["files"][0]
        assert browser.get(url(run, "file", workspace="team-a"), {"name": name}).status_code == 200


def test_another_workspace_does_not_find_the_run(client, run, make_workspace):
    make_workspace("team-b")
    name = "samples+step+0+timestamp+1764500000000+0b0e3f0c.png"
    assert client.get(url(run, workspace="team-b")).status_code == 404
    assert client.get(url(run, "file", workspace="team-b"), {"name": name}).status_code == 404


# --- Comparison --------------------------------------------------------------------------------


def test_the_comparison_shows_each_key_with_the_runs_that_logged_it(
    client, experiment, run, django_assert_max_num_queries
):
    other = create_run(experiment=experiment, run_name="resnet")
    log_images(experiment.workspace, other, "samples", range(0, 10, 2))
    plain = create_run(experiment=experiment, run_name="plain")
    with django_assert_max_num_queries(12):
        response = client.get("/ws/default/compare/", {"runs": f"{run.uuid},{other.uuid},{plain.uuid}"})
    html = response.content.decode()
    entries = embedded(html, "compare-images")
    assert [entry["key"] for entry in entries] == ["samples", "val/<b>masks</b>"]
    samples = entries[0]
    assert samples["steps"] == [0, 1, 2, 3, 4, 6, 8]
    assert [column["name"] for column in samples["runs"]] == ["unet", "resnet"]
    assert html.count("data-image-compare=") == 2 and 'max="6" value="6"' in html


def test_the_comparison_has_no_images_section_when_no_run_logged_images(client, experiment):
    runs = [create_run(experiment=experiment) for _ in range(2)]
    html = client.get("/ws/default/compare/", {"runs": ",".join(r.uuid for r in runs)}).content.decode()
    assert "compare-images" not in html


def test_no_bundle_carries_more_than_its_byte_budget(client, run, monkeypatch):
    monkeypatch.setattr("studio.views.images.BUNDLE_BYTES", 1500)
    series = embedded(client.get(url(run)).content.decode())[1]
    assert len(series["bundles"]) > 1
    for part in series["bundles"]:
        found = bundle(client.get(f"{url(run, 'thumbnails')}?{part['query']}"))
        assert len(found) == part["count"] and sum(map(len, found.values())) <= 1500
    everything = bundle(client.get(url(run, "thumbnails"), {"key": series["key"], "from": 0, "count": 10}))
    assert 0 < sum(map(len, everything.values())) <= 1500 and len(everything) < 10
