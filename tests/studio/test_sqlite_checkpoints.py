"""SQLite's WAL is written back by a thread of each web worker (studio.sqlite_checkpoints)."""

from __future__ import annotations

import pytest
from django.db import connection

from studio.sqlite_checkpoints import WAL_AUTOCHECKPOINT_PAGES, checkpoint_once, start_checkpointer

pytestmark = pytest.mark.django_db


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's WAL")
def test_connections_leave_checkpoints_to_the_thread_until_the_wal_is_large():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone() == (WAL_AUTOCHECKPOINT_PAGES,)
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone() == ("wal",)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's WAL")
@pytest.mark.django_db(transaction=True)  # a checkpoint cannot run inside a transaction
def test_a_checkpoint_writes_the_wal_back():
    from tracking.models import ResourceGroup

    ResourceGroup.objects.create(name="written-to-the-wal")

    busy, frames, written = checkpoint_once()
    assert busy == 0 and frames > 0 and written == frames


def test_there_is_no_thread_on_postgresql_or_when_switched_off():
    if connection.vendor == "sqlite":
        assert start_checkpointer(0) is None
    else:
        assert start_checkpointer(1.0) is None
