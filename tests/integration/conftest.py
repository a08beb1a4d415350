"""Real processes: a Celery worker and `manage.py serve`, on the broker and database configured."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from tests.deployed import ROOT, database_url_of_test_database, free_port, stop_group, wait_for

__all__ = ["ROOT", "child_environment", "free_port", "wait_for", "worker_logs"]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


def child_environment(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env["STUDIO_DATA_DIR"] = str(settings.DATA_DIR)
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


@pytest.fixture
def celery_worker_process(transactional_db, tmp_path):
    """A real `celery worker` on the configured broker, sharing this test's database."""
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for folder in settings.CELERY_BROKER_TRANSPORT_OPTIONS.values():
            if isinstance(folder, str):
                Path(folder).mkdir(parents=True, exist_ok=True)
    name = f"test-{os.getpid()}@integration"
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "studio", "worker", "-n", name, "--pool", "threads",
         "--concurrency", "2", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        cwd=ROOT,
        env=child_environment(DATABASE_URL=database_url_of_test_database()),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    process.hostname = name
    process.log_path = tmp_path / "worker.log"
    yield process
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


def _prepare_broker() -> None:
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for folder in settings.CELERY_BROKER_TRANSPORT_OPTIONS.values():
            if isinstance(folder, str):
                Path(folder).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def worker_processes(transactional_db, tmp_path):
    """Starts real `celery worker` processes on demand, sharing this test's database, each in a
    process group of its own (so that a test can kill one outright); stops them all at the end.

    `start(**environment)` adds settings (STUDIO_...) to the worker's environment."""
    _prepare_broker()
    started: list[subprocess.Popen] = []

    def start(**environment: str) -> subprocess.Popen:
        number = len(started) + 1
        log = tmp_path / f"worker-{number}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "studio", "worker", "-n", f"w{number}-{os.getpid()}@test",
             "--pool", "threads", "--concurrency", "1", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            cwd=ROOT,
            env=child_environment(DATABASE_URL=database_url_of_test_database(), **environment),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        process.log_path = log
        started.append(process)
        return process

    yield start
    for process in started:
        stop_group(process)


def worker_logs(*processes: subprocess.Popen) -> str:
    return "\n".join(process.log_path.read_text()[-1500:] for process in processes)
