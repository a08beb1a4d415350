"""Azurite, Microsoft's Azure Storage emulator, as a process the tests start: what the Azure
artifact store is tested against, and what a deployed server is given as its artifact root.

`start_azurite(folder)` installs Azurite from npm on first use (into a cache folder outside the
repository, shared by test runs and by xdist workers), starts its blob service on a free loopback
port, and returns what a server needs: `environment` (the connection string, which carries the
emulator's endpoint and its well-known account key) and `root_uri`, a `wasbs://` root in a
container of its own. The `azurite` fixture does the same once per test session (per xdist
worker), and skips where node and npm are missing.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.deployed import free_port, stop_group, wait_for

AZURITE_PACKAGE = "azurite@3"
CACHE_DIR = Path(os.environ.get("STUDIO_TEST_CACHE_DIR", Path.home() / ".cache" / "studio-tests")) / "azurite"
INSTALL_TIMEOUT_SECONDS = 300
START_TIMEOUT_SECONDS = 30
# The emulator's one account and its key, published by Microsoft: not a secret.
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    """A running Azurite blob service."""

    blob_endpoint: str  # http://127.0.0.1:<port>/devstoreaccount1
    process: subprocess.Popen
    log_path: Path
    root_uri: str = field(init=False, default="")

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    @property
    def environment(self) -> dict[str, str]:
        """The variables a server (or the tests' own process) needs to reach this Azurite."""
        return {"AZURE_STORAGE_CONNECTION_STRING": self.connection_string}

    def service_client(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string)

    def fresh_root(self, prefix: str = "artifacts") -> str:
        """A `wasbs://` artifact root in a new, empty container."""
        container = f"studio-{secrets.token_hex(6)}"
        self.service_client().create_container(container)
        return f"wasbs://{container}@{ACCOUNT}.blob.core.windows.net/{prefix}"

    def blob_names(self, root_uri: str) -> list[str]:
        """Every blob under a root, by its name relative to the root: what is really stored."""
        from tracking.artifacts.azure_blob import BlobRoot

        root = BlobRoot.parse(root_uri)
        container = self.service_client().get_container_client(root.container)
        start = root.folder_key("")
        return sorted(
            blob.name[len(start) :] for blob in container.list_blobs(name_starts_with=start or None)
        )

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except FileNotFoundError:
            return "(no log)"

    def stop(self) -> None:
        stop_group(self.process, grace=5)


def missing_tools() -> str | None:
    """Why Azurite cannot run here, or None if it can."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            return f"Azurite needs {tool}, which is not installed"
    return None


def install_azurite() -> Path:
    """The `azurite-blob` program, installed from npm into CACHE_DIR unless it is there already."""
    program = CACHE_DIR / "node_modules" / ".bin" / "azurite-blob"
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Two xdist workers starting at once install once: the second waits and finds it done.
    with (CACHE_DIR / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not program.exists():
            subprocess.run(
                ["npm", "install", "--no-audit", "--no-fund", "--prefix", str(CACHE_DIR), AZURITE_PACKAGE],
                check=True,
                capture_output=True,
                timeout=INSTALL_TIMEOUT_SECONDS,
            )
    return program


def start_azurite(folder: Path) -> Azurite:
    """Azurite's blob service on a free loopback port, its data and log in `folder`, with a fresh
    root ready in `root_uri`."""
    program = install_azurite()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = folder / "azurite.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(program), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder),
             "--silent", "--skipApiVersionCheck", "--loose"],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    service = Azurite(f"http://127.0.0.1:{port}/{ACCOUNT}", process, log_path)

    def listening() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"Azurite exited at start: {service.log_tail()}")
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    try:
        wait_for(listening, START_TIMEOUT_SECONDS, lambda: f"Azurite to listen: {service.log_tail()}")
        service.root_uri = service.fresh_root()
    except BaseException:
        service.stop()
        raise
    return service


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Iterator[Azurite]:
    """Azurite for the whole test session; skipped where node or npm is missing."""
    reason = missing_tools()
    if reason:
        pytest.skip(reason)
    service = start_azurite(tmp_path_factory.mktemp("azurite"))
    yield service
    service.stop()
