"""Images logged per step: file names parsed as the MLflow client writes them, anything else
ignored, one image per step by key, and one listing per run."""

from __future__ import annotations

import pytest

from tests.conftest import ensure_default_workspace
from tests.logged_images import image_names, log_images, put
from tracking.artifacts import FileInfo
from tracking.queries.logged_images import (
    images_from_listing,
    logged_images,
    logged_images_of_runs,
    parse_image_name,
)
from tracking.services.artifacts import proxy_path
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run

UID = "0b0e3f0c-3b1e-4a53-9a1f-1f8e2f4c5d6e"


def files(*names: str, size: int = 10) -> list[FileInfo]:
    return [FileInfo(f"images/{name}", False, size) for name in names]


def test_it_parses_the_names_mlflow_3_writes():
    parsed = parse_image_name(f"val~samples+step+12+timestamp+1764500000000+{UID}.png")
    assert parsed is not None
    assert (parsed.key, parsed.step, parsed.timestamp, parsed.compressed) == (
        "val/samples",
        12,
        1764500000000,
        False,
    )
    thumbnail = parse_image_name(f"val~samples+step+12+timestamp+1764500000000+{UID}+compressed.webp")
    assert thumbnail.compressed and thumbnail.stem == parsed.stem


def test_it_parses_the_older_percent_names_with_hash_for_slash():
    parsed = parse_image_name(f"a#b c.d-e_f%step%3%timestamp%1700000000000%{UID}%compressed.webp")
    assert (parsed.key, parsed.step, parsed.compressed) == ("a/b c.d-e_f", 3, True)


@pytest.mark.parametrize(
    "name",
    [
        "plot.png",  # log_image(image, artifact_file="plot.png")
        f"k+step+1+timestamp+1764500000000+{UID}.svg",
        f"k+step+1+timestamp+1764500000000+{UID}.png.html",
        f"k+step+x+timestamp+1764500000000+{UID}.png",
        f"k+step+1+timestamp+{UID}.png",
        f"k%step+1+timestamp+1764500000000+{UID}.png",  # mixed separators
        f"+step+1+timestamp+1764500000000+{UID}.png",  # no key
        f" +step+1+timestamp+1764500000000+{UID}.png",  # a blank key
        f"k+step+1+timestamp+99999999999999999+{UID}.png",  # past year 9999
        f"k+step+1+timestamp+1764500000000+{UID}+compressed+compressed.webp",
        f"k+step+1+timestamp+1764500000000+{UID}.PNG\n",
        "",
    ],
)
def test_it_ignores_names_that_are_not_logged_images(name):
    assert parse_image_name(name) is None
    assert images_from_listing(files(name)) == []


def test_it_pairs_each_image_with_its_thumbnail_and_orders_steps():
    listing = []
    for step in (10, 2, 7):
        full, small = image_names("loss map", step, 1764500000000 + step)
        listing += [*files(full), FileInfo(f"images/{small}", False, 321)]
    (series,) = images_from_listing(listing)
    assert series.key == "loss map"
    assert series.steps == [2, 7, 10]
    first = series.images[0]
    assert first.file.endswith(".png") and first.thumbnail.endswith("+compressed.webp")
    assert first.thumbnail_size == 321
    assert first.file.removesuffix(".png") == first.thumbnail.removesuffix("+compressed.webp")
    assert first.logged_at.year == 2025


def test_a_step_logged_twice_shows_the_image_logged_last():
    old, _ = image_names("k", 5, 1764500000000)
    new, _ = image_names("k", 5, 1764500009999)
    (series,) = images_from_listing(files(new, old))
    assert [image.file for image in series.images] == [new]


def test_an_image_without_thumbnail_or_thumbnail_without_image_still_counts():
    full, _ = image_names("k", 1, 1764500000000)
    _, small = image_names("k", 2, 1764500000000)
    (series,) = images_from_listing(files(full, small))
    assert [(image.file, image.thumbnail) for image in series.images] == [(full, ""), (small, small)]


def test_keys_are_kept_apart_and_sorted():
    listing = files(*(image_names(key, 0, 1764500000000)[0] for key in ("b", "a/x", "a", "A b.c")))
    assert [series.key for series in images_from_listing(listing)] == ["A b.c", "a", "a/x", "b"]


def test_folders_and_other_files_are_ignored():
    full, _ = image_names("k", 0, 1764500000000)
    listing = [FileInfo("images/sub", True, None), *files("notes.txt", full)]
    (series,) = images_from_listing(listing)
    assert series.steps == [0]


def test_it_reads_thousands_of_steps_from_one_listing():
    listing = []
    for step in range(5000):
        full, small = image_names("k", step, 1764500000000 + step)
        listing += files(full, small)
    (series,) = images_from_listing(listing)
    assert series.steps == list(range(5000))


@pytest.fixture
def experiment(db, settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return create_experiment(workspace=ensure_default_workspace(), name="images")


def test_it_lists_a_runs_images_folder_only(experiment):
    workspace = experiment.workspace
    run = create_run(experiment=experiment)
    log_images(workspace, run, "samples", range(3))
    folder = proxy_path(run.artifact_uri)
    put(workspace, f"{folder}/plot.png", b"png")  # log_image(artifact_file=...): an artifact, not a series
    put(workspace, f"{folder}/other/{image_names('elsewhere', 0, 1764500000000)[0]}", b"png")
    (series,) = logged_images(workspace, run)
    assert (series.key, series.steps) == ("samples", [0, 1, 2])


def test_it_lists_only_the_runs_tagged_with_images_in_one_query(experiment, django_assert_num_queries):
    workspace = experiment.workspace
    runs = [create_run(experiment=experiment) for _ in range(4)]
    log_images(workspace, runs[1], "a", range(2))
    log_images(workspace, runs[3], "b", range(3))
    with django_assert_num_queries(1):
        found = logged_images_of_runs(workspace, runs)
    assert {pk: [s.key for s in series] for pk, series in found.items()} == {
        runs[1].pk: ["a"],
        runs[3].pk: ["b"],
    }


def test_a_run_of_another_server_has_no_images(experiment):
    run = create_run(experiment=experiment)
    run.artifact_uri = "s3://bucket/elsewhere"
    assert logged_images(experiment.workspace, run) == []
