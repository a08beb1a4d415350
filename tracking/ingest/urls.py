"""Routes of the studio's own API (`/api/studio/v1/...`); included before the MLflow API's routes."""

from django.urls import path

from .api import ImportDetail, Imports

urlpatterns = [
    path("api/studio/v1/workspaces/<slug:workspace_name>/imports", Imports.as_view()),
    path("api/studio/v1/workspaces/<slug:workspace_name>/imports/<int:import_id>", ImportDetail.as_view()),
]
