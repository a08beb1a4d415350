from django.urls import include, path, re_path

from tracking.api.handlers.server import health, version
from tracking.api.router import dispatch

from .accounts import views as accounts_views
from .views import artifacts, experiments, home, models, runs
from .views import deletions as deletion_views
from .views import environments as environment_views
from .views import imports as import_views
from .views import jobs as job_views

# The MLflow API lives at the root (the default workspace) and under /ws/<workspace>/, each
# in MLflow's two spellings: /api/ for clients and /ajax-api/ for browsers.
_API = r"(?:ajax-)?api/(?P<api_path>.+)"

urlpatterns = [
    path("", include("tracking.ingest.urls")),  # /api/studio/v1/..., before the MLflow API's catch-all
    *accounts_views.api_urlpatterns,  # /api/studio/v1/..., before the catch-all too
    *deletion_views.api_urlpatterns,
    path("", include("tracking.jobs.urls")),
    re_path(rf"^{_API}$", dispatch),
    re_path(rf"^ws/(?P<workspace_name>[a-z0-9-]+)/{_API}$", dispatch),
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
urlpatterns += environment_views.urlpatterns
urlpatterns += deletion_views.urlpatterns

urlpatterns += accounts_views.urlpatterns

handler404 = "studio.views.home.not_found"
