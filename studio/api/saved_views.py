"""An experiment's saved views of its runs table (tracking.queries.saved_views).

    GET    /api/studio/v1/workspaces/<ws>/experiments/<id>/views        the views, by name
    POST   /api/studio/v1/workspaces/<ws>/experiments/<id>/views        {"name", "columns"?, "sort"?,
                                                                        "filter"?, "group"?, "overwrite"?}: 201
    DELETE /api/studio/v1/workspaces/<ws>/experiments/<id>/views/<view> delete one (and the default, if it)
    PUT    /api/studio/v1/workspaces/<ws>/experiments/<id>/default-view {"view_id": id or null}

The views are experiment tags in MLflow's format, so MLflow's own set/delete experiment tag RPCs
reach them too; these add what the tags alone do not: names unique per experiment, the state
checked against what the runs table can show, the default view, and the views read for you.
"""

from __future__ import annotations

from urllib.parse import urlencode

from rest_framework import serializers
from rest_framework.response import Response

from tracking.models import Experiment, Workspace
from tracking.queries.experiments import get_experiment
from tracking.queries.saved_views import MAX_NAME_LENGTH, SavedView, ViewState, saved_views
from tracking.services.saved_views import delete_view, save_view, set_default_view

from .endpoints import StudioEndpoint, created

# A view's columns are at most this many (MLflow's 20,000 characters hold fewer anyway).
MAX_COLUMNS = 1000


def view_json(view: SavedView, experiment: Experiment, default_id: str | None) -> dict:
    state = view.state
    page = f"/ws/{experiment.workspace.name}/experiments/{experiment.experiment_id}/"
    return {
        "id": view.id,
        "name": view.name,
        "default": view.id == default_id,
        "columns": list(state.columns) if state.columns is not None else None,
        "sort": state.sort,
        "filter": state.filter,
        "group": state.group,
        "created_at": view.created_at.isoformat(),
        "updated_at": view.updated_at.isoformat(),
        "url": f"{page}?{urlencode({'view': view.id})}",
    }


class SaveRequest(serializers.Serializer):
    name = serializers.CharField(max_length=MAX_NAME_LENGTH, allow_blank=True, trim_whitespace=False)
    columns = serializers.ListField(
        child=serializers.CharField(max_length=600), required=False, allow_null=True, max_length=MAX_COLUMNS
    )
    sort = serializers.CharField(required=False, allow_blank=True, default="", max_length=600)
    filter = serializers.CharField(required=False, allow_blank=True, default="", max_length=20000)
    group = serializers.CharField(required=False, allow_blank=True, default="", max_length=600)
    overwrite = serializers.BooleanField(required=False, default=False)


class DefaultRequest(serializers.Serializer):
    view_id = serializers.CharField(allow_null=True, max_length=250)


def _experiment(workspace: Workspace, experiment_id: str) -> Experiment:
    experiment = get_experiment(workspace, experiment_id)
    experiment.workspace = workspace
    return experiment


class Views(StudioEndpoint):
    def get(self, request, workspace: Workspace, experiment_id: str) -> Response:
        experiment = _experiment(workspace, experiment_id)
        views = saved_views(experiment)
        return Response(
            {
                "views": [view_json(view, experiment, views.default_id) for view in views.views],
                "default_id": views.default.id if views.default else None,
            }
        )

    def post(self, request, workspace: Workspace, experiment_id: str) -> Response:
        experiment = _experiment(workspace, experiment_id)
        fields = self.valid(SaveRequest, request.data)
        columns = fields.get("columns")
        state = ViewState(
            columns=tuple(columns) if columns is not None else None,
            sort=fields["sort"].strip(),
            filter=fields["filter"].strip(),
            group=fields["group"].strip(),
        )
        view = save_view(
            experiment=experiment, name=fields["name"], state=state, overwrite=fields["overwrite"]
        )
        payload = view_json(view, experiment, saved_views(experiment).default_id)
        return created(payload, f"{request.path}/{view.id}")


class ViewDetail(StudioEndpoint):
    def delete(self, request, workspace: Workspace, experiment_id: str, view_id: str) -> Response:
        delete_view(experiment=_experiment(workspace, experiment_id), view_id=view_id)
        return Response(status=204)


class DefaultView(StudioEndpoint):
    def put(self, request, workspace: Workspace, experiment_id: str) -> Response:
        experiment = _experiment(workspace, experiment_id)
        fields = self.valid(DefaultRequest, request.data)
        set_default_view(experiment=experiment, view_id=fields["view_id"])
        return Response({"default_id": fields["view_id"]})
