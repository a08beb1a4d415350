"""A root's files as bytes: `raw` (streamed with Range support, as a download or as a type the
browser cannot execute) and `html` (an HTML file, for the sandboxed iframe only)."""

from __future__ import annotations

import posixpath

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.http import content_disposition_header

from studio import artifact_previews as previews
from studio.views.artifacts.browser import ArtifactRoot, clean_relative
from tracking.api.downloads import file_response, redirect_to_store
from tracking.artifacts import ArtifactIsADirectory, ArtifactNotFound
from tracking.services.artifacts import download_url, open_artifact


def serve_raw(request: HttpRequest, root: ArtifactRoot) -> HttpResponse:
    """A file's bytes, streamed (with Range support), typed so the browser runs none of it."""
    path = clean_relative(request.GET.get("path", ""), file=True)
    name = posixpath.basename(path)
    download = request.GET.get("download") == "1"
    if download and root.folder is not None:
        # A Download link goes to the object store itself, as an attachment; what the page shows
        # inline (images, PDFs, media) stays same-origin, streamed with our headers.
        try:
            direct = download_url(root.workspace, root.full(path))
        except (ArtifactNotFound, ArtifactIsADirectory):
            raise Http404(f"No file {path!r}") from None
        if direct is not None:
            return redirect_to_store(direct[0])
    content_type, attachment, policy = previews.raw_headers(name, download=download)
    return stream_file(request, root, path, content_type, attachment, policy)


def serve_html(request: HttpRequest, root: ArtifactRoot) -> HttpResponse:
    """An HTML file for the sandboxed iframe: no scripts, no requests, an opaque origin."""
    path = clean_relative(request.GET.get("path", ""), file=True)
    if previews.preview_kind(path) != "html":
        raise Http404("Only HTML files are served here.")
    return stream_file(
        request,
        root,
        path,
        "text/html; charset=utf-8",
        False,
        previews.SANDBOX_CSP,
        max_size=previews.INLINE_LIMITS["html"],
    )


def stream_file(
    request: HttpRequest,
    root: ArtifactRoot,
    path: str,
    content_type: str,
    attachment: bool,
    policy: str,
    max_size: int | None = None,
) -> HttpResponse:
    """A file of the root, streamed with Range support, with the headers that keep it inert."""
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
