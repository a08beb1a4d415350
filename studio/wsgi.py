"""The WSGI application gunicorn serves.

MLflow API calls take a short lane: they go straight to the API's dispatcher, without
Django's middleware (sessions, CSRF, messages: nothing an API call uses) and URL resolution.
That halves the framework's cost of a `log_metric`, which the MLflow client makes by the
thousand. The lane still checks the Host header against ALLOWED_HOSTS; pages and static
files take the usual road.
"""

from __future__ import annotations

import os
import re

from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import set_urlconf

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

API_PATH = re.compile(r"^/(?:ws/(?P<workspace_name>[a-z0-9-]+)/)?(?:ajax-)?api/(?P<api_path>.+)$")


class StudioWSGIHandler(WSGIHandler):
    def get_response(self, request: HttpRequest) -> HttpResponse:
        found = API_PATH.match(request.path_info)
        if found is None:
            return super().get_response(request)
        from tracking.api.router import dispatch

        set_urlconf(None)
        try:
            request.get_host()
        except DisallowedHost:
            return HttpResponse(
                "Bad Request: this host name is not allowed.", status=400, content_type="text/plain"
            )
        response = dispatch(request, **found.groupdict())
        if not response.streaming and not response.has_header("Content-Length"):
            # As CommonMiddleware would: without a length gunicorn sends the body chunked, and
            # the client then reads it in pieces, in Python, on every call.
            response.headers["Content-Length"] = str(len(response.content))
        response._resource_closers.append(request.close)
        return response


def get_wsgi_application() -> StudioWSGIHandler:
    import django

    django.setup(set_prefix=False)
    return StudioWSGIHandler()


application = get_wsgi_application()
