"""docker-compose.yml, read as Compose reads it (YAML merge keys included): no Docker engine runs
here, so what can go wrong in it without running it is checked here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from studio.management.commands.serve import Command as Serve

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
STUDIO = {name: service for name, service in SERVICES.items() if service.get("image") == "studio:latest"}
# Where the server reads its environment: the settings, the data folder, the artifact stores.
SETTINGS_SOURCE = "".join(
    path.read_text()
    for path in [
        ROOT / "studio" / "settings.py",
        ROOT / "studio" / "locations.py",
        *sorted((ROOT / "tracking" / "artifacts").glob("*.py")),
    ]
)


def _serve_options(service: dict) -> dict:
    command = service["command"]
    assert command[:3] == ["python", "manage.py", "serve"], command
    parser = Serve().create_parser("manage.py", "serve")
    return vars(parser.parse_args(command[3:]))


def test_the_studio_runs_as_one_web_server_and_workers_beside_a_database_broker_and_store():
    assert {"web", "worker", "worker-2", "migrate"} <= set(STUDIO)
    assert {"postgres", "redis", "minio"} <= set(SERVICES)
    kinds = {name: _serve_options(service)["only"] for name, service in STUDIO.items() if name != "migrate"}
    assert kinds["web"] == "web" and {kinds["worker"], kinds["worker-2"]} == {"worker"}


def test_exactly_one_default_worker_runs_the_periodic_tasks():
    beats = [
        name
        for name, service in STUDIO.items()
        if name != "migrate"
        and (options := _serve_options(service))["only"] == "worker"
        and not options["queues"]
        and not options["no_beat"]
    ]
    assert beats == ["worker"]


def test_no_two_machines_share_a_disk_only_the_services_they_name():
    volumes = {}
    for name, service in STUDIO.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source not in volumes, f"{name} and {volumes[source]} share {source}"
            volumes[source] = name
    assert set(volumes) <= set(COMPOSE["volumes"])
    for service in STUDIO.values():
        environment = service["environment"]
        assert environment["STUDIO_ARTIFACT_ROOT"].startswith("s3://")
        assert environment["DATABASE_URL"].startswith("postgresql://")
        assert environment["CELERY_BROKER_URL"].startswith("redis://")
        assert environment["STUDIO_CACHE_URL"].startswith("redis://")


def test_every_studio_setting_it_sets_is_one_the_server_reads():
    names = {
        key for service in STUDIO.values() for key in service["environment"] if key.startswith("STUDIO_")
    }
    unread = sorted(name for name in names if f'"{name}"' not in SETTINGS_SOURCE)
    assert not unread, unread


@pytest.mark.parametrize("name", sorted(STUDIO))
def test_every_service_waits_for_what_it_needs(name):
    needs = STUDIO[name]["depends_on"]
    assert {"postgres", "redis", "minio-bucket"} <= set(needs)
    if name != "migrate":
        assert needs["migrate"]["condition"] == "service_completed_successfully"


def test_workers_that_run_jobs_may_make_the_sandbox():
    for name, service in STUDIO.items():
        if name != "migrate" and _serve_options(service)["only"] == "worker":
            assert "seccomp=unconfined" in service["security_opt"], name


def test_the_bucket_it_writes_to_is_the_one_it_creates():
    bucket = re.match(r"s3://([^/]+)", STUDIO["web"]["environment"]["STUDIO_ARTIFACT_ROOT"])[1]
    assert f"store/{bucket}" in " ".join(SERVICES["minio-bucket"]["command"])
