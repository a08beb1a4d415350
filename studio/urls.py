from django.urls import include, path, re_path

from tracking.api.handlers.server import health, version
from tracking.api.router import dispatch, endpoint_not_found

from .accounts import views as accounts_views
from .fast_lane import fast_lane
from .views import artifacts, experiments, home, models, runs
from .views import deletions as deletion_views
from .views import imports as import_views
from .views import jobs as job_views

# MLflow's API lives at the root (the default workspace) and under /ws/<workspace>/, each in
# MLflow's two spellings: /api/ for clients and /ajax-api/ for browsers; its paths always start
# with the protocol's version (2.0/, 3.0/), so no other /api/ path can fall into it.
_MLFLOW_API = r"(?:ajax-)?api/(?P<api_path>[0-9]+\.0/.+)"
_WORKSPACE = r"ws/(?P<workspace_name>[a-z0-9-]+)/"

urlpatterns = [
    # First, as the MLflow client calls these by the thousand; the fast lane of studio.wsgi.
    re_path(rf"^{_MLFLOW_API}$", fast_lane(dispatch)),
    re_path(rf"^{_WORKSPACE}{_MLFLOW_API}$", fast_lane(dispatch)),
    path("", include("tracking.ingest.urls")),
    *accounts_views.api_urlpatterns,
    *deletion_views.api_urlpatterns,
    path("", include("tracking.jobs.urls")),
    # Any other /api/ path answers as the MLflow API does: 404 ENDPOINT_NOT_FOUND, in JSON.
    re_path(rf"^(?:{_WORKSPACE})?(?:ajax-)?api/(?P<api_path>.*)$", fast_lane(endpoint_not_found)),
    path("health", health),
    path("version", version),
    path("ws/<slug:workspace_name>/health", health),
    path("ws/<slug:workspace_name>/version", version),
    path("", home.home, name="home"),
]
# Each area of the studio lists its own pages, all under /ws/<workspace>/.
urlpatterns += experiments.urlpatterns + runs.urlpatterns + artifacts.urlpatterns + models.urlpatterns
urlpatterns += import_views.urlpatterns
urlpatterns += job_views.urlpatterns
urlpatterns += deletion_views.urlpatterns

urlpatterns += accounts_views.urlpatterns

handler404 = "studio.views.home.not_found"
