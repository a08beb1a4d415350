"""Where a new version's files are: checking a version's source the way MLflow's server does.

A source names the model's files in one of these forms:

* `models:/m-<id>` with `model_id` - a logged model (what `log_model(registered_model_name=...)`
  and `register_model("runs:/...")` send in MLflow 3);
* `runs:/<run_id>/<path>` with the same `run_id` - a folder of a run's artifacts, or, when the
  run has no MLmodel there, the logged model the run produced under that name;
* `mlflow-artifacts:/...` with `run_id` (or `model_id`) - a folder inside that run's (or logged
  model's) artifacts on this server;
* `models:/<name>/<version|stage|latest>` or `models:/<name>@<alias>` - another registered version;
* any other URI (`s3://`, `gs://`, `wasbs://`, `https://`, `dbfs:` ...), taken as given.

A reference to a model this server does not hold - one of those URIs, or a `runs:/` or `models:/`
whose run, logged model or registered model is not in the workspace - is an *external* source: it
registers READY, as in MLflow, and nothing of it is read (`is_external_source`). As in MLflow, a
source that reaches outside the run or logged model given with it, a local path (`/...`,
`file://`, a relative path), or a path with `..` is INVALID_PARAMETER_VALUE. The result says where
the files live (`storage_location`, what get-download-uri answers) and, when they are on this
server, their folder in the workspace's artifact store.
"""

from __future__ import annotations

import posixpath
import re
import urllib.parse
from dataclasses import dataclass

from registry.models import ModelVersion, RegisteredModel, RegisteredModelTag
from registry.validation import PROMPT_TAG, canonical_stage, version_not_found
from tracking.artifacts import clean_path, default_store
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import LoggedModel, Run, Workspace
from tracking.queries.logged_models import get_logged_model
from tracking.queries.runs import get_run
from tracking.services.artifacts import proxy_path, workspace_prefix

PROMPT_SOURCES = frozenset({"dummy-source", "prompt-template"})
_ARTIFACT_ROUTE = ("api", "2.0", "mlflow-artifacts", "artifacts")


@dataclass(frozen=True)
class Source:
    source: str  # as the version keeps it
    storage_location: str  # where the files are
    run_id: str = ""
    run: Run | None = None
    model_id: str = ""
    logged_model: LoggedModel | None = None

    def store_folder(self, workspace: Workspace) -> str | None:
        """The files' folder in the artifact store, or None when they are not on this server."""
        return store_folder(workspace, self.storage_location)


def is_external_source(storage_location: str) -> bool:
    """Whether a version's files are elsewhere than this server (a prompt has no files at all)."""
    return storage_location not in PROMPT_SOURCES and not _is_artifact_source(storage_location)


def store_folder(workspace: Workspace, uri: str) -> str | None:
    """`mlflow-artifacts:/1/<run>/artifacts/model` -> its folder in the workspace's part of the store."""
    relative = proxy_path(uri)
    if relative is None:
        return None
    cleaned = clean_path(relative, allow_empty=True)
    return f"{workspace_prefix(workspace)}/{cleaned}" if cleaned else workspace_prefix(workspace)


def resolve_source(
    workspace: Workspace,
    *,
    source: str,
    run_id: str | None = None,
    model_id: str | None = None,
    is_prompt: bool = False,
) -> Source:
    """Check `source` against the run or logged model given with it; say where its files are."""
    if is_prompt:
        if source not in PROMPT_SOURCES:
            raise InvalidParameterValue(
                f"Invalid prompt source: '{source}'. Prompt sources must use an MLflow placeholder."
            )
        return Source(source, source, run_id or "", model_id=model_id or "")
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "models" and _models_uri(source)[0] is None:
        return _from_model_version(workspace, source, run_id, model_id)
    if model_id:
        return _from_logged_model(workspace, source, model_id, run_id or "")
    return _from_run(workspace, source, run_id or "")


# --- The three kinds of lineage -------------------------------------------------------------


def _from_run(workspace: Workspace, source: str, run_id: str) -> Source:
    if _is_local(source):
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. To use a local path as a model version source, "
            "the run_id request parameter has to be specified and the local path has to be contained "
            "within the artifact directory of the run specified by the run_id."
        )
    _refuse_relative_paths(source)
    parsed = urllib.parse.urlparse(source)
    if parsed.scheme == "runs":
        source_run_id, path = _runs_uri(source)
        if parsed.netloc or not run_id or source_run_id != run_id:
            raise _not_identified(source, "run_id")
        return _run_folder(workspace, source, run_id, path)
    if parsed.scheme == "models":  # models:/m-<id> needs its model_id
        raise _not_identified(source, "model_id")
    if _is_artifact_source(source):
        run = _find_run(workspace, run_id) if run_id else None
        if run is None or not _within(source, run.artifact_uri):
            raise _not_identified(source, "run_id")
        return Source(source, source, run_id, run)
    return Source(source, source, run_id, _find_run(workspace, run_id) if run_id else None)


def _run_folder(workspace: Workspace, source: str, run_id: str, path: str) -> Source:
    """`runs:/<id>/<path>`: the run's folder, or the logged model the run saved under that name."""
    run = _find_run(workspace, run_id)
    if run is None:  # a run of another server: an external reference, as MLflow takes it
        return Source(source, source, run_id)
    folder = f"{run.artifact_uri.rstrip('/')}/{path}".rstrip("/")
    in_store = store_folder(workspace, folder)
    if in_store is not None and default_store().exists(f"{in_store}/MLmodel"):
        return Source(source, folder, run_id, run)
    logged = (
        LoggedModel.objects.filter(
            experiment__workspace=workspace, source_run_id=run_id, name=path, lifecycle_stage="active"
        )
        .order_by("-created_at")
        .first()
    )
    if logged is not None:
        return Source(source, logged.artifact_location, run_id, run, logged.model_id, logged)
    return Source(source, folder, run_id, run)


def _from_logged_model(workspace: Workspace, source: str, model_id: str, run_id: str) -> Source:
    if _is_local(source):
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. To use a local path as a model version source, "
            "the model_id request parameter has to be specified and the local path has to be contained "
            "within the artifact directory of the run specified by the model_id."
        )
    _refuse_relative_paths(source)
    parsed = urllib.parse.urlparse(source)
    try:
        logged = get_logged_model(workspace, model_id)
    except ResourceDoesNotExist:
        if parsed.scheme == "models" and not parsed.netloc and _models_uri(source)[0] == model_id:
            # A logged model of another server: an external reference, as MLflow takes it.
            return Source(source, source, run_id, _find_run(workspace, run_id) if run_id else None, model_id)
        raise _not_identified(source, "model_id") from None
    if parsed.scheme == "models":
        if parsed.netloc or _models_uri(source)[0] != model_id:
            raise _not_identified(source, "model_id")
        storage = logged.artifact_location
    elif parsed.scheme == "runs":
        raise _not_identified(source, "model_id")
    elif _is_artifact_source(source):
        if not _within(source, logged.artifact_location):
            raise _not_identified(source, "model_id")
        storage = source
    else:
        storage = source
    run_id = run_id or logged.source_run_id
    return Source(source, storage, run_id, _find_run(workspace, run_id), model_id, logged)


def _from_model_version(
    workspace: Workspace, source: str, run_id: str | None, model_id: str | None
) -> Source:
    """`models:/<name>/<version|stage|latest>` or `models:/<name>@<alias>`: another registered version."""
    _refuse_relative_paths(source)
    if urllib.parse.urlparse(source).netloc:
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. Registered model sources must use the active "
            "model registry."
        )
    _, name, selector, alias = _models_uri(source)
    try:
        model = RegisteredModel.objects.get(workspace=workspace, name=name)
    except RegisteredModel.DoesNotExist:
        # A registered model of another server: an external reference, as MLflow takes it.
        return Source(source, source, run_id or "", model_id=model_id or "")
    if RegisteredModelTag.objects.filter(model=model, key=PROMPT_TAG, value__iexact="true").exists():
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. Prompt versions cannot be used as model version sources."
        )
    versions = ModelVersion.objects.filter(registered_model=model).select_related("lineage_run")
    if alias is not None:
        versions = versions.filter(aliases__alias=alias)
    elif selector is not None and selector.isdigit():
        versions = versions.filter(version=int(selector))
    elif selector is not None and selector.lower() != "latest":
        versions = versions.filter(current_stage=canonical_stage(selector))
    found = versions.order_by("-version").first()
    if found is None and alias is not None:
        raise InvalidParameterValue(f"Registered model alias {alias} not found.")
    if found is None:
        raise version_not_found(name, selector or "latest")
    if (run_id is not None and run_id != found.run_id) or (
        model_id is not None and model_id != found.model_id
    ):
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. The run_id and model_id request parameters must "
            "match the referenced model version."
        )
    return Source(
        f"models:/{name}/{found.version}",
        found.storage_location,
        found.run_id,
        found.lineage_run,
        found.model_id,
    )


# --- URI helpers (MLflow's rules) ------------------------------------------------------------


def _models_uri(source: str) -> tuple[str | None, str, str | None, str | None]:
    """`models:/...` -> (logged model id, name, version-or-stage, alias); one of id or name is set."""
    path = urllib.parse.urlparse(source, allow_fragments=False).path
    parts = path.lstrip("/").split("/") if path.startswith("/") and len(path) > 1 else []
    if not parts or len(parts) > 2 or not parts[0].strip() or (len(parts) == 2 and not parts[1].strip()):
        raise InvalidParameterValue(
            f"Not a proper models:/ URI: {source}. Models URIs must be of the form "
            "'models:/model_name/suffix' or 'models:/model_name@alias' or 'models:/model_id'."
        )
    if len(parts) == 2:
        return None, parts[0], parts[1], None
    if "@" in parts[0]:
        name, _, alias = parts[0].rpartition("@")
        if not name or not alias.strip():
            raise InvalidParameterValue(f"Not a proper models:/ URI: {source}.")
        return None, name, None, alias
    return parts[0], "", None, None


def _runs_uri(source: str) -> tuple[str, str]:
    path = urllib.parse.urlparse(source).path.lstrip("/")
    run_id, _, artifact_path = path.partition("/")
    return run_id, artifact_path.strip("/")


def _is_local(source: str) -> bool:
    return len(urllib.parse.urlparse(source).scheme) <= 1 or source.lower().startswith("file:")


def _refuse_relative_paths(source: str) -> None:
    """No `..`, NUL or path that normalises to another one, after any amount of percent-decoding."""
    decoded = source
    while (unquoted := urllib.parse.unquote_plus(decoded)) != decoded:
        decoded = unquoted
    path = re.sub(r"/+", "/", urllib.parse.urlparse(decoded).path.rstrip("/"))
    if "\x00" in path or ".." in decoded.split("/") or (path and posixpath.normpath(path) != path):
        raise InvalidParameterValue(
            f"Invalid model version source: '{source}'. If supplying a source as an http, https, local "
            "file path, ftp, objectstore, or mlflow-artifacts uri, an absolute path must be provided "
            "without relative path references present. Please provide an absolute path."
        )


def _parts(uri: str) -> tuple[str, str, tuple[str, ...]]:
    parsed = urllib.parse.urlsplit(uri)
    path = tuple(urllib.parse.unquote(part) for part in parsed.path.split("/") if part)
    return parsed.scheme.lower(), parsed.netloc.lower(), path


def _is_artifact_source(source: str) -> bool:
    scheme, _, path = _parts(source)
    if scheme == "mlflow-artifacts":
        return True
    width = len(_ARTIFACT_ROUTE)
    return scheme in ("http", "https") and any(
        path[i : i + width] == _ARTIFACT_ROUTE for i in range(len(path) - width + 1)
    )


def _within(source: str, root: str) -> bool:
    source_scheme, source_host, source_path = _parts(source)
    root_scheme, root_host, root_path = _parts(root)
    return (
        source_scheme == root_scheme
        and source_host == root_host
        and bool(root_path)
        and source_path[: len(root_path)] == root_path
    )


def _find_run(workspace: Workspace, run_id: str) -> Run | None:
    try:
        return get_run(workspace, run_id)
    except ResourceDoesNotExist:
        return None


def _not_identified(source: str, field: str) -> InvalidParameterValue:
    return InvalidParameterValue(
        f"Invalid model version source: '{source}'. The {field} request parameter must identify the "
        "resource that contains the source."
    )
