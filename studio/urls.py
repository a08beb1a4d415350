"""Every path the server answers, in one table; studio.routing declares who may reach each.

MLflow's API lives at the root (the default workspace) and under /ws/<workspace>/, each in
MLflow's two spellings: /api/ for clients and /ajax-api/ for browsers. Its paths always start with
the protocol's version (2.0/, 3.0/), so no other /api/ path can fall into it; it comes first, as
the client calls it by the thousand, and takes studio.wsgi's fast lane.
"""

from django.urls import include, path

from tracking.api.gateway_invocations import chat_completions, invoke_endpoint
from tracking.api.handlers.server import health, version
from tracking.api.router import dispatch, endpoint_not_found, otlp_traces

from .accounts import views as accounts_views
from .api import endpoints as studio_api
from .fast_lane import fast_lane
from .routing import public_route, self_checked_route, signed_in_route
from .views import alerts as alert_views
from .views import artifacts, compare, experiments, home, models, runs
from .views import compute as compute_views
from .views import deletions as deletion_views
from .views import environments as environment_views
from .views import gateway as gateway_views
from .views import genai as genai_views
from .views import images as image_views
from .views import imports as import_views
from .views import jobs as job_views
from .views import saved_views as saved_view_views
from .views import traces as trace_views

# `[\s\S]` rather than `.`: an id in the path may hold an encoded newline, which must reach the
# API's own JSON 404 rather than fall through to the pages' HTML one.
_MLFLOW_API = r"(?:ajax-)?api/(?P<api_path>[0-9]+\.0/[\s\S]+)"
_WORKSPACE = r"ws/(?P<workspace_name>[a-z0-9-]+)/"
# MLflow's UI downloads files from two paths at the root, outside its API, and sends its GraphQL
# there too (the router's extra routes without a version: tracking/api/handlers/ui.py,
# registry/api/handlers.py, tracking/api/graphql/endpoint.py); the router checks them as RPCs.
_MLFLOW_UI_ROOT = r"(?P<api_path>get-artifact|model-versions/get-artifact|graphql)"

urlpatterns = [
    self_checked_route(rf"^{_MLFLOW_API}\Z", fast_lane(dispatch)),
    self_checked_route(rf"^{_WORKSPACE}{_MLFLOW_API}\Z", fast_lane(dispatch)),
    # The AI gateway's invocation routes (MLflow's, outside /api/): they check access themselves.
    self_checked_route(rf"^(?:{_WORKSPACE})?gateway/mlflow/v1/chat/completions$", chat_completions),
    self_checked_route(
        rf"^(?:{_WORKSPACE})?gateway/(?P<endpoint_name>[^/]+)/mlflow/invocations$", invoke_endpoint
    ),
    # OpenTelemetry's span export (OTLP/HTTP), authorized like the MLflow API it belongs with.
    self_checked_route(r"^v1/traces$", fast_lane(otlp_traces)),
    self_checked_route(rf"^{_WORKSPACE}v1/traces$", fast_lane(otlp_traces)),
    # Extra leading slashes are the same path (MLflow's server merges them; its tests ask for
    # `//model-versions/get-artifact`).
    self_checked_route(rf"^/*(?:{_WORKSPACE})?{_MLFLOW_UI_ROOT}$", fast_lane(dispatch)),
    path("api/studio/v1/", include("studio.api.urls")),
    # Any other /api/ path answers as the MLflow API does: 404 ENDPOINT_NOT_FOUND, in JSON.
    self_checked_route(r"^api/studio/(?P<path>.*)$", studio_api.not_found),
    self_checked_route(
        rf"^(?:{_WORKSPACE})?(?:ajax-)?api/(?P<api_path>[\s\S]*)\Z", fast_lane(endpoint_not_found)
    ),
    # Probes (docker's health check, load balancers) reach these without credentials.
    public_route("health", health),
    public_route("version", version),
    public_route("ws/<slug:workspace_name>/health", health),
    public_route("ws/<slug:workspace_name>/version", version),
    signed_in_route("", home.home, name="home"),
]
# Each area of the studio lists its own pages, all under /ws/<workspace>/.
urlpatterns += experiments.urlpatterns + runs.urlpatterns + compare.urlpatterns + artifacts.urlpatterns
urlpatterns += models.urlpatterns
urlpatterns += import_views.urlpatterns
urlpatterns += job_views.urlpatterns
urlpatterns += environment_views.urlpatterns
urlpatterns += compute_views.urlpatterns
urlpatterns += image_views.urlpatterns
urlpatterns += deletion_views.urlpatterns
urlpatterns += alert_views.urlpatterns
urlpatterns += accounts_views.urlpatterns
urlpatterns += saved_view_views.urlpatterns
urlpatterns += trace_views.urlpatterns
urlpatterns += genai_views.urlpatterns
urlpatterns += gateway_views.urlpatterns

handler404 = "studio.views.home.not_found"
