"""Studio pages: a run's tabs (Overview, Metrics, Outputs + logs, Child runs, Models) and its
metric data for charts. The comparison of several runs is `studio.views.compare`.

The Artifacts tab lives in `studio.views.artifacts`; every tab shares the tab bar in
templates/studio/runs/_tabs.html. Charts are drawn by static/studio/charts.js from figures that
`studio.charts` builds out of `tracking.queries.metric_charts` buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET, require_POST

from studio import charts
from studio.artifact_previews import decode_text, read_prefix
from studio.lookups import run_or_404
from studio.pages import elapsed
from studio.routing import workspace_route
from tracking.artifacts import ArtifactIsADirectory, ArtifactNotFound, FileInfo, clean_path
from tracking.errors import InvalidParameterValue, MlflowError
from tracking.models import LoggedModel, MetricSummary, Run, RunModelLink, RunTag, Workspace
from tracking.queries.metric_charts import DEFAULT_POINTS, MAX_POINTS, MIN_POINTS, bucketed_histories
from tracking.queries.runs import load_runs
from tracking.services.artifacts import list_under, proxy_path, read_artifact
from tracking.services.runs import set_tag

NOTE_TAG = "mlflow.note.content"
PARENT_TAG = "mlflow.parentRunId"
MAX_COMPARED = 50
MAX_CHILDREN = 500
MAX_CHILD_METRIC_COLUMNS = 8
LOG_FOLDERS = ("logs", "outputs")
MAX_LOG_FILES = 200
MODEL_STATUS_LABELS = {
    "LOGGED_MODEL_READY": "Ready",
    "LOGGED_MODEL_PENDING": "Pending",
    "LOGGED_MODEL_UPLOAD_FAILED": "Upload failed",
}


# --- Shared pieces -------------------------------------------------------------------------


def _run_context(workspace: Workspace, run_id: str, tab: str) -> dict:
    """The workspace, the run (or a 404) and its experiment: what every tab's header shows."""
    run = run_or_404(workspace, run_id)
    return {
        "workspace": workspace,
        "area": "experiments",
        "run": run,
        "experiment": run.experiment,
        "tab": tab,
        "duration": duration_text(run.start_time, run.end_time, run.status),
    }


def duration_text(start: datetime | None, end: datetime | None, status: str) -> str:
    return elapsed(start, end, running=status == "RUNNING")


@dataclass(frozen=True)
class MetricRow:
    key: str
    latest: str
    low: str
    high: str
    step: int
    count: int

    @property
    def points(self) -> str:
        return f"{self.count:,} point{'' if self.count == 1 else 's'}"


def _metric_rows(run: Run) -> list[MetricRow]:
    """The run's metrics from their summaries: latest value, min, max, last step, points."""
    return [
        MetricRow(
            s.key,
            format_number(s.value),
            format_number(s.min_value),
            format_number(s.max_value),
            s.step,
            s.count,
        )
        for s in MetricSummary.objects.filter(run_id=run.pk).order_by("key")
    ]


def format_number(value: float | None) -> str:
    return "NaN" if value is None else f"{value:.6g}"


def json_answer(data: dict, status: int = 200) -> HttpResponse:
    # orjson writes NaN as null, so even a stray NaN cannot make the answer invalid JSON.
    return HttpResponse(orjson.dumps(data), status=status, content_type="application/json")


def bad_request(message: str) -> HttpResponse:
    return json_answer({"error_code": "INVALID_PARAMETER_VALUE", "message": message}, status=400)


# --- Overview ------------------------------------------------------------------------------


@require_GET
def overview(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    context = _run_context(workspace, run_id, "overview")
    run: Run = context["run"]
    record = load_runs([run.pk])[0]
    tags = dict(record.tags)
    parent_id = tags.get(PARENT_TAG, "")
    parent = (
        Run.objects.filter(uuid=parent_id, experiment__workspace=context["workspace"])
        .only("uuid", "name")
        .first()
        if parent_id
        else None
    )
    user_tags = sorted((key, value) for key, value in record.tags if not key.startswith("mlflow."))
    system_tags = sorted(
        (key, value) for key, value in record.tags if key.startswith("mlflow.") and key != NOTE_TAG
    )
    context.update(
        record=record,
        params=sorted(record.params),
        user_tags=user_tags,
        system_tags=system_tags,
        metrics=_metric_rows(run),
        datasets=record.dataset_inputs,
        description=tags.get(NOTE_TAG, ""),
        parent_id=parent_id,
        parent=parent,
        user=run.user_id or tags.get("mlflow.user", ""),
        source={
            "name": tags.get("mlflow.source.name", ""),
            "type": tags.get("mlflow.source.type", ""),
            "commit": tags.get("mlflow.source.git.commit", ""),
            "branch": tags.get("mlflow.source.git.branch", ""),
            "repo": tags.get("mlflow.source.git.repoURL", ""),
        },
    )
    return render(request, "studio/runs/overview.html", context)


@require_POST
def edit_description(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    """Sets the run's description where MLflow's UI keeps it (the `mlflow.note.content` tag)."""
    run = run_or_404(workspace, run_id)
    try:
        set_tag(run=run, key=NOTE_TAG, value=request.POST.get("description", "").replace("\r\n", "\n"))
    except MlflowError as error:
        messages.error(request, f"The description was not saved: {error.message}")
    else:
        messages.success(request, "Description saved.")
    return redirect("run", workspace=workspace, run_id=run.uuid)


# --- Metrics -------------------------------------------------------------------------------


@require_GET
def metrics(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    context = _run_context(workspace, run_id, "metrics")
    rows = _metric_rows(context["run"])
    context["metrics"] = rows
    context["metric_sections"] = metric_sections(rows, key=lambda row: row.key)
    context["chart_config"] = {
        "live": context["run"].status == "RUNNING",
        "points": DEFAULT_POINTS,
        "refreshSeconds": 10,
    }
    return render(request, "studio/runs/metrics.html", context)


SYSTEM_METRIC_PREFIX = "system/"  # what mlflow.enable_system_metrics_logging() logs: CPU, GPU, memory...


def metric_sections(items: list, *, key) -> list[tuple[str, list]]:
    """The model's own metrics, then the system's (`system/...`) in a section of their own;
    empty sections left out."""
    system = [item for item in items if key(item).startswith(SYSTEM_METRIC_PREFIX)]
    own = [item for item in items if not key(item).startswith(SYSTEM_METRIC_PREFIX)]
    return [(title, part) for title, part in (("Metrics", own), ("System metrics", system)) if part]


@dataclass(frozen=True)
class ChartArgs:
    key: str
    axis: str
    points: int
    x_from: int | None
    x_to: int | None


def chart_args(request: HttpRequest, default_points: int) -> ChartArgs:
    """key, x (step|time), points, and from/to (a step, or seconds on the time axis)."""
    key = request.GET.get("key", "")
    if not key:
        raise InvalidParameterValue("Say which metric: ?key=<metric key>.")
    axis = request.GET.get("x", "step")
    if axis not in ("step", "time"):
        raise InvalidParameterValue(f"x must be step or time, got {axis!r}.")
    try:
        points = int(request.GET.get("points") or default_points)
    except ValueError:
        raise InvalidParameterValue("points must be a whole number.") from None
    points = max(MIN_POINTS, min(MAX_POINTS, points))
    return ChartArgs(key, axis, points, _bound(request, "from", axis, -1), _bound(request, "to", axis, 1))


def _bound(request: HttpRequest, name: str, axis: str, direction: int) -> int | None:
    raw = request.GET.get(name, "")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise InvalidParameterValue(f"{name} must be a number.") from None
    if value != value or abs(value) > 2**52:
        raise InvalidParameterValue(f"{name} is out of range.")
    scaled = value * 1000 if axis == "time" else value
    # Round outwards, so that the points at the chart's edges stay in.
    return int(scaled // 1) if direction < 0 else -int(-scaled // 1)


@gzip_page
@require_GET
def metric_data(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    """One key's history, bucketed, as a plotly figure (JSON) for the Metrics tab."""
    run = run_or_404(workspace, run_id)
    try:
        args = chart_args(request, DEFAULT_POINTS)
        (series,) = bucketed_histories(
            [run], args.key, axis=args.axis, points=args.points, x_from=args.x_from, x_to=args.x_to
        ) or [None]
    except InvalidParameterValue as error:
        return bad_request(error.message)
    if series is None:
        return json_answer(
            {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"No metric {args.key!r}"}, 404
        )
    return json_answer(
        {
            "key": args.key,
            "x": args.axis,
            "status": run.status,
            "figure": charts.metric_figure(series, name=args.key),
            "series": [charts.series_summary(series)],
        }
    )


# --- Outputs + logs ------------------------------------------------------------------------


def _log_files(workspace: Workspace, root: str) -> list[FileInfo]:
    """Files under logs/ and outputs/ (two folder levels deep), in path order."""
    found: list[FileInfo] = []
    folders = list(LOG_FOLDERS)
    depth = {folder: 0 for folder in folders}
    while folders and len(found) < MAX_LOG_FILES:
        folder = folders.pop(0)
        for info in list_under(workspace, root, folder):
            if info.is_dir and depth[folder] < 2:
                folders.append(info.path)
                depth[info.path] = depth[folder] + 1
            elif not info.is_dir:
                found.append(info)
    return sorted(found[:MAX_LOG_FILES], key=lambda info: info.path)


@require_GET
def outputs(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    context = _run_context(workspace, run_id, "outputs")
    root = proxy_path(context["run"].artifact_uri)
    files = _log_files(context["workspace"], root) if root else []
    wanted = request.GET.get("file", "")
    selected = next((info for info in files if info.path == wanted), None)
    if wanted and selected is None:
        raise Http404(f"No log file {wanted!r}")
    if selected is None and files:
        # Azure ML opens user_logs/std_log.txt first; any std_log, else the first file.
        selected = next((info for info in files if "std_log" in info.path), files[0])
    context.update(root=root, files=files, selected=selected, text=None, truncated=False)
    if selected is not None:
        context.update(_read_log(context["workspace"], root, selected.path))
    return render(request, "studio/runs/outputs.html", context)


def _read_log(workspace: Workspace, root: str, relative: str) -> dict:
    try:
        prefix, size = read_artifact(
            workspace,
            f"{root}/{clean_path(relative, file=True)}",
            lambda handle, size: (read_prefix(handle), size),
        )
    except (ArtifactNotFound, ArtifactIsADirectory, InvalidParameterValue):
        raise Http404(f"No log file {relative!r}") from None
    return {"text": decode_text(prefix, textual=True), "truncated": prefix.truncated, "size": size}


# --- Child runs ----------------------------------------------------------------------------


@require_GET
def children(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    context = _run_context(workspace, run_id, "children")
    child_pks = list(
        RunTag.objects.filter(
            key=PARENT_TAG,
            value=context["run"].uuid,
            run__experiment__workspace=context["workspace"],
            run__lifecycle_stage="active",
        )
        .order_by("run__start_time", "run_id")
        .values_list("run_id", flat=True)[:MAX_CHILDREN]
    )
    records = load_runs(child_pks)
    keys = sorted({key for record in records for key, *_ in record.metrics})
    columns = keys[:MAX_CHILD_METRIC_COLUMNS]
    rows = []
    for record in records:
        latest = {key: value for key, value, *_ in record.metrics}
        rows.append(
            {
                "record": record,
                "duration": duration_text(record.start_time, record.end_time, record.status),
                "metrics": [format_number(latest[key]) if key in latest else "" for key in columns],
            }
        )
    context.update(
        rows=rows,
        metric_columns=columns,
        hidden_metrics=len(keys) - len(columns),
        compare_ids=",".join(record.run_id for record in records[:MAX_COMPARED]),
    )
    return render(request, "studio/runs/children.html", context)


# --- Models --------------------------------------------------------------------------------


@require_GET
def models(request: HttpRequest, workspace: Workspace, run_id: str) -> HttpResponse:
    context = _run_context(workspace, run_id, "models")
    run: Run = context["run"]
    links = {
        (model_id, direction): step
        for model_id, direction, step in run.model_links.values_list("model_id", "direction", "step")
    }
    linked = {model_id for model_id, _ in links}
    found = LoggedModel.objects.filter(
        Q(source_run_id=run.uuid) | Q(model_id__in=linked),
        experiment__workspace=context["workspace"],
        lifecycle_stage="active",
    ).order_by("created_at", "pk")
    produced, used = [], []
    for model in found:
        model.status_label = MODEL_STATUS_LABELS.get(model.status, model.status)
        if model.source_run_id == run.uuid or (model.model_id, RunModelLink.OUTPUT) in links:
            model.step = links.get((model.model_id, RunModelLink.OUTPUT))
            model.files_href = _model_files_href(context["workspace"], model)
            produced.append(model)
        if (model.model_id, RunModelLink.INPUT) in links:
            used.append(model)
    context.update(produced=produced, used=used)
    return render(request, "studio/runs/models.html", context)


def _model_files_href(workspace: Workspace, model: LoggedModel) -> str:
    """The Artifacts tab of the run that logged the model, opened on the model's files."""
    if not model.source_run_id:
        return ""
    return f"/ws/{workspace.name}/runs/{model.source_run_id}/artifacts/?model={model.model_id}"


_RUN = "ws/<slug:workspace>/runs/<str:run_id>/"

urlpatterns = [
    workspace_route(_RUN, overview, name="run"),
    workspace_route(f"{_RUN}description", edit_description, name="run-description"),
    workspace_route(f"{_RUN}metrics/", metrics, name="run-metrics"),
    workspace_route(f"{_RUN}metrics/data", metric_data, name="run-metric-data"),
    workspace_route(f"{_RUN}outputs/", outputs, name="run-outputs"),
    workspace_route(f"{_RUN}children/", children, name="run-children"),
    workspace_route(f"{_RUN}models/", models, name="run-models"),
]
