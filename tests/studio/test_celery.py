"""The Celery app: on a laptop its broker is a folder, made by whichever process sends first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import studio.celery

ROOT = Path(__file__).resolve().parents[2]


def test_the_first_message_sent_makes_the_broker_folders(settings, tmp_path, monkeypatch):
    folders = {
        "data_folder_in": str(tmp_path / "broker" / "queue"),
        "data_folder_out": str(tmp_path / "broker" / "queue"),
        "processed_folder": str(tmp_path / "broker" / "processed"),
        "control_folder": str(tmp_path / "broker" / "control"),
    }
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {**folders, "store_processed": False}
    monkeypatch.setattr(studio.celery, "_broker_folders_made", False)

    studio.celery.before_task_publish.send(sender="tracking.tasks.warm_metric_charts", body=(), headers={})

    assert all((tmp_path / "broker" / name).is_dir() for name in ("queue", "processed", "control"))


def test_with_redis_no_folder_is_made(settings, tmp_path, monkeypatch):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:6379/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "queue")}
    monkeypatch.setattr(studio.celery, "_broker_folders_made", False)

    studio.celery.make_broker_folders()

    assert not (tmp_path / "queue").exists()


@pytest.mark.parametrize("broker", [None, "filesystem://", "filesystem:///"])
def test_the_laptops_broker_connects_without_kombus_missing_hostname_warning(tmp_path, broker):
    """Every command that sent a task printed `WARNING kombu.connection: No hostname was supplied`."""
    environment = {key: value for key, value in os.environ.items() if key != "CELERY_BROKER_URL"}
    environment["STUDIO_DATA_DIR"] = str(tmp_path)
    if broker:
        environment["CELERY_BROKER_URL"] = broker
    script = (
        "import django; django.setup()\n"
        "from studio.celery import app\n"
        "connection = app.connection_for_write()\n"
        "connection._info()\n"
        "print(connection.as_uri())\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**environment, "DJANGO_SETTINGS_MODULE": "studio.settings"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("filesystem://")
    assert "No hostname was supplied" not in done.stderr + done.stdout
