"""Studio pages: a run's Artifacts tab, and the file browser every Artifacts tab shares.

The browser works on an `ArtifactRoot`: a folder of a workspace's artifacts (a run's, one of
its logged models', a registered version's) and the query-string keys that select it on the
page. Each tab has three URLs: the page (`?path=` selects a file or folder), `raw` (the bytes,
streamed, as a download or as a type the browser cannot execute) and `html` (an HTML file, for
the sandboxed iframe only). Every path goes through `clean_path` before it is joined to the
root, and the root is under the workspace's own folder, so no URL reaches another file.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from registry.mlmodel import ModelFolderError, parse_mlmodel
from registry.models import ModelVersion
from studio import artifact_previews as previews
from studio.lookups import run_or_404
from studio.routing import requires, workspace_route
from tracking.access.permissions import Permission
from tracking.api.downloads import file_response
from tracking.artifacts import ArtifactIsADirectory, ArtifactNotFound, FileInfo, clean_path
from tracking.errors import InvalidParameterValue
from tracking.models import LoggedModel, Run, Workspace
from tracking.services.artifacts import delete_artifact, list_under, open_artifact, proxy_path

MAX_LISTED = 1000  # entries shown per folder; the rest are counted
MAX_LOGGED_MODELS = 100
RUN_TABS = "studio/runs/_tabs.html"


class BadPath(Exception):
    """A path parameter that clean_path refused; answered with a 400 page."""


@dataclass(frozen=True)
class ArtifactRoot:
    """A folder of artifacts the browser shows, and how the page addresses it."""

    workspace: Workspace
    folder: str | None  # relative to the workspace's part of the store; None: not on this server
    uri: str
    label: str
    query: dict[str, str] = field(default_factory=dict)  # selects this root on the page
    load_uri: str = ""  # how MLflow loads a model at the root (models:/..., runs:/...)
    deletable: bool = False
    indent: int = 0  # the tree's depth under the page's own headings
    # A model's root opens on its MLmodel, as Azure ML opens a registered model's files.
    opens_on_mlmodel: bool = False

    def full(self, path: str) -> str:
        assert self.folder is not None
        return f"{self.folder}/{path}" if path else self.folder

    def href(self, base: str, path: str | None = None, **extra: str) -> str:
        """The page's URL for `path`; None is the root's default view ("" its folder listing)."""
        params = {**self.query, **({"path": path} if path is not None else {}), **extra}
        return f"{base}?{urlencode(params)}" if params else base


@dataclass
class Entry:
    path: str  # relative to the root
    is_dir: bool
    size: int | None

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


@dataclass
class Node:
    """A row of the tree: an entry at a depth, with its links."""

    entry: Entry
    depth: int
    href: str
    toggle_href: str = ""
    expanded: bool = False
    selected: bool = False

    @property
    def indent(self) -> int:
        return 8 + self.depth * 16


@dataclass
class Tree:
    nodes: list[Node]
    listings: dict[str, list[Entry]]  # folder path -> its entries, for every folder listed
    selected: Entry | None
    hidden: int = 0  # entries past MAX_LISTED, not shown


# --- Reading the tree ------------------------------------------------------------------------


def folder_of(uri: str) -> str | None:
    """The workspace-relative folder of an artifact URI of this server; None for any other URI."""
    folder = proxy_path(uri)
    try:
        return clean_path(folder) if folder is not None else None
    except InvalidParameterValue:
        return None


def clean_relative(value: str, *, file: bool = False) -> str:
    try:
        return clean_path(value, allow_empty=not file, file=file)
    except InvalidParameterValue as error:
        raise BadPath(error.message) from None


def list_folder(root: ArtifactRoot, folder: str) -> list[Entry]:
    """Entries of a folder under the root: folders first, then files, each by name."""
    infos: list[FileInfo] = list_under(root.workspace, root.folder or "", folder)
    entries = [Entry(info.path, info.is_dir, info.file_size) for info in infos]
    return sorted(entries, key=lambda entry: (not entry.is_dir, entry.name.lower(), entry.name))


def build_tree(root: ArtifactRoot, selected: str, base: str) -> Tree:
    """The root's entries, with every folder on the way to `selected` expanded (one listing each)."""
    tree = Tree([], {}, Entry("", True, None) if not selected else None)
    if root.folder is None:
        return tree

    def expand(folder: str, level: int) -> None:
        entries = tree.listings[folder] = list_folder(root, folder)
        for index, entry in enumerate(entries):
            on_the_way = selected == entry.path or selected.startswith(entry.path + "/")
            if index >= MAX_LISTED and not on_the_way:
                tree.hidden += 1
                continue
            expanded = entry.is_dir and on_the_way
            node = Node(entry, root.indent + level, root.href(base, entry.path), expanded=expanded)
            if entry.is_dir:
                # The twisty folds an open folder (selecting its parent) or opens a closed one.
                node.toggle_href = root.href(base, posixpath.dirname(entry.path)) if expanded else node.href
            node.selected = selected == entry.path
            if node.selected:
                tree.selected = entry
            tree.nodes.append(node)
            if expanded:
                expand(entry.path, level + 1)

    expand("", 0)
    return tree


# --- Previews --------------------------------------------------------------------------------


def file_preview(root: ArtifactRoot, entry: Entry, siblings: list[Entry], view: str) -> dict:
    """What the preview pane shows for a file (never more than a bounded prefix of it)."""
    size = entry.size or 0
    kind = previews.preview_kind(entry.name)
    preview: dict = {"kind": kind, "view": view, "size": size}
    if kind in previews.INLINE_LIMITS:
        preview["too_large"] = not previews.fits_inline(kind, size)
        return preview
    if kind == "mlmodel":
        card, problem = model_card(root, posixpath.dirname(entry.path), siblings)
        if card is not None:
            preview["card"] = card
            return preview
        preview["problem"] = problem
    with open_artifact(root.workspace, root.full(entry.path))[0] as handle:
        prefix = previews.read_prefix(handle)
    text = previews.decode_text(prefix, textual=kind != "unknown")
    if text is None:
        preview["kind"] = "binary"
        return preview
    preview.update(
        text=text,
        truncated=prefix.truncated,
        shown=len(prefix.data),
        kind="text" if kind == "unknown" else kind,
    )
    if view == "raw":
        return preview
    if kind == "table":  # the first rows of a large table are worth a table too
        delimiter = previews.table_delimiter(entry.name)
        preview["table"] = previews.parse_table(text, delimiter=delimiter, truncated=prefix.truncated)
    elif prefix.truncated:
        pass  # half a document cannot be parsed: the text it is
    elif kind == "json":
        preview["pretty"] = previews.pretty_json(text)
    elif kind in ("yaml", "mlmodel"):
        preview["pretty"] = previews.pretty_yaml(text)
    return preview


def model_card(
    root: ArtifactRoot, folder: str, siblings: list[Entry]
) -> tuple[previews.ModelCard | None, str]:
    """The card of the MLmodel in `folder` (whose entries are `siblings`), or (None, why not).

    The MLmodel is read up to the registry's own limit; conda.yaml, python_env.yaml,
    requirements.txt and the input example next to it only when they are small.
    """
    sizes = {entry.name: entry.size or 0 for entry in siblings if not entry.is_dir}
    mlmodel_path = posixpath.join(folder, previews.MLMODEL)
    if sizes.get(previews.MLMODEL, previews.MAX_MODEL_TEXT_BYTES + 1) > previews.MAX_MODEL_TEXT_BYTES:
        return None, "This MLmodel is too large to read as a model description."
    try:
        mlmodel = parse_mlmodel(_read_small(root, mlmodel_path, previews.MAX_MODEL_TEXT_BYTES) or b"")
    except ModelFolderError as error:
        return None, str(error)
    texts = {}
    for name in previews.side_files(mlmodel):
        if sizes.get(name, previews.MAX_SIDE_FILE_BYTES + 1) <= previews.MAX_SIDE_FILE_BYTES:
            data = _read_small(root, posixpath.join(folder, name), previews.MAX_SIDE_FILE_BYTES)
            text = previews.decode_text(previews.Prefix(data or b"", False))
            if text:
                texts[name] = text
    env = mlmodel.env_files()
    environment = [
        (name, texts.get(name, "")) for name in (env["conda"], env["virtualenv"], "requirements.txt")
    ]
    example_name = (mlmodel.saved_input_example_info or {}).get("artifact_path")
    card = previews.model_card(
        mlmodel,
        environment=environment,
        input_example=texts.get(example_name, "") if isinstance(example_name, str) else "",
        load_uri=_load_uri(root, folder),
    )
    return card, ""


def _read_small(root: ArtifactRoot, path: str, limit: int) -> bytes | None:
    try:
        with open_artifact(root.workspace, root.full(path))[0] as handle:
            prefix = previews.read_prefix(handle, limit)
    except (ArtifactNotFound, ArtifactIsADirectory, InvalidParameterValue):
        return None
    return None if prefix.truncated else prefix.data


def _load_uri(root: ArtifactRoot, folder: str) -> str:
    if not root.load_uri:
        return ""
    if root.load_uri.startswith("runs:/"):
        return f"{root.load_uri}/{folder}" if folder else ""
    return "" if folder else root.load_uri


def browse(request: HttpRequest, root: ArtifactRoot, base: str) -> dict:
    """The browser's context for `?path=` under `root`: the tree, the selection and its preview.

    With no path, a model's root opens on its MLmodel (`opens_on_mlmodel`).
    """
    selected = clean_relative(request.GET.get("path", ""))
    view = "raw" if request.GET.get("view") == "raw" else "pretty"
    tree = build_tree(root, selected, base)
    top = tree.listings.get("", [])
    default_view = "path" not in request.GET
    if default_view and root.opens_on_mlmodel and any(e.path == previews.MLMODEL for e in top):
        selected = previews.MLMODEL
        tree = build_tree(root, selected, base)
    if tree.selected is None:
        raise Http404(f"No artifact {selected!r}")
    entry = tree.selected
    context = {
        "root": root,
        "tree": tree,
        "entry": entry,
        "crumbs": _crumbs(root, base, entry.path),
        "base": base,
    }
    if entry.is_dir:
        children = tree.listings.get(entry.path, [])
        context["children"] = [(child, root.href(base, child.path)) for child in children[:MAX_LISTED]]
        if any(child.name == previews.MLMODEL and not child.is_dir for child in children):
            context["card"], context["card_problem"] = model_card(root, entry.path, children)
        return context
    siblings = tree.listings.get(posixpath.dirname(entry.path), [])
    context["preview"] = file_preview(root, entry, siblings, view)
    context["raw_href"] = root.href(f"{base}raw", entry.path)
    context["download_href"] = root.href(f"{base}raw", entry.path, download="1")
    context["html_href"] = root.href(f"{base}html", entry.path)
    context["pretty_href"] = root.href(base, entry.path)
    context["source_href"] = root.href(base, entry.path, view="raw")
    return context


def _crumbs(root: ArtifactRoot, base: str, path: str) -> list[tuple[str, str]]:
    crumbs = [(root.label, root.href(base, ""))]
    parts = path.split("/") if path else []
    for index, part in enumerate(parts):
        crumbs.append((part, root.href(base, "/".join(parts[: index + 1]))))
    return crumbs


# --- Raw bytes -------------------------------------------------------------------------------


def serve_raw(request: HttpRequest, root: ArtifactRoot) -> HttpResponse:
    """A file's bytes, streamed (with Range support), typed so the browser runs none of it."""
    path = clean_relative(request.GET.get("path", ""), file=True)
    name = posixpath.basename(path)
    content_type, attachment, policy = previews.raw_headers(name, download=request.GET.get("download") == "1")
    return _stream(request, root, path, content_type, attachment, policy)


def serve_html(request: HttpRequest, root: ArtifactRoot) -> HttpResponse:
    """An HTML file for the sandboxed iframe: no scripts, no requests, an opaque origin."""
    path = clean_relative(request.GET.get("path", ""), file=True)
    if previews.preview_kind(path) != "html":
        raise Http404("Only HTML files are served here.")
    return _stream(
        request,
        root,
        path,
        "text/html; charset=utf-8",
        False,
        previews.SANDBOX_CSP,
        max_size=previews.INLINE_LIMITS["html"],
    )


def _stream(
    request: HttpRequest,
    root: ArtifactRoot,
    path: str,
    content_type: str,
    attachment: bool,
    policy: str,
    max_size: int | None = None,
) -> HttpResponse:
    if root.folder is None:
        raise Http404("These files are not stored on this server.")
    try:
        handle, size, name = open_artifact(root.workspace, root.full(path))
    except (ArtifactNotFound, ArtifactIsADirectory):
        raise Http404(f"No file {path!r}") from None
    if max_size is not None and size > max_size:
        handle.close()
        raise Http404("This file is too large to preview.")
    response = file_response(request, handle, size, name)
    response["Content-Type"] = content_type
    response["Content-Disposition"] = content_disposition_header(attachment, name)
    response["Content-Security-Policy"] = policy
    response["X-Content-Type-Options"] = "nosniff"
    response["X-Frame-Options"] = "SAMEORIGIN"  # the preview pane frames PDFs and HTML
    response["Referrer-Policy"] = "no-referrer"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    response["Cache-Control"] = "private, no-cache"
    return response


def bad_path(request: HttpRequest, error: BadPath, context: dict) -> HttpResponse:
    return render(request, "studio/artifacts/bad_path.html", {**context, "message": str(error)}, status=400)


# --- The run's Artifacts tab -----------------------------------------------------------------


def _run_roots(
    request: HttpRequest, workspace: Workspace, run: Run
) -> tuple[ArtifactRoot, ArtifactRoot, list]:
    """(the run's own root, the root the page shows, the run's logged models with their roots)."""
    run_root = ArtifactRoot(
        workspace,
        folder_of(run.artifact_uri),
        run.artifact_uri,
        "Run artifacts",
        load_uri=f"runs:/{run.uuid}",
        deletable=True,
    )
    models = list(
        LoggedModel.objects.filter(
            experiment__workspace=workspace, source_run_id=run.uuid, lifecycle_stage="active"
        ).order_by("created_at", "pk")[:MAX_LOGGED_MODELS]
    )
    logged = [(model, _logged_model_root(workspace, model)) for model in models]
    wanted = request.GET.get("model", "")
    if not wanted:
        return run_root, run_root, logged
    for model, root in logged:
        if model.model_id == wanted:
            return run_root, root, logged
    raise Http404(f"No logged model {wanted!r} for this run")


def _logged_model_root(workspace: Workspace, model: LoggedModel) -> ArtifactRoot:
    return ArtifactRoot(
        workspace,
        folder_of(model.artifact_location),
        model.artifact_location,
        model.name,
        query={"model": model.model_id},
        load_uri=f"models:/{model.model_id}",
        opens_on_mlmodel=True,
        indent=1,
    )


def _run_context(workspace: Workspace, run: Run) -> dict:
    try:
        get_template(RUN_TABS)
        tabs = RUN_TABS
    except TemplateDoesNotExist:
        tabs = "studio/artifacts/_run_tabs.html"
    return {
        "workspace": workspace,
        "area": "experiments",
        "run": run,
        "experiment": run.experiment,
        "tabs_template": tabs,
        "tab": "artifacts",
        "active_tab": "artifacts",
    }


@require_GET
def run_artifacts(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    context = _run_context(workspace, run)
    base = request.path
    try:
        run_root, root, logged = _run_roots(request, workspace, run)
        browser = browse(request, root, base)
    except BadPath as error:
        return bad_path(request, error, context)
    sections = []
    for model, model_root in logged:
        current = model_root is root
        sections.append(
            {
                "model": model,
                "href": model_root.href(base),
                "current": current,
                "tree": browser["tree"] if current else None,
            }
        )
    run_tree = browser["tree"] if root is run_root else build_tree(run_root, "", base)
    return render(
        request,
        "studio/artifacts/run_artifacts.html",
        {
            **context,
            **browser,
            "run_tree": run_tree,
            "run_root": run_root,
            "logged_models": sections,
            "delete_href": f"{base}delete",
        },
    )


@require_GET
def run_artifact_raw(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    try:
        _, root, _ = _run_roots(request, workspace, run)
        return serve_raw(request, root)
    except BadPath as error:
        return bad_path(request, error, _run_context(workspace, run))


@require_GET
def run_artifact_html(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    run = run_or_404(workspace, run_id)
    try:
        _, root, _ = _run_roots(request, workspace, run)
        return serve_html(request, root)
    except BadPath as error:
        return bad_path(request, error, _run_context(workspace, run))


# Deleting is an Owner's right (docs/permissions.md), whatever the method's default.
@requires(Permission.OWNER)
@require_POST
def run_artifact_delete(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    """Deletes a file or folder of the run's own artifacts once its name is typed back."""
    run = run_or_404(workspace, run_id)
    base = request.path.removesuffix("delete")
    try:
        path = clean_relative(request.POST.get("path", ""), file=True)
    except BadPath as error:
        return bad_path(request, error, _run_context(workspace, run))
    run_root = ArtifactRoot(workspace, folder_of(run.artifact_uri), run.artifact_uri, "Run artifacts")
    if run_root.folder is None or not _exists(run_root, path):
        raise Http404(f"No artifact {path!r}")
    back, name = run_root.href(base, path), posixpath.basename(path)
    if request.POST.get("confirm", "").strip() != name:
        messages.error(request, f"Nothing was deleted: type “{name}” exactly to confirm.")
        return redirect(back)
    users = _versions_using(workspace, f"{run.artifact_uri.rstrip('/')}/{path}")
    if users:
        listed = ", ".join(f"{model} version {version}" for model, version in users)
        messages.error(request, f"Nothing was deleted: registered model versions use these files ({listed}).")
        return redirect(back)
    delete_artifact(workspace=workspace, path=run_root.full(path))
    messages.success(request, f"Deleted {path}.")
    return redirect(run_root.href(base, posixpath.dirname(path)))


def _exists(root: ArtifactRoot, path: str) -> bool:
    return any(entry.path == path for entry in list_folder(root, posixpath.dirname(path)))


def _versions_using(workspace: Workspace, uri: str) -> list[tuple[str, int]]:
    """Registered versions whose files are `uri`, inside it, or contain it (MLflow 2 run folders)."""
    inside = Q(storage_location__startswith=f"{uri}/") | Q(storage_location__in=_ancestors(uri))
    versions = ModelVersion.objects.filter(inside, registered_model__workspace=workspace)
    ordered = versions.order_by("registered_model__name", "version")
    return list(ordered.values_list("registered_model__name", "version")[:5])


def _ancestors(uri: str) -> list[str]:
    parts = uri.rstrip("/").split("/")
    return ["/".join(parts[:index]) for index in range(1, len(parts) + 1)]


urlpatterns = [
    workspace_route("ws/<slug:workspace>/runs/<str:run_id>/artifacts/", run_artifacts, name="run-artifacts"),
    workspace_route(
        "ws/<slug:workspace>/runs/<str:run_id>/artifacts/raw", run_artifact_raw, name="run-artifact-raw"
    ),
    workspace_route(
        "ws/<slug:workspace>/runs/<str:run_id>/artifacts/html",
        run_artifact_html,
        name="run-artifact-html",
    ),
    workspace_route(
        "ws/<slug:workspace>/runs/<str:run_id>/artifacts/delete",
        run_artifact_delete,
        name="run-artifact-delete",
    ),
]
