"""What the environment makes of the database's settings (studio.settings, read in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

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
    assert "synchronous_commit" not in settings_with(DATABASE_URL=PG_URL)["options"]["options"]

    relaxed = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_SYNCHRONOUS_COMMIT="off")

    assert relaxed["options"]["options"] == "-c synchronous_commit=off -c random_page_cost=1.1 -c jit=off"
    assert relaxed["errors"] == []


def test_an_unknown_synchronous_commit_value_is_a_configuration_error():
    wrong = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_SYNCHRONOUS_COMMIT="sometimes; DROP")

    assert "synchronous_commit" not in wrong["options"]["options"]
    assert any("STUDIO_POSTGRES_SYNCHRONOUS_COMMIT" in error for error in wrong["errors"])


def test_postgresql_s_planner_prices_random_reads_as_on_an_ssd_unless_told_otherwise():
    assert settings_with(DATABASE_URL=PG_URL)["options"]["options"] == "-c random_page_cost=1.1 -c jit=off"
    assert settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_RANDOM_PAGE_COST="2.5")["options"][
        "options"
    ] == ("-c random_page_cost=2.5 -c jit=off")
    assert settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_RANDOM_PAGE_COST="server")["options"][
        "options"
    ] == ("-c jit=off")


@pytest.mark.parametrize("value", ["-1", "0", "fast", "1; DROP TABLE x", "inf", "nan"])
def test_a_random_page_cost_that_is_not_a_positive_number_is_a_configuration_error(value):
    wrong = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_RANDOM_PAGE_COST=value)

    assert "random_page_cost" not in wrong["options"]["options"]
    assert any("STUDIO_POSTGRES_RANDOM_PAGE_COST" in error for error in wrong["errors"])


def test_postgresql_compiles_no_query_to_machine_code_unless_told_otherwise():
    assert settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_JIT="on")["options"]["options"].endswith(
        "-c jit=on"
    )
    kept = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_JIT="server")["options"]["options"]
    assert "jit" not in kept
    wrong = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_JIT="off -c statement_timeout=1")
    assert "jit" not in wrong["options"]["options"]
    assert any("STUDIO_POSTGRES_JIT" in error for error in wrong["errors"])


def test_sqlite_leaves_checkpoints_to_the_web_workers_thread():
    options = settings_with(DATABASE_URL="sqlite:////tmp/studio-settings-test.sqlite3")["options"]
    assert "PRAGMA wal_autocheckpoint=16384;" in options["init_command"]


def test_postgresql_binds_on_the_server_and_prepares_what_a_connection_runs_again():
    options = settings_with(DATABASE_URL=PG_URL)["options"]
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 2

    behind_a_pooler = settings_with(DATABASE_URL=PG_URL, STUDIO_POSTGRES_PREPARED_STATEMENTS="off")["options"]
    assert "server_side_binding" not in behind_a_pooler
    assert "prepare_threshold" not in behind_a_pooler


def test_a_connection_prepares_a_statement_it_runs_again(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    with connection.cursor() as cursor:
        for _ in range(3):
            cursor.execute("SELECT count(*) FROM tracking_workspace WHERE id > %s", [0])
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert "SELECT count(*) FROM tracking_workspace WHERE id > $1" in prepared


def test_a_connection_runs_with_jit_and_random_page_cost_as_configured(db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's settings")
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('jit'), current_setting('random_page_cost')")
        assert cursor.fetchone() == ("off", "1.1")
