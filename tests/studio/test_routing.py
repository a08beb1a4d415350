"""Access is part of the route (studio.routing): every route declares who may reach it, the
middleware reads that declaration off what the URL resolved to, and refuses a route without one."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.urls import URLResolver, get_resolver, path

from studio.routing import Reach, access_of, workspace_route


def _patterns(patterns, prefix=""):
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _patterns(entry.url_patterns, prefix + str(entry.pattern))
        else:
            yield prefix + str(entry.pattern), entry.callback


def test_every_route_declares_who_may_reach_it():
    undeclared = [route for route, view in _patterns(get_resolver().url_patterns) if access_of(view) is None]
    assert undeclared == []


def test_every_route_that_names_a_workspace_checks_the_callers_role_there():
    for route, view in _patterns(get_resolver().url_patterns):
        if "<slug:workspace>" in route:
            assert access_of(view).reach is Reach.WORKSPACE, route


def test_only_log_in_health_and_version_are_public():
    public = sorted(
        route
        for route, view in _patterns(get_resolver().url_patterns)
        if access_of(view).reach is Reach.PUBLIC
    )
    assert public == [
        "health",
        "login/",
        "logout/",
        "version",
        "ws/<slug:workspace_name>/health",
        "ws/<slug:workspace_name>/version",
    ]


def test_a_workspace_route_must_name_its_workspace():
    with pytest.raises(ValueError, match="<slug:workspace>"):
        workspace_route("ws/<slug:name>/things/", lambda request, name: HttpResponse())


def bare_view(request):
    return HttpResponse("should not be reached")


urlpatterns = [path("bare/", bare_view)]


@pytest.mark.urls("tests.studio.test_routing")
def test_a_route_that_declares_nothing_is_refused(client, db):
    with pytest.raises(ImproperlyConfigured, match="declares no access"):
        client.get("/bare/")


@pytest.mark.django_db
def test_a_workspace_view_gets_the_workspace_its_route_named(client, make_workspace):
    make_workspace("team-a")
    answer = client.get("/ws/team-a/")
    assert answer.status_code == 200
    assert answer.context["workspace"].name == "team-a"
    assert client.get("/ws/nobody/").status_code == 404
