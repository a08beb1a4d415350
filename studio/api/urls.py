"""The studio API's routes, under /api/studio/v1/ (docs/studio-api.md lists them for people)."""

from __future__ import annotations

from studio.routing import signed_in_route, workspace_route

from . import alerts, deletions, imports, jobs, resource_groups, saved_views, workspaces

_WS = "workspaces/<slug:workspace>"

urlpatterns = [
    signed_in_route("workspaces", workspaces.Workspaces.as_view()),
    workspace_route(_WS, workspaces.WorkspaceDetail.as_view()),
    workspace_route(f"{_WS}/tracking-token", workspaces.TrackingToken.as_view()),
    signed_in_route("resource-groups", resource_groups.ResourceGroups.as_view()),
    signed_in_route("resource-groups/<slug:group>", resource_groups.ResourceGroupDetail.as_view()),
    workspace_route(f"{_WS}/imports", imports.Imports.as_view()),
    workspace_route(f"{_WS}/imports/<id:import_id>", imports.ImportDetail.as_view()),
    workspace_route(f"{_WS}/jobs", jobs.Jobs.as_view()),
    workspace_route(f"{_WS}/jobs/<id:job_id>", jobs.JobDetail.as_view()),
    workspace_route(f"{_WS}/jobs/<id:job_id>/cancel", jobs.JobCancel.as_view()),
    workspace_route(f"{_WS}/jobs/<id:job_id>/output", jobs.JobOutput.as_view()),
    workspace_route(f"{_WS}/alerts", alerts.Alerts.as_view()),
    workspace_route(f"{_WS}/alert-rules", alerts.AlertRules.as_view()),
    workspace_route(f"{_WS}/alert-rules/<id:rule_id>", alerts.AlertRuleDetail.as_view()),
    workspace_route(f"{_WS}/alert-rules/<id:rule_id>/test", alerts.AlertRuleTest.as_view()),
    workspace_route(f"{_WS}/experiments/<str:experiment_id>/views", saved_views.Views.as_view()),
    workspace_route(
        f"{_WS}/experiments/<str:experiment_id>/views/<str:view_id>", saved_views.ViewDetail.as_view()
    ),
    workspace_route(f"{_WS}/experiments/<str:experiment_id>/default-view", saved_views.DefaultView.as_view()),
    signed_in_route("deletions", deletions.Deletions.as_view()),
    signed_in_route("deletions/<id:deletion_id>", deletions.DeletionDetail.as_view()),
]
