"""Studio page: the comparison of several runs (charts, parallel coordinates, side by side), and
its chart data; runs may be grouped by a param or tag, each group drawn as its mean with a band.

Which runs are compared, in the URL:
- `?runs=<id>,<id>,...`: those runs, in that order (at most MAX_COMPARED);
- `?exp=<experiment id>` (repeated, or `exp=all` for every active experiment) with an optional
  `filter=`: the runs a runs table shows, the latest MAX_GROUP_CHARTED first. This is how the
  grouped runs table opens its groups' charts: many runs, a short URL (each chart's data URL
  repeats it, and a request line has a length limit).
`group=params.<key>` or `group=tags.<key>` groups them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.gzip import gzip_page
from django.views.decorators.http import require_GET

from studio import charts
from studio.lookups import experiment_or_404
from studio.routing import workspace_route
from studio.views.images import compared_images
from tracking.errors import InvalidParameterValue
from tracking.models import Experiment, Run, Workspace
from tracking.queries.experiments import active_experiments
from tracking.queries.metric_bands import group_bands, group_order
from tracking.queries.metric_charts import MAX_POINTS, MIN_POINTS, bucketed_histories
from tracking.queries.run_groups import GROUP_KINDS, GroupBy
from tracking.queries.run_table import RunScope
from tracking.queries.runs import RunRecord, load_runs
from tracking.search.runs import filter_and_order_runs

from .runs import (
    MAX_COMPARED,
    SYSTEM_METRIC_PREFIX,
    bad_request,
    chart_args,
    duration_text,
    format_number,
    json_answer,
    metric_sections,
)

MAX_GROUP_CHARTED = 200  # runs drawn when a runs table's groups are charted
COMPARE_POINTS_BUDGET = 12_000  # buckets per chart, shared by the runs drawn on it
ALL_EXPERIMENTS = "all"


@dataclass
class Selection:
    """The compared runs, how they were chosen, and whether the list was cut."""

    runs: list[Run]
    cut: bool
    limit: int
    query: dict  # what a chart's data URL repeats to name the same runs
    group_by: GroupBy | None
    filter_string: str = ""


def _selection(request: HttpRequest, workspace: Workspace) -> Selection:
    group_by = GroupBy.parse(request.GET.get("group", ""))
    if request.GET.get("runs") or not request.GET.getlist("exp"):
        runs, cut = _listed_runs(request, workspace)
        query = {"runs": ",".join(run.uuid for run in runs)}
        return Selection(runs, cut, MAX_COMPARED, _with_group(query, group_by), group_by)
    experiments = _experiments(request, workspace)
    filter_string = request.GET.get("filter", "").strip()
    scope = RunScope.across(experiments)
    matching = filter_and_order_runs(scope.runs(), filter_string, []).order_by("-start_time", "-pk")
    runs = list(matching.select_related("experiment")[: MAX_GROUP_CHARTED + 1])
    picked = request.GET.getlist("exp")
    query = {"exp": picked, "filter": filter_string} if filter_string else {"exp": picked}
    return Selection(
        runs[:MAX_GROUP_CHARTED],
        len(runs) > MAX_GROUP_CHARTED,
        MAX_GROUP_CHARTED,
        _with_group(query, group_by),
        group_by,
        filter_string,
    )


def _with_group(query: dict, group_by: GroupBy | None) -> dict:
    return {**query, "group": group_by.id} if group_by else query


def _listed_runs(request: HttpRequest, workspace: Workspace) -> tuple[list[Run], bool]:
    """The runs of ?runs=<id>,<id>,... in that order (a 404 if any is unknown), and whether
    the list was cut to MAX_COMPARED."""
    ids = list(dict.fromkeys(part.strip() for part in request.GET.get("runs", "").split(",") if part.strip()))
    cut = len(ids) > MAX_COMPARED
    ids = ids[:MAX_COMPARED]
    found = {
        run.uuid: run
        for run in Run.objects.filter(uuid__in=ids, experiment__workspace=workspace).select_related(
            "experiment"
        )
    }
    missing = [run_id for run_id in ids if run_id not in found]
    if missing:
        raise Http404(f"No run {missing[0]!r}")
    return [found[run_id] for run_id in ids], cut


def _experiments(request: HttpRequest, workspace: Workspace) -> list[Experiment]:
    picked = request.GET.getlist("exp")
    if ALL_EXPERIMENTS in picked:
        return active_experiments(workspace)
    return [experiment_or_404(workspace, experiment_id) for experiment_id in dict.fromkeys(picked)]


def group_values(runs: list[Run], group_by: GroupBy) -> dict[str, str | None]:
    """Each run's value of the grouping param or tag (None: not set), in one query."""
    model = GROUP_KINDS[group_by.kind]
    found = dict(
        model.objects.filter(run__in=[run.pk for run in runs], key=group_by.key).values_list(
            "run__uuid", "value"
        )
    )
    return {run.uuid: found.get(run.uuid) for run in runs}


@dataclass
class Row:
    label: str
    values: list[str]
    numeric: bool = False

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


def _comparison_rows(runs: list[Run], records: list[RunRecord]) -> dict[str, list[Row]]:
    attributes = [
        Row("Experiment", [run.experiment.name for run in runs]),
        Row("Status", [run.status for run in runs]),
        Row("Started", [timezone.localtime(run.start_time).strftime("%Y-%m-%d %H:%M:%S") for run in runs]),
        Row("Duration", [duration_text(run.start_time, run.end_time, run.status) for run in runs]),
        Row("User", [run.user_id for run in runs]),
    ]
    params = [dict(record.params) for record in records]
    latest = [{key: value for key, value, *_ in record.metrics} for record in records]
    param_rows = [
        Row(key, [values.get(key, "") for values in params])
        for key in sorted({k for values in params for k in values})
    ]
    metric_rows = [
        Row(key, [format_number(values[key]) if key in values else "" for values in latest], numeric=True)
        for key in sorted({k for values in latest for k in values})
    ]
    return {"Attributes": attributes, "Parameters": param_rows, "Metrics": metric_rows}


def _group_choices(records: list[RunRecord]) -> list[tuple[str, str]]:
    """(id, label) of every param and (user) tag the compared runs have, to group them by."""
    params = sorted({key for record in records for key, _ in record.params})
    tags = sorted({key for record in records for key, _ in record.tags if not key.startswith("mlflow.")})
    return [(f"params.{key}", f"param {key}") for key in params] + [
        (f"tags.{key}", f"tag {key}") for key in tags
    ]


def _groups(runs: list[Run], group_by: GroupBy) -> tuple[list[dict], dict[str, str]]:
    """The groups in the charts' order with their colours and runs, and each run's colour."""
    values = group_values(runs, group_by)
    ordered = sorted(set(values.values()), key=group_order)
    hue = {value: charts.color(index) for index, value in enumerate(ordered)}
    groups = [
        {"value": value, "color": hue[value], "runs": [run for run in runs if values[run.uuid] == value]}
        for value in ordered
    ]
    return groups, {run.uuid: hue[values[run.uuid]] for run in runs}


@require_GET
def compare(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    try:
        chosen = _selection(request, workspace)
    except InvalidParameterValue as error:
        context = {"workspace": workspace, "area": "experiments", "runs": [], "filter_error": error.message}
        return render(request, "studio/runs/compare.html", context, status=400)
    runs = chosen.runs
    records = load_runs([run.pk for run in runs])
    groups, run_colors = _groups(runs, chosen.group_by) if chosen.group_by and runs else ([], {})
    columns = [
        {"run": run, "color": run_colors.get(run.uuid) or charts.color(index), "name": run.name or run.uuid}
        for index, run in enumerate(runs)
    ]
    sections = _comparison_rows(runs, records)
    metric_keys = [row.label for row in sections["Metrics"]]
    # The machine's load says nothing of how a run's params did: system metrics stay out.
    parcoords = charts.parcoords_figure(
        [dict(record.params) for record in records],
        [
            {key: value for key, value, *_ in record.metrics if not key.startswith(SYSTEM_METRIC_PREFIX)}
            for record in records
        ],
    )
    experiments = {run.experiment_id: run.experiment for run in runs}
    kept_fields = [
        (name, one)
        for name, value in chosen.query.items()
        if name != "group"
        for one in (value if isinstance(value, list) else [value])
    ]
    context = {
        "workspace": workspace,
        "area": "experiments",
        "runs": runs,
        "columns": columns,
        "sections": sections,
        "differing": sum(row.differs for rows in sections.values() for row in rows),
        "metric_keys": metric_keys,
        "metric_sections": metric_sections(metric_keys, key=str),
        "data_query": urlencode(chosen.query, doseq=True),
        "kept_fields": kept_fields,
        "by_scope": "runs" not in chosen.query,
        "cut": chosen.cut,
        "limit": chosen.limit,
        "filter_string": chosen.filter_string,
        "experiment": next(iter(experiments.values())) if len(experiments) == 1 else None,
        "parcoords": parcoords,
        # Side by side at one step: a few dozen runs can be looked at so, not a runs table's 200.
        "images": compared_images(workspace, runs) if len(runs) <= MAX_COMPARED else [],
        "group_by": chosen.group_by,
        "group_choices": _group_choices(records),
        "groups": groups,
        "chart_config": {
            "live": any(run.status == "RUNNING" for run in runs),
            "refreshSeconds": 10,
            "grouped": bool(chosen.group_by),
        },
    }
    return render(request, "studio/runs/compare.html", context)


@gzip_page
@require_GET
def compare_data(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """One key's histories of the compared runs on one figure (JSON): one line per run, or, when
    grouped, each group's mean and bands with its runs beneath."""
    try:
        chosen = _selection(request, workspace)
    except InvalidParameterValue as error:
        return bad_request(error.message)
    runs = chosen.runs
    if not runs:
        return bad_request("Say which runs: ?runs=<id>,<id>, or ?exp=<experiment id>.")
    share = max(MIN_POINTS * 10, min(MAX_POINTS, COMPARE_POINTS_BUDGET // len(runs)))
    try:
        args = chart_args(request, share)
        found = bucketed_histories(
            runs, args.key, axis=args.axis, points=min(args.points, share), x_from=args.x_from, x_to=args.x_to
        )
    except InvalidParameterValue as error:
        return bad_request(error.message)
    names = {run.uuid: run.name or run.uuid for run in runs}
    if chosen.group_by:
        bands = group_bands(found, group_values(runs, chosen.group_by))
        figure = charts.group_figure(
            bands, [(series, names[series.run_id]) for series in found], args.axis, label=chosen.group_by.key
        )
    else:
        position = {run.uuid: index for index, run in enumerate(runs)}
        lines = [(series, names[series.run_id], charts.color(position[series.run_id])) for series in found]
        figure = charts.compare_figure(lines, args.axis)
    return json_answer(
        {
            "key": args.key,
            "x": args.axis,
            "status": "RUNNING" if any(run.status == "RUNNING" for run in runs) else "FINISHED",
            "figure": figure,
            "series": [charts.series_summary(series) for series in found],
        }
    )


urlpatterns = [
    workspace_route("ws/<slug:workspace>/compare/", compare, name="compare"),
    workspace_route("ws/<slug:workspace>/compare/data", compare_data, name="compare-data"),
]
