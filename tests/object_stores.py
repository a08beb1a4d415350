"""The artifact store a test run uses, chosen by STUDIO_TEST_ARTIFACT_STORE (local, s3, azure).

`local` (the default) keeps the data folder's artifacts directory. An object store is a real
service started once per test session (once per xdist worker): `s3` is moto's S3 server, run as
a process. The session points `settings.ARTIFACT_ROOT` at a fresh prefix of it and exports what a
client needs (endpoint, credentials, region) to `os.environ`, so the tests' own process and every
`manage.py serve` the tests start (tests/deployed.py) use the same store.

Tests that inspect stored files do it through the store (`default_store()`), never on disk, so
that the suites marked `artifacts` pass on every store:

    STUDIO_TEST_ARTIFACT_STORE=s3 pytest -m artifacts

Another store is one more entry in STARTERS: a function that starts its service and yields the
`ObjectStoreService` (the Azure starter lives in tests/azurite_service.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
import requests

from tests.deployed import free_port, stop_group, wait_for

STORE_VARIABLE = "STUDIO_TEST_ARTIFACT_STORE"
S3_BUCKET = "studio-tests"


@dataclass
class ObjectStoreService:
    """A running store service: the artifact root to use, and the environment its clients need."""

    name: str
    artifact_root: str
    environment: dict[str, str] = field(default_factory=dict)


@contextmanager
def moto_s3(folder) -> Iterator[ObjectStoreService]:
    """moto's S3 server on a free port, with an empty bucket; stopped at the end."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    log = (folder / "moto.log").open("wb")
    saved_environment: dict[str, str | None] = {}
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:

        def up() -> bool:
            try:
                return requests.get(f"{endpoint}/moto-api/", timeout=1).ok
            except requests.RequestException:
                return False

        wait_for(up, 30, "moto's S3 server to start")
        environment = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
        for variable in ("MLFLOW_S3_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            saved_environment.setdefault(variable, os.environ.pop(variable, None))
        for variable, value in environment.items():
            saved_environment.setdefault(variable, os.environ.get(variable))
            os.environ[variable] = value
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=S3_BUCKET)
        yield ObjectStoreService(
            name="s3",
            artifact_root=f"s3://{S3_BUCKET}/run-{uuid.uuid4().hex[:12]}",
            environment=environment,
        )
    finally:
        stop_group(process, grace=5)
        log.close()
        for variable, value in saved_environment.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


@contextmanager
def azurite_blobs(folder) -> Iterator[ObjectStoreService]:
    """Azurite's blob service (tests/azurite_service.py) with a container of the run's own; the
    connection string exported for the tests' process, restored at the end."""
    from tests.azurite_service import start_azurite

    service = start_azurite(folder)
    saved = {
        name: os.environ.get(name) for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY")
    }
    os.environ.pop("AZURE_STORAGE_ACCESS_KEY", None)
    os.environ.update(service.environment)
    try:
        yield ObjectStoreService(
            name="azure", artifact_root=service.root_uri, environment=service.environment
        )
    finally:
        service.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


STARTERS: dict[str, Callable[..., object] | None] = {
    "local": None,
    "s3": moto_s3,
    "azure": azurite_blobs,
}


def chosen_store() -> str:
    name = os.environ.get(STORE_VARIABLE, "local").strip().lower() or "local"
    if name not in STARTERS:
        raise pytest.UsageError(f"{STORE_VARIABLE}={name!r}: choose one of {', '.join(STARTERS)}.")
    return name


@pytest.fixture(scope="session", autouse=True)
def object_store_service(tmp_path_factory) -> Iterator[ObjectStoreService | None]:
    """The store of the whole run: None for the local folder, else the started service, whose
    root replaces settings.ARTIFACT_ROOT until the session ends."""
    starter = STARTERS[chosen_store()]
    if starter is None:
        yield None
        return
    from django.conf import settings

    with starter(tmp_path_factory.mktemp("object-store")) as service:
        original, original_variable = settings.ARTIFACT_ROOT, os.environ.get("STUDIO_ARTIFACT_ROOT")
        settings.ARTIFACT_ROOT = service.artifact_root
        # And for the processes the tests start themselves (Celery workers, commands).
        os.environ["STUDIO_ARTIFACT_ROOT"] = service.artifact_root
        try:
            yield service
        finally:
            settings.ARTIFACT_ROOT = original
            if original_variable is None:
                os.environ.pop("STUDIO_ARTIFACT_ROOT", None)
            else:
                os.environ["STUDIO_ARTIFACT_ROOT"] = original_variable


@pytest.fixture(scope="session")
def s3_service(object_store_service, tmp_path_factory) -> Iterator[ObjectStoreService]:
    """An S3 server for the S3 store's own tests, whichever store the run uses: the run's, or a
    moto server of their own."""
    if object_store_service is not None and object_store_service.name == "s3":
        yield object_store_service
        return
    with moto_s3(tmp_path_factory.mktemp("moto")) as service:
        yield service


def file_names(store) -> list[str]:
    """The names of the files stored anywhere under a store, sorted (what a test checks was kept)."""
    return sorted(info.path.rpartition("/")[2] for info in store.walk())


def pytest_report_header(config) -> str:
    return f"artifact store: {chosen_store()} ({STORE_VARIABLE})"
