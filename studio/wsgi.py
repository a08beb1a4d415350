"""The WSGI application gunicorn serves.

Django's URL configuration (studio/urls.py) decides where every path goes, for both lanes below:
the handler resolves the path first, and only then picks the lane, so the two cannot disagree.

- A view marked `fast_lane` (MLflow's API, which the client calls by the thousand) runs behind a
  short chain: the middleware of settings.MIDDLEWARE that check the request's host and set the
  response's headers (security headers, X-Frame-Options, Content-Length), without sessions, CSRF,
  messages or static files, which no API call uses. That halves the framework's cost of a
  `log_metric`.
- Every other view takes the whole middleware chain.
"""

from __future__ import annotations

import os

from django.conf import settings
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, get_resolver, set_urlconf
from django.utils.module_loading import import_string

from studio import fast_lane

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")


class StudioWSGIHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async)
        chain = convert_exception_to_response(_call_resolved_view)
        for dotted in reversed([name for name in settings.MIDDLEWARE if name in fast_lane.MIDDLEWARE]):
            chain = convert_exception_to_response(import_string(dotted)(chain))
        self._fast_lane_chain = chain

    def get_response(self, request: HttpRequest) -> HttpResponse:
        set_urlconf(settings.ROOT_URLCONF)
        try:
            match = get_resolver().resolve(request.path_info)
        except Resolver404:
            return super().get_response(request)
        if not fast_lane.takes_fast_lane(match.func):
            return super().get_response(request)
        request.resolver_match = match
        response = self._fast_lane_chain(request)
        response._resource_closers.append(request.close)
        return response


def _call_resolved_view(request: HttpRequest) -> HttpResponse:
    match = request.resolver_match
    return match.func(request, *match.args, **match.kwargs)


def get_wsgi_application() -> StudioWSGIHandler:
    import django
    from django.db import connections

    django.setup(set_prefix=False)
    from tracking.api.router import ROUTES

    handler = StudioWSGIHandler()
    # Every URL configuration and view module imported now, not by each web worker's first
    # request: gunicorn's master loads this module before it forks (preload_app), so its workers
    # share those pages and answer their first request at once (it took a second and 45 MB of
    # each worker's own memory when imported there).
    get_resolver().reverse_dict  # noqa: B018 (touching it imports and indexes every pattern)
    ROUTES.build()  # MLflow's API: its handler modules and their route table
    connections.close_all()  # nothing a forked worker could share
    return handler


application = get_wsgi_application()
