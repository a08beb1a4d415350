"""`studio COMMAND`: the server's commands (`manage.py`'s), with the settings `make run` uses.

`make` installs it as a console script, `.venv/bin/studio`, so it runs from any folder without
activating the virtualenv: `.venv/bin/studio import_mlruns ~/old/mlruns --workspace team-a`.
Commands that work on the workspaces' data first check that there is a migrated database where
the settings point (STUDIO_DATA_DIR, DATABASE_URL), and say what to do when there is not, rather
than fail with `no such table` (and leave an empty database behind).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from studio import locations

# Commands that read or write what is in the database.
DATA_COMMANDS = frozenset(
    {"import_mlruns", "delete", "submit_job", "serve", "createsuperuser", "changepassword"}
)
NOT_MIGRATED = 2


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    command = argv[1] if len(argv) > 1 else ""
    if command in DATA_COMMANDS and "--help" not in argv and "-h" not in argv:
        problem = missing_database()  # before the settings, which would create the data folder
        if problem is None:
            import django

            django.setup()
            problem = unmigrated_database()
        if problem:
            sys.stderr.write(f"{problem}\n")
            raise SystemExit(NOT_MIGRATED)
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


def missing_database() -> str | None:
    """A SQLite file that does not exist yet, said before anything creates it."""
    url = locations.database_url()
    if not url.startswith("sqlite:"):
        return None
    import dj_database_url

    path = Path(dj_database_url.parse(url)["NAME"])
    if path.exists():
        return None
    return (
        f"No database at {path}: `studio migrate` creates it (`make run` does that for you). "
        "If your server keeps its data elsewhere, set the same STUDIO_DATA_DIR (or DATABASE_URL) here."
    )


def unmigrated_database() -> str | None:
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    where = _where()
    try:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    except DatabaseError as error:
        return f"Cannot use the database at {where}: {error}".strip()
    if not pending:
        return None
    return (
        f"The database at {where} is not migrated ({len(pending)} migration{'s' if len(pending) != 1 else ''} "
        "to apply): run `studio migrate` first (`make run` migrates for you)."
    )


def _where() -> str:
    """The database, without its password."""
    from django.db import connection

    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return str(settings["NAME"])
    return f"{settings.get('HOST') or 'localhost'}:{settings.get('PORT') or 5432}/{settings['NAME']}"
