"""Studio pages: registered models, their versions, and a version's Details and Artifacts tabs.

The model list is read in two queries whatever the page size: the page of models with their
latest version number, then everyone's tags and aliases together. Names go into URLs through
`{% url %}`, which percent-encodes spaces and the like; the `str` converter decodes them back.
"""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from registry.models import (
    FAILED_REGISTRATION,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from registry.queries.model_list import MODEL_ORDERS, list_models
from registry.queries.model_versions import get_model_version
from registry.queries.registered_models import get_registered_model
from registry.services.sources import is_external_source
from studio import artifact_previews as previews
from studio.pages import page_number
from studio.routing import workspace_route
from studio.views.artifacts import ArtifactRoot, BadPath, bad_path, browse, folder_of, serve_html, serve_raw
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Workspace

PAGE_SIZE = 50
VERSIONS_PAGE_SIZE = 100
SYSTEM_TAG_PREFIX = "mlflow."
STATUS_LABELS = {
    "READY": "Ready",
    "PENDING_REGISTRATION": "Pending registration",
    "FAILED_REGISTRATION": "Registration failed",
}


def model_or_404(workspace: Workspace, name: str) -> RegisteredModel:
    try:
        return get_registered_model(workspace, name)
    except (ResourceDoesNotExist, InvalidParameterValue):
        raise Http404(f"No registered model {name!r}") from None


def version_or_404(workspace: Workspace, name: str, version: str) -> ModelVersion:
    try:
        return get_model_version(workspace, name, version)
    except (ResourceDoesNotExist, InvalidParameterValue):
        raise Http404(f"No version {version!r} of model {name!r}") from None


def _split_tags(tags: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(user tags, system tags): MLflow's own `mlflow.*` tags are shown apart, as its UI does."""
    user = [tag for tag in tags if not tag[0].startswith(SYSTEM_TAG_PREFIX)]
    system = [tag for tag in tags if tag[0].startswith(SYSTEM_TAG_PREFIX)]
    return user, system


# --- Pages -------------------------------------------------------------------------------------


@require_GET
def model_list(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:256].replace("\x00", "")
    order = request.GET.get("order", "name")
    order = order if order in MODEL_ORDERS else "name"
    page = page_number(request)
    rows = list_models(
        workspace, name_contains=query, order=order, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE + 1
    )
    for row in rows:
        row.tags = _split_tags(row.tags)[0]
    return render(
        request,
        "studio/models/list.html",
        {
            "workspace": workspace,
            "area": "models",
            "models": rows[:PAGE_SIZE],
            "query": query,
            "order": order,
            "page": page,
            "has_next": len(rows) > PAGE_SIZE,
        },
    )


@require_GET
def model_detail(request: HttpRequest, workspace: Workspace, name: str) -> HttpResponse:
    model = model_or_404(workspace, name)
    page = page_number(request)
    aliases = list(
        RegisteredModelAlias.objects.filter(model=model)
        .order_by("alias")
        .values_list("alias", "version__version")
    )
    tags = list(RegisteredModelTag.objects.filter(model=model).order_by("key").values_list("key", "value"))
    offset = (page - 1) * VERSIONS_PAGE_SIZE
    versions = list(
        ModelVersion.objects.filter(registered_model=model)
        .order_by("-version")
        .only(
            "version",
            "current_stage",
            "status",
            "created_at",
            "run_id",
            "lineage_run_id",
            "source",
            "registered_model_id",
        )[offset : offset + VERSIONS_PAGE_SIZE + 1]
    )
    for version in versions:
        version.alias_names = [alias for alias, number in aliases if number == version.version]
        version.status_label = STATUS_LABELS.get(version.status, version.status)
    user_tags, system_tags = _split_tags(tags)
    return render(
        request,
        "studio/models/detail.html",
        {
            "workspace": workspace,
            "area": "models",
            "model": model,
            "aliases": aliases,
            "tags": user_tags,
            "system_tags": system_tags,
            "versions": versions[:VERSIONS_PAGE_SIZE],
            "page": page,
            "has_next": len(versions) > VERSIONS_PAGE_SIZE,
        },
    )


def _version_context(workspace: Workspace, version: ModelVersion, tab: str) -> dict:
    aliases = list(version.aliases.order_by("alias").values_list("alias", flat=True))
    version.status_label = STATUS_LABELS.get(version.status, version.status)
    version.is_external = is_external_source(version.storage_location)
    return {
        "workspace": workspace,
        "area": "models",
        "model": version.registered_model,
        "version": version,
        "aliases": aliases,
        "tab": tab,
        "file_count": len(version.files or []),
    }


@require_GET
def version_detail(request: HttpRequest, workspace: Workspace, name: str, version: str) -> HttpResponse:
    found = version_or_404(workspace, name, version)
    tags = list(ModelVersionTag.objects.filter(version=found).order_by("key").values_list("key", "value"))
    user_tags, system_tags = _split_tags(tags)
    card = previews.ModelCard(
        flavors=previews.flavor_rows(found.flavors or {}),
        inputs=previews.schema_rows(found.signature_inputs),
        outputs=previews.schema_rows(found.signature_outputs),
        params=previews.schema_rows(found.signature_params, params=True),
        input_example=previews.pretty_json(found.input_example) or found.input_example,
        input_example_table=previews.example_table(found.input_example),
        mlflow_version=found.mlflow_version,
        model_uuid=found.model_uuid,
        model_id=found.model_id,
        run_id=found.run_id,
        environment=[
            (name, text)
            for name, text in (
                ("conda.yaml", found.conda_env),
                ("python_env.yaml", found.python_env),
                ("requirements.txt", found.requirements),
            )
            if text
        ],
        load_uri=f"models:/{found.registered_model.name}/{found.version}",
    )
    return render(
        request,
        "studio/models/version_detail.html",
        {
            **_version_context(workspace, found, "details"),
            "tags": user_tags,
            "system_tags": system_tags,
            "card": card,
            "failed": found.status == FAILED_REGISTRATION,
        },
    )


def version_root(workspace: Workspace, version: ModelVersion) -> ArtifactRoot:
    """The version's files: a folder of this server's store, or None when they live elsewhere."""
    name = version.registered_model.name
    return ArtifactRoot(
        workspace,
        folder_of(version.storage_location),
        version.storage_location,
        f"{name} · version {version.version}",
        load_uri=f"models:/{name}/{version.version}",
        opens_on_mlmodel=True,
    )


@require_GET
def version_artifacts(request: HttpRequest, workspace: Workspace, name: str, version: str) -> HttpResponse:
    found = version_or_404(workspace, name, version)
    context = _version_context(workspace, found, "artifacts")
    root = version_root(workspace, found)
    if root.folder is None:
        files = [(path, size) for path, size in (found.files or [])]
        return render(
            request, "studio/models/version_artifacts.html", {**context, "root": root, "remote_files": files}
        )
    try:
        browser = browse(request, root, request.path)
    except BadPath as error:
        return bad_path(request, error, context)
    return render(request, "studio/models/version_artifacts.html", {**context, **browser})


@require_GET
def version_artifact_raw(request: HttpRequest, workspace: Workspace, name: str, version: str) -> HttpResponse:
    found = version_or_404(workspace, name, version)
    try:
        return serve_raw(request, version_root(workspace, found))
    except BadPath as error:
        return bad_path(request, error, _version_context(workspace, found, "artifacts"))


@require_GET
def version_artifact_html(
    request: HttpRequest, workspace: Workspace, name: str, version: str
) -> HttpResponse:
    found = version_or_404(workspace, name, version)
    try:
        return serve_html(request, version_root(workspace, found))
    except BadPath as error:
        return bad_path(request, error, _version_context(workspace, found, "artifacts"))


_MODEL = "ws/<slug:workspace>/models/<str:name>/"
_VERSION = f"{_MODEL}versions/<str:version>/"

urlpatterns = [
    workspace_route("ws/<slug:workspace>/models/", model_list, name="models"),
    workspace_route(_MODEL, model_detail, name="model"),
    workspace_route(_VERSION, version_detail, name="model-version"),
    workspace_route(f"{_VERSION}artifacts/", version_artifacts, name="model-version-artifacts"),
    workspace_route(f"{_VERSION}artifacts/raw", version_artifact_raw, name="model-version-artifact-raw"),
    workspace_route(f"{_VERSION}artifacts/html", version_artifact_html, name="model-version-artifact-html"),
]
