"""The file browser every Artifacts tab shares: roots, the tree, and the context of `?path=`.

The browser works on an `ArtifactRoot`: a folder of a workspace's artifacts (a run's, one of
its logged models', a registered version's, a job's snapshot) and the query-string keys that
select it on the page. Every path goes through `clean_path` before it is joined to the root, and
the root is under the workspace's own folder, so no URL reaches another file.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from studio import artifact_previews as previews
from studio.views.artifacts.preview import file_preview, model_card
from tracking.artifacts import FileInfo, clean_path
from tracking.errors import InvalidParameterValue
from tracking.models import Workspace
from tracking.services.artifacts import list_under, proxy_path

MAX_LISTED = 1000  # entries shown per folder; the rest are counted


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


def bad_path(request: HttpRequest, error: BadPath, context: dict) -> HttpResponse:
    return render(request, "studio/artifacts/bad_path.html", {**context, "message": str(error)}, status=400)
