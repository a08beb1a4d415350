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
    folders = {"STUDIO_ARTIFACT_ROOT": settings.ARTIFACT_ROOT}
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folders["the broker folder (STUDIO_DATA_DIR/broker)"] = settings.BROKER_DIR
    for name, folder in folders.items():
        problem = _writable_folder(Path(folder))
        if problem:
            problems.append(Error(f"{name}: {problem}", id="studio.E002"))
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
    return problems
