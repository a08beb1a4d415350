"""Saved views on an experiment's page: the "Views" menu of its runs table, opening a view, and
the forms that save one, delete one and choose the experiment's default.

A view opens at `?view=<id>`: its columns, sort, filter and grouping become the page's URL
state, and parameters the URL names itself win over the view's (`?view=<id>&sort=name`). The
page with no parameters at all opens in the experiment's default view; `?view=` (empty) opens
the table's own defaults. Once a view is applied, the page's links carry its state and `view=`
(empty), so that un-grouping or clearing the filter does not bring the default back.

The views are read from the experiment's tags, which the page reads anyway: no extra query.
The writes are POST forms (CSRF-checked; WRITE in the workspace, as for MLflow's
SetExperimentTag), calling tracking.services.saved_views.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from studio.lookups import experiment_or_404
from studio.routing import workspace_route
from tracking.access.permissions import Permission, role_allows
from tracking.errors import MlflowError
from tracking.models import Experiment, Workspace
from tracking.queries.run_groups import GroupBy
from tracking.queries.saved_views import MAX_NAME_LENGTH, SavedView, SavedViews, ViewState, views_from_tags
from tracking.services.saved_views import delete_view, save_view, set_default_view

VIEW_PARAM = "view"
# The parameters of the runs table a view sets.
STATE_PARAMS = ("col", "sort", "filter", "group")


@dataclass(frozen=True, slots=True)
class OpenedView:
    views: SavedViews
    active: SavedView | None = None
    missing: str = ""  # a `?view=` id the experiment does not have


def open_saved_view(request: HttpRequest, tags: list[tuple[str, str]]) -> OpenedView:
    """Applies the view the URL names (or, on a bare URL, the default) to `request.GET`."""
    views = views_from_tags(tags)
    query = request.GET
    if VIEW_PARAM in query:
        wanted = query.get(VIEW_PARAM, "")
        view = views.find(wanted) if wanted else None
        if wanted and view is None:
            return OpenedView(views, missing=wanted)
    elif not query:
        view = views.default
    else:
        view = None
    if view is None:
        return OpenedView(views)
    effective = QueryDict(mutable=True)
    for key, values in view.state.query().items():
        effective.setlist(key, values)
    for key, values in query.lists():
        if key != VIEW_PARAM:
            effective.setlist(key, values)
    effective[VIEW_PARAM] = ""
    effective._mutable = False
    request.GET = effective
    return OpenedView(views, active=view)


def views_menu(request: HttpRequest, experiment: Experiment, opened: OpenedView, table: dict) -> dict:
    """What the Views menu shows: the views, the one open, and the page's state to save."""
    base = request.path
    group = GroupBy.parse(request.GET.get("group", ""))
    return {
        "list": [(view, f"{base}?{urlencode({VIEW_PARAM: view.id})}") for view in opened.views.views],
        "active": opened.active,
        "missing": opened.missing,
        "default_id": opened.views.default.id if opened.views.default else None,
        "none_url": f"{base}?{VIEW_PARAM}=",
        "can_write": experiment.is_active
        and role_allows(getattr(request, "workspace_role", None), Permission.WRITE),
        "name_max": MAX_NAME_LENGTH,
        # The table as shown, columns spelled out, so that the view keeps them as they are.
        "columns": [header.column for header in table["headers"]["values"]],
        "sort": table["sort"],
        "filter": table["filter_string"],
        "group": group.id if group else "",
    }


# --- The forms -----------------------------------------------------------------------------------


@require_POST
def save(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    experiment = experiment_or_404(workspace, experiment_id)
    form = request.POST
    columns = tuple(column for column in form.getlist("col") if column) if "col" in form else None
    state = ViewState(
        columns=columns,
        sort=form.get("sort", "").strip(),
        filter=form.get("filter", "").strip(),
        group=form.get("group", "").strip(),
    )
    try:
        view = save_view(
            experiment=experiment,
            name=form.get("name", ""),
            state=state,
            overwrite=form.get("overwrite") == "1",
        )
    except MlflowError as error:
        messages.error(request, f"The view was not saved. {error.message}")
        return redirect(_back(request, experiment))
    messages.success(
        request, f"Saved the view “{view.name}”. Its link opens it for anyone who can read this experiment."
    )
    return redirect(_page_url(workspace, experiment, view.id))


@require_POST
def make_default(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    """`view=<id>` makes that view the default; `view=` (empty) goes back to the table's own."""
    experiment = experiment_or_404(workspace, experiment_id)
    view_id = request.POST.get(VIEW_PARAM, "")
    try:
        set_default_view(experiment=experiment, view_id=view_id or None)
    except MlflowError as error:
        messages.error(request, error.message)
        return redirect(_back(request, experiment))
    messages.success(
        request,
        "The experiment's page now opens in this view."
        if view_id
        else "The experiment's page opens with no view.",
    )
    return redirect(_page_url(workspace, experiment, view_id))


@require_POST
def delete(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    experiment = experiment_or_404(workspace, experiment_id)
    try:
        delete_view(experiment=experiment, view_id=request.POST.get(VIEW_PARAM, ""))
    except MlflowError as error:
        messages.error(request, error.message)
        return redirect(_back(request, experiment))
    messages.success(request, "Deleted the view.")
    return redirect(_page_url(workspace, experiment, ""))


def _page_url(workspace: Workspace, experiment: Experiment, view_id: str) -> str:
    return f"/ws/{workspace.name}/experiments/{experiment.experiment_id}/?{urlencode({VIEW_PARAM: view_id})}"


def _back(request: HttpRequest, experiment: Experiment) -> str:
    """Where a refused form returns: the page it came from, if it is this experiment's page."""
    page = request.path.rsplit("views/", 1)[0]
    back = request.POST.get("next", "")
    return back if back.startswith(page) and "//" not in back else page


_EXPERIMENT = "ws/<slug:workspace>/experiments/<str:experiment_id>"

urlpatterns = [
    workspace_route(f"{_EXPERIMENT}/views/save", save, name="save-view"),
    workspace_route(f"{_EXPERIMENT}/views/default", make_default, name="default-view"),
    workspace_route(f"{_EXPERIMENT}/views/delete", delete, name="delete-view"),
]
