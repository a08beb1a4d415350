"""Which registered versions keep their files where: a version refers to its files (a run's or a
logged model's folder) instead of copying them, so removing those files for good would leave a
READY version that cannot be loaded. Deletions ask here first."""

from __future__ import annotations

from registry.models import ModelVersion
from tracking.artifacts import clean_path
from tracking.services.artifacts import proxy_path


def versions_using(workspace_id: int, path: str) -> list[tuple[str, int]]:
    """(model name, version) of the workspace's versions whose files are at the artifact proxy
    path `path` ("1/<run id>/artifacts/model"), inside it, or hold it."""
    target = clean_path(path, allow_empty=True).strip("/")
    candidates = ModelVersion.objects.filter(registered_model__workspace_id=workspace_id)
    if target:
        candidates = candidates.filter(storage_location__contains=f"/{target.split('/', 1)[0]}")
    found = []
    for name, version, location in candidates.values_list(
        "registered_model__name", "version", "storage_location"
    ):
        stored = (proxy_path(location) or "").strip("/")
        if stored and (
            not target
            or stored == target
            or stored.startswith(f"{target}/")
            or target.startswith(f"{stored}/")
        ):
            found.append((name, version))
    return sorted(found)


def describe(versions: list[tuple[str, int]]) -> str:
    """ "3 registered model version(s) (churn v1, churn v2, fraud v4)"."""
    shown = ", ".join(f"{name} v{version}" for name, version in versions[:5])
    more = f" and {len(versions) - 5} more" if len(versions) > 5 else ""
    return f"{len(versions)} registered model version(s) ({shown}{more})"
