"""Bad input: unsafe or corrupt archives, links out of the folder, malformed files.

Each gives a clear reason on the import's row (the whole import's error, or a problem naming the
file), nothing imported before is lost, and the import returns instead of raising (the worker
that runs it carries on).
"""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ensure_default_workspace
from tests.integration.mlruns_generator import generate, write_experiment, write_run
from tracking.ingest.archives import ArchiveRefused, clean_name, unpack
from tracking.models import Metric, Param, Run

from .conftest import import_folder, table_counts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def store(tmp_path) -> Path:
    root = tmp_path / "store" / "mlruns"
    generate(root, runs=4, points=40, keys=2, experiments=1)
    return root


def _zip(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return path


def _zip_of(folder: Path, path: Path, extra: dict[str, bytes] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, f"mlruns/{file.relative_to(folder).as_posix()}")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
    return path


def _tar_with(path: Path, folder: Path, member: tarfile.TarInfo) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        archive.add(folder, arcname="mlruns")
        archive.addfile(member, io.BytesIO(b"") if member.isfile() else None)
    return path


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _import_archive(path: Path):
    return import_folder(ensure_default_workspace(), path, kind="archive")


# --- Archives --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../escaped.txt", "'..'"),
        ("mlruns/../../escaped.txt", "'..'"),
        ("/tmp/escaped.txt", "absolute path"),
        ("C:/escaped.txt", "absolute path"),
        ("..\\escaped.txt", "'..'"),
    ],
)
def test_a_zip_slip_entry_refuses_the_whole_archive(store, tmp_path, name, reason):
    archive = _zip_of(store, tmp_path / "slip.zip", {name: b"gotcha"})

    row = _import_archive(archive)

    assert row.status == "FAILED"
    assert reason in row.error and "refused" in row.error
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped.txt").exists()
    assert table_counts()["Run"] == 0


def test_a_link_out_of_the_archive_refuses_it(store, tmp_path):
    archive = _tar_with(tmp_path / "link.tar.gz", store, _link("mlruns/secret", "/etc/passwd"))

    row = _import_archive(archive)

    assert row.status == "FAILED"
    assert "outside the archive" in row.error


def test_a_link_inside_the_archive_is_left_out_and_reported(store, tmp_path):
    archive = _tar_with(tmp_path / "link.tar.gz", store, _link("mlruns/alias", "0/meta.yaml"))

    row = _import_archive(archive)

    assert row.status == "SUCCEEDED", row.error
    assert {"file": "mlruns/alias", "message": "a link inside the archive; not unpacked"} in row.problems
    assert Run.objects.count() == 4


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04 this is not really a zip", b"\x1f\x8b\x08\x00 truncated gzip", b"just some text"],
    ids=["zip", "gzip", "text"],
)
def test_a_corrupt_archive_fails_the_import_and_keeps_what_was_imported_before(store, tmp_path, content):
    assert import_folder(ensure_default_workspace(), store).status == "SUCCEEDED"
    before = table_counts()
    broken = tmp_path / "broken.zip"
    broken.write_bytes(content)

    row = _import_archive(broken)

    assert row.status == "FAILED"
    assert "corrupt" in row.error
    assert table_counts() == before


def test_a_truncated_zip_of_a_good_store_is_refused(store, tmp_path):
    whole = _zip_of(store, tmp_path / "whole.zip").read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])

    row = _import_archive(cut)

    assert row.status == "FAILED" and "corrupt" in row.error


def test_an_archive_that_unpacks_too_large_is_refused(store, tmp_path, settings):
    settings.IMPORT_MAX_EXTRACTED_BYTES = 1000
    row = _import_archive(_zip_of(store, tmp_path / "big.zip"))

    assert row.status == "FAILED" and "at most 1000" in row.error


def test_an_archive_the_disk_has_no_room_for_is_refused_before_writing(store, tmp_path, settings):
    settings.IMPORT_DISK_RESERVE_BYTES = 10**18  # more than any disk: no room left for anything
    row = _import_archive(_zip_of(store, tmp_path / "big.zip"))

    assert row.status == "FAILED" and "the disk has room for 0" in row.error
    assert not list(Path(settings.IMPORTS_DIR).rglob("*.json"))  # nothing of it was unpacked


def test_a_good_archive_is_imported_and_removed_with_what_it_unpacked_to(store, tmp_path, settings):
    uploads = Path(settings.IMPORTS_DIR) / "uploads"
    uploads.mkdir(parents=True)
    archive = _zip_of(store, uploads / "upload.archive")

    row = _import_archive(archive)

    assert row.status == "SUCCEEDED", row.error
    assert Run.objects.count() == 4 and Metric.objects.count() == 40
    assert not archive.exists()
    assert not (Path(settings.IMPORTS_DIR) / str(row.pk)).exists()


def test_clean_name_keeps_ordinary_paths():
    assert clean_name("mlruns/./0//meta.yaml") == "mlruns/0/meta.yaml"
    with pytest.raises(ArchiveRefused):
        clean_name("a/\x00b")


def test_unpacking_writes_nothing_when_an_entry_is_refused(tmp_path):
    archive = _zip(tmp_path / "a.zip", {"good.txt": b"ok", "../bad.txt": b"no"})
    with pytest.raises(ArchiveRefused):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.partial").exists()


# --- Folders ---------------------------------------------------------------------------------------


def test_symlinks_out_of_the_folder_are_not_followed(store, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password")
    run = next(folder for folder in (store / "100").iterdir() if folder.is_dir())
    os.symlink(secret, run / "params" / "stolen")
    os.symlink(secret, run / "artifacts" / "stolen.txt")
    os.symlink(tmp_path, run / "artifacts" / "everything")

    row = import_folder(ensure_default_workspace(), store)

    assert row.status == "SUCCEEDED", row.error
    messages = {problem["file"]: problem["message"] for problem in row.problems}
    assert "outside the imported folder" in messages[f"100/{run.name}/params/stolen"]
    assert "outside the imported folder" in messages[f"100/{run.name}/artifacts/stolen.txt"]
    assert "outside the imported folder" in messages[f"100/{run.name}/artifacts/everything"]
    assert not Param.objects.filter(key="stolen").exists()
    assert row.counts["artifacts"]["written"] == 4  # each run's notes.txt, nothing of the links


def test_a_malformed_meta_yaml_skips_its_run_and_imports_the_others(store):
    broken = sorted(folder for folder in (store / "100").iterdir() if folder.is_dir())[1]
    (broken / "meta.yaml").write_text("run_id: [unclosed\nstatus: 3\n")
    mismatched = sorted(folder for folder in (store / "100").iterdir() if folder.is_dir())[2]
    (mismatched / "meta.yaml").write_text("run_id: somebody-else\n")

    row = import_folder(ensure_default_workspace(), store)

    assert row.status == "SUCCEEDED", row.error
    messages = {problem["file"]: problem["message"] for problem in row.problems}
    assert messages[f"100/{broken.name}/meta.yaml"].startswith("malformed YAML (line ")
    assert "does not match the folder's name" in messages[f"100/{mismatched.name}/meta.yaml"]
    assert Run.objects.count() == 2
    assert row.counts["runs"] == {"read": 4, "written": 2}
    assert row.done == row.total  # the skipped runs still move the import along


def test_a_malformed_experiment_meta_yaml_is_reported(tmp_path):
    root = tmp_path / "mlruns"
    write_experiment(root, "0", "Default")
    (root / "5").mkdir()
    (root / "5" / "meta.yaml").write_text("- just\n- a list\n")

    row = import_folder(ensure_default_workspace(), root)

    assert row.status == "SUCCEEDED", row.error
    assert row.problems == [{"file": "5/meta.yaml", "message": "malformed: expected a mapping of fields"}]


def test_bad_lines_of_a_metric_file_are_reported_and_the_good_ones_imported(tmp_path):
    import random

    root = tmp_path / "mlruns"
    experiment = write_experiment(root, "1", "exp")
    run_id = write_run(experiment, index=0, points=0, keys=1, rng=random.Random(1))
    (experiment / run_id / "metrics" / "loss").write_bytes(
        b"1700000000000 0.5 0\n"
        b"garbage\n"
        b"1700000000001 not-a-number 1\n"
        b"1700000000002 0.25 2 extra\n"
        b"\n"
        b"1700000000003 \xff\xfe 3\n"
        b"1700000000004 0.125 4\n"
        b"1700000000005 0.0625\n"
    )

    row = import_folder(ensure_default_workspace(), root)

    assert row.status == "SUCCEEDED", row.error
    metric_file = f"1/{run_id}/metrics/loss"
    reported = [problem["message"] for problem in row.problems if problem["file"] == metric_file]
    assert [message.split(":")[0] for message in reported] == [
        "line 2 skipped",
        "line 3 skipped",
        "line 4 skipped",
        "line 6 skipped",
    ]
    assert "'garbage'" in reported[0]
    stored = sorted(Metric.objects.filter(run__uuid=run_id).values_list("step", "value"))
    assert stored == [(0, 0.0625), (0, 0.5), (4, 0.125)]
    assert row.counts["metrics"] == {"read": 3, "written": 3}
