from django.urls import path, re_path

from tracking.api.handlers.server import health, version
from tracking.api.router import dispatch

from .views import artifacts, experiments, home, models, runs

# The MLflow API lives at the root (the default workspace) and under /ws/<workspace>/, each
# in MLflow's two spellings: /api/ for clients and /ajax-api/ for browsers.
_API = r"(?:ajax-)?api/(?P<api_path>.+)"

urlpatterns = [
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

handler404 = "studio.views.home.not_found"
