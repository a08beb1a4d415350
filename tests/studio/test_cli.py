"""`studio COMMAND` (and `manage.py`, the same): the server's commands from any folder, with a clear
message, and nothing left behind, when the database is missing or not migrated."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).parent / "studio"


def studio(*arguments: str, data_dir: Path, cwd: Path, entry: str = "console") -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "STUDIO_DATA_DIR")
    }
    environment["STUDIO_DATA_DIR"] = str(data_dir)
    command = [str(CONSOLE_SCRIPT)] if entry == "console" else [sys.executable, str(ROOT / "manage.py")]
    return subprocess.run(
        [*command, *arguments], cwd=cwd, env=environment, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(params=["console", "manage.py"])
def entry(request):
    if request.param == "console" and not CONSOLE_SCRIPT.exists():
        pytest.fail(f"{CONSOLE_SCRIPT} is missing: `make` installs the project with its console script")
    return request.param


def test_without_a_database_it_says_how_to_make_one_and_creates_nothing(tmp_path, entry):
    data = tmp_path / "server-data"

    done = studio("import_mlruns", str(tmp_path), data_dir=data, cwd=tmp_path, entry=entry)

    assert done.returncode == 2
    assert f"No database at {data / 'studio.sqlite3'}: `studio migrate` creates it" in done.stderr
    assert "set the same STUDIO_DATA_DIR (or DATABASE_URL) here" in done.stderr
    assert "Traceback" not in done.stderr
    assert not data.exists() and not (tmp_path / "data").exists()


def test_a_database_that_is_not_migrated_is_named_with_what_to_run(tmp_path, entry):
    data = tmp_path / "server-data"
    data.mkdir()
    sqlite3.connect(data / "studio.sqlite3").close()

    done = studio("delete", "run", "x" * 32, data_dir=data, cwd=tmp_path, entry=entry)

    assert done.returncode == 2
    assert f"The database at {data / 'studio.sqlite3'} is not migrated (" in done.stderr
    assert "run `studio migrate` first" in done.stderr


def test_after_migrate_the_commands_run_from_any_folder(tmp_path, entry):
    data = tmp_path / "server-data"
    elsewhere = tmp_path / "somewhere-else"
    elsewhere.mkdir()

    migrated = studio("migrate", "-v", "0", data_dir=data, cwd=elsewhere, entry=entry)
    done = studio("import_mlruns", str(tmp_path / "nowhere"), data_dir=data, cwd=elsewhere, entry=entry)

    assert migrated.returncode == 0, migrated.stderr
    assert done.returncode == 1
    assert "nowhere does not exist" in done.stderr
    assert "No hostname was supplied" not in done.stderr
    assert not (elsewhere / "data").exists()


def test_help_needs_no_database(tmp_path, entry):
    done = studio("import_mlruns", "--help", data_dir=tmp_path / "none", cwd=tmp_path, entry=entry)

    assert done.returncode == 0
    assert "--create-workspace" in done.stdout
