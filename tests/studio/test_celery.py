"""The Celery app: on a laptop its broker is a folder, made by whichever process sends first."""

from __future__ import annotations

import studio.celery


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
