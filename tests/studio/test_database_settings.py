"""What the environment makes of the database's settings (studio.settings, read in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PG_URL = "postgresql://studio@db.example:5432/studio"


def settings_with(**environment: str) -> dict:
    code = (
        "import json, studio.settings as s; "
        "print(json.dumps({'options': s.DATABASES['default'].get('OPTIONS', {}), 'errors': s.CONFIG_ERRORS}, default=str))"
    )
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STUDIO_POSTGRES", "DATABASE_URL"))
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env={**env, **environment}, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_postgresql_keeps_every_acknowledged_write_unless_told_otherwise():
    assert "options" not in settings_with(DATABASE_URL=PG_URL)["options"]

    relaxed = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_SYNCHRONOUS_COMMIT="off")

    assert relaxed["options"]["options"] == "-c synchronous_commit=off"
    assert relaxed["errors"] == []


def test_an_unknown_synchronous_commit_value_is_a_configuration_error():
    wrong = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_SYNCHRONOUS_COMMIT="sometimes; DROP")

    assert "options" not in wrong["options"]
    assert any("STUDIO_POSTGRES_SYNCHRONOUS_COMMIT" in error for error in wrong["errors"])


def test_sqlite_leaves_checkpoints_to_the_web_workers_thread():
    options = settings_with(DATABASE_URL="sqlite:////tmp/studio-settings-test.sqlite3")["options"]
    assert "PRAGMA wal_autocheckpoint=16384;" in options["init_command"]
