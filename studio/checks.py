"""Start-up checks: misconfiguration stops `serve`, `migrate` and the worker with a clear message."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


def _writable_folder(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return f"cannot create {path}: {exc.strerror}"
    if not os.access(path, os.W_OK | os.X_OK):
        return f"{path} is not writable by this user"
    return None


@register(Tags.compatibility, deploy=False)
def check_configuration(app_configs=None, **kwargs) -> list:
    problems: list = [
        Error(message, hint="See README.md, Configuration.", id="studio.E001")
        for message in settings.CONFIG_ERRORS
    ]
    folders = {}
    if isinstance(settings.ARTIFACT_ROOT, Path):  # an object store is checked by its first use
        folders["STUDIO_ARTIFACT_ROOT"] = settings.ARTIFACT_ROOT
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folders["the broker folder (STUDIO_DATA_DIR/broker)"] = settings.BROKER_DIR
    for name, folder in folders.items():
        problem = _writable_folder(Path(folder))
        if problem:
            problems.append(Error(f"{name}: {problem}", id="studio.E002"))
    problems += _check_object_store()
    problems += _check_sandbox()
    if not (1 <= settings.STUDIO_PORT <= 65535):
        problems.append(Error(f"STUDIO_PORT={settings.STUDIO_PORT} is not a TCP port.", id="studio.E003"))
    if settings.DEBUG and settings.STUDIO_HOST not in {"127.0.0.1", "localhost", "::1"}:
        problems.append(
            Warning(
                "STUDIO_DEBUG is on while listening beyond loopback.",
                hint="Debug pages show settings and code; turn it off.",
                id="studio.W001",
            )
        )
    if settings.STUDIO_REQUIRE_AUTH and not settings.GATEWAY_SECRETS_KEY:
        problems.append(
            Warning(
                "STUDIO_SECRETS_KEY is not set: AI gateway secrets are encrypted with a key derived "
                "from STUDIO_SECRET_KEY, so changing that one makes them unreadable.",
                hint="Set STUDIO_SECRETS_KEY to a long random string (README.md, Configuration).",
                id="studio.W002",
            )
        )
    return problems


def reachable_by(path: Path, uid: int, gid: int) -> bool:
    """Whether a process of uid/gid can enter `path` (every folder on the way searchable by it)."""
    for folder in [*reversed(path.parents), path]:
        try:
            info = folder.stat()
        except OSError:
            return False
        if info.st_uid == uid:
            bit = 0o100
        elif info.st_gid == gid:
            bit = 0o010
        else:
            bit = 0o001
        if not info.st_mode & bit:
            return False
    return True


def _check_object_store() -> list:
    """An object store's URI and credentials are checked by building its store, which sends no
    request; whether the container or bucket exists shows at its first use."""
    from django.core.exceptions import ImproperlyConfigured

    from tracking.artifacts import is_local_root, store_for
    from tracking.errors import InvalidParameterValue

    if is_local_root(settings.ARTIFACT_ROOT):
        return []
    try:
        store_for(settings.ARTIFACT_ROOT)
    except (InvalidParameterValue, ImproperlyConfigured) as error:
        return [Error(f"STUDIO_ARTIFACT_ROOT={settings.ARTIFACT_ROOT}: {error}", id="studio.E006")]
    return []


def _check_sandbox() -> list:
    """STUDIO_JOBS_SANDBOX=bubblewrap where bubblewrap cannot work, and folders the sandbox's user
    cannot reach, stop the start-up; running without a sandbox is said at the worker's start."""
    from tracking.jobs.sandbox import Bubblewrap

    if settings.JOBS_SANDBOX == "none":
        return []
    problems: list = []
    why = Bubblewrap().unavailable()
    if why and settings.JOBS_SANDBOX == "bubblewrap":
        problems.append(
            Error(
                f"STUDIO_JOBS_SANDBOX=bubblewrap, but {why}",
                hint="Install bubblewrap (apt-get install bubblewrap), or set STUDIO_JOBS_SANDBOX=auto.",
                id="studio.E004",
            )
        )
    if not why and os.geteuid() == 0:
        for name, folder in (
            ("STUDIO_JOBS_DIR", settings.JOBS_DIR),
            ("STUDIO_ENVIRONMENTS_DIR", settings.ENVIRONMENTS_DIR),
        ):
            folder = Path(folder)
            folder.mkdir(parents=True, exist_ok=True)
            if not reachable_by(folder, settings.JOB_UID, settings.JOB_GID):
                problems.append(
                    Error(
                        f"{name}={folder}: the jobs' sandbox runs as uid {settings.JOB_UID} "
                        "(STUDIO_JOB_UID), which cannot enter it.",
                        hint="Let others search (chmod o+x) every folder on the way, or choose another folder.",
                        id="studio.E005",
                    )
                )
    return problems
