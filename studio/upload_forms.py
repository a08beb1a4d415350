"""A studio form that carries an upload (an import's archive, a job's snapshot): the file is
streamed to its place while the form is read, and a refusal (too large, a broken body) is shown
on the form's page instead of an error page.

The view must be `csrf_exempt` and check CSRF itself after the upload handler is in place
(Django reads the body for the CSRF token, and the handler has to be set before that); `accept`
is expected to be `csrf_protect`ed.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tracking.errors import MlflowError
from tracking.uploads import StreamedUploadHandler, UploadKind


def receive(
    request: HttpRequest,
    kind: UploadKind,
    *,
    headroom: int,
    accept: Callable[[], HttpResponse],
    refuse: Callable[[str, int], HttpResponse],
) -> HttpResponse:
    """`accept()` with the upload streamed as it is read; `refuse(message, status)` when the body
    is larger than the kind's limit plus `headroom` (the form's other fields) or breaks it."""
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    if declared > kind.limit() + headroom:  # refused before reading it
        error = kind.too_large()
        return refuse(error.message, error.http_status)
    request.upload_handlers = [StreamedUploadHandler(request, kind)]
    try:
        return accept()
    except MlflowError as refused:  # while the body was read: nothing was kept of it
        return refuse(refused.message, refused.http_status)
