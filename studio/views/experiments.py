"""Studio pages: a workspace's experiments, an experiment's runs table, and the workspace's runs
page (the same table over the runs of any or all experiments).

Everything a page shows is in its URL (search, filter, sort, columns, page), so a view can be
bookmarked and shared; an experiment's saved views (studio.views.saved_views) are named URL states. The reads are `tracking.queries.experiment_table` and `.run_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils import timezone
from django.utils.safestring import mark_safe

from studio.lookups import experiment_or_404
from studio.pages import format_duration, page_number
from studio.routing import workspace_route
from studio.views.compare import ALL_EXPERIMENTS
from studio.views.saved_views import open_saved_view, views_menu
from tracking.alerts.queries import experiment_alert_counts
from tracking.errors import InvalidParameterValue
from tracking.models import Experiment, Workspace
from tracking.queries.experiment_table import DEFAULT_SORT, SORTS, list_experiments
from tracking.queries.experiments import active_experiments, experiment_tags
from tracking.queries.run_groups import GroupBy, RunGroup, group_table
from tracking.queries.run_table import (
    DURATION,
    METRIC,
    STATS,
    Column,
    RunRow,
    RunScope,
    Sort,
    children_filter,
    experiment_keys,
    parse_column,
    run_table,
)

# Tags MLflow sets itself (mlflow.note.content, mlflow.runName, ...) are not shown as chips.
_SYSTEM_TAG_PREFIX = "mlflow."


def experiments(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    search = request.GET.get("q", "").strip()
    sort = request.GET.get("sort", DEFAULT_SORT)
    sort = sort if sort in SORTS else DEFAULT_SORT
    show_deleted = request.GET.get("deleted") == "1"
    listing = list_experiments(
        workspace, name_contains=search, sort=sort, include_deleted=show_deleted, page=page_number(request)
    )
    for row in listing.rows:
        row.tags = _user_tags(row.tags)
    return render(
        request,
        "studio/experiments/list.html",
        {
            "workspace": workspace,
            "area": "experiments",
            "listing": listing,
            "search": search,
            "sort": sort,
            "show_deleted": show_deleted,
            "sort_links": {
                name: _url(request, sort=_flip(sort, name), page=None) for name in ("name", "activity")
            },
            "previous_url": _url(request, page=listing.page - 1) if listing.page > 1 else None,
            "next_url": _url(request, page=listing.page + 1) if listing.page < listing.pages else None,
        },
    )


def experiment(request: HttpRequest, workspace: Workspace, experiment_id: str) -> HttpResponse:
    exp = experiment_or_404(workspace, experiment_id)
    tags = experiment_tags([exp]).get(exp.pk, [])
    opened = open_saved_view(request, tags)
    context = _runs_table(request, workspace, RunScope.of(exp), compared_experiments=[exp.experiment_id])
    context.update(
        area="experiments",
        experiment=exp,
        tags=_user_tags(tags),
        alert_counts=experiment_alert_counts(exp),
        views=views_menu(request, exp, opened, context),
    )
    return render(request, "studio/experiments/detail.html", context)


def workspace_runs(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """The runs of any or all of the workspace's experiments in one table, with the experiment as
    a column: `exp=` (repeated) picks experiments by id; without it, every active one."""
    active = active_experiments(workspace)
    picked_ids = {value for value in request.GET.getlist("exp") if value}
    picked = [exp for exp in active if exp.experiment_id in picked_ids] if picked_ids else active
    context = _runs_table(
        request,
        workspace,
        RunScope.across(picked),
        experiments_by_pk={exp.pk: exp for exp in active},
        compared_experiments=sorted(picked_ids) or [ALL_EXPERIMENTS],
    )
    context.update(
        area="runs",
        experiment_choices=[(exp, exp in picked and bool(picked_ids)) for exp in active],
        picked_count=len(picked),
        all_picked=not picked_ids,
        kept_experiments=sorted(picked_ids),
    )
    return render(request, "studio/experiments/runs.html", context)


def _runs_table(
    request: HttpRequest,
    workspace: Workspace,
    scope: RunScope,
    experiments_by_pk: dict[int, Experiment] | None = None,
    *,
    compared_experiments: list[str],
) -> dict:
    """What the runs table shows for a scope, from the URL: filter, sort, columns, grouping, page.
    `compared_experiments` names the scope to the Compare page (`exp=`) that charts the groups."""
    keys = experiment_keys(scope)
    columns = _columns(request.GET, keys.default_columns())
    sort = Sort.parse(request.GET.get("sort", ""))
    filter_string = request.GET.get("filter", "").strip()
    group_by = GroupBy.parse(request.GET.get("group", ""))
    metric_keys = list(dict.fromkeys(column.key for column in columns if column.kind == METRIC))
    error = table = grouped = None
    try:
        if group_by:
            grouped = group_table(scope, group_by, metric_keys=metric_keys, filter_string=filter_string)
        else:
            table = run_table(
                scope, columns=columns, filter_string=filter_string, sort=sort, page=page_number(request)
            )
    except InvalidParameterValue as exc:
        error = exc.message
    chosen = {column.id for column in columns}
    chart_url = f"/ws/{workspace.name}/compare/?" + urlencode({"exp": compared_experiments}, doseq=True)
    runs_url = f"/ws/{workspace.name}/runs/"
    experiment_url = f"/ws/{workspace.name}/experiments/"
    return {
        "workspace": workspace,
        "filter_string": filter_string,
        "error": error,
        "table": table,
        "headers": _headers(request, columns, sort, with_experiment=experiments_by_pk is not None),
        "param_count": sum(column.kind != METRIC for column in columns),
        "metric_count": sum(column.kind == METRIC for column in columns),
        # Safe: _row escapes every value it puts in.
        "rows": mark_safe(
            "".join(
                _row(request, row, columns, runs_url, experiments_by_pk, experiment_url) for row in table.rows
            )
        )
        if table
        else "",
        "param_choices": [(key, f"params.{key}" in chosen) for key in keys.params],
        "metric_choices": [(key, _stat_choices(key, chosen)) for key in keys.metrics],
        "keys_total": len(keys.params) + len(keys.metrics),
        "kept_columns": request.GET.getlist("col"),
        "sort": str(sort),
        "clear_url": _url(request, filter=None, page=None),
        "default_columns_url": _url(request, col=None, page=None),
        "previous_url": _url(request, page=table.page - 1) if table and table.page > 1 else None,
        "next_url": _url(request, page=table.page + 1) if table and table.page < table.pages else None,
        "compare_url": f"/ws/{workspace.name}/compare/",
        "grouped": grouped,
        "group_metric_keys": metric_keys,
        # Safe: _group_row escapes every value it puts in.
        "group_rows": mark_safe(
            "".join(
                _group_row(request, group, grouped.group_by, metric_keys, filter_string, chart_url)
                for group in grouped.groups
            )
        )
        if grouped
        else "",
        "group_choices": [
            (
                "Params",
                [(f"params.{key}", key, group_by and group_by.id == f"params.{key}") for key in keys.params],
            ),
            (
                "Tags",
                [(f"tags.{key}", key, group_by and group_by.id == f"tags.{key}") for key in keys.tags],
            ),
        ],
        "ungroup_url": _url(request, group=None, page=None),
        "chart_groups_url": _chart_url(chart_url, filter_string, group_by) if group_by else "",
    }


def _chart_url(base: str, filter_string: str, group_by: GroupBy) -> str:
    """The Compare page charting the runs a filter matches, grouped: each group's mean and band."""
    return (
        base
        + "&"
        + urlencode(
            {"filter": filter_string, "group": group_by.id} if filter_string else {"group": group_by.id}
        )
    )


urlpatterns = [
    workspace_route("ws/<slug:workspace>/", experiments, name="experiments"),
    workspace_route("ws/<slug:workspace>/experiments/<str:experiment_id>/", experiment, name="experiment"),
    workspace_route("ws/<slug:workspace>/runs/", workspace_runs, name="workspace-runs"),
]


# --- URL state ---------------------------------------------------------------------------------


def _url(request: HttpRequest, **changes: str | int | list[str] | None) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    query: QueryDict = request.GET.copy()
    for key, value in changes.items():
        if value is None:
            query.pop(key, None)
        elif isinstance(value, list):
            query.setlist(key, value)
        else:
            query[key] = str(value)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def _flip(current: str, name: str) -> str:
    """The sort a header's link asks for: its own column, the other way round if already sorted by it."""
    if current.lstrip("-") == name:
        return name if current.startswith("-") else f"-{name}"
    return name if name == "name" else f"-{name}"


def _columns(query: QueryDict, default: list[Column]) -> list[Column]:
    """The columns the URL names (`col=`, repeated; an empty one alone means none), else the default."""
    if "col" not in query:
        return default
    columns = dict.fromkeys(column for column in map(parse_column, query.getlist("col")) if column)
    # Params first, then metrics, so that each kind sits under one heading.
    return sorted(columns, key=lambda column: column.kind == METRIC)


def _stat_choices(key: str, chosen: set[str]) -> list[tuple[str, str, bool]]:
    """The picker's checkboxes for a metric: (column id, label, checked) for latest, min and max."""
    columns = [Column(METRIC, key, stat) for stat in STATS]
    return [(c.id, f"{key}: {'latest' if c.stat == 'value' else c.stat}", c.id in chosen) for c in columns]


def _user_tags(tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(key, value) for key, value in tags if not key.startswith(_SYSTEM_TAG_PREFIX)]


# --- The runs table's header and cells ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Header:
    label: str
    column: str  # the sort id
    sort_url: str
    direction: str  # "asc", "desc" or ""
    numeric: bool = False
    stat: str = ""


_ATTRIBUTE_HEADERS = [("Status", "status"), ("User", "user"), ("Start", "start"), ("Duration", DURATION)]


def _headers(
    request: HttpRequest, columns: list[Column], sort: Sort, *, with_experiment: bool = False
) -> dict:
    def header(label: str, column: str, numeric: bool = False, stat: str = "") -> Header:
        direction = ("desc" if sort.descending else "asc") if sort.column == column else ""
        # A first click sorts ascending; a second one turns the order round.
        target = Sort(column, descending=direction == "asc")
        return Header(label, column, _url(request, sort=str(target), page=None), direction, numeric, stat)

    return {
        "name": header("Run", "name"),
        "experiment": with_experiment,
        "attributes": [header(label, column, column == DURATION) for label, column in _ATTRIBUTE_HEADERS],
        "values": [
            header(
                column.key, column.id, column.kind == METRIC, "" if column.stat == "value" else column.stat
            )
            for column in columns
        ],
    }


def _row(
    request: HttpRequest,
    row: RunRow,
    columns: list[Column],
    runs_url: str,
    experiments: dict[int, Experiment] | None = None,
    experiment_url: str = "",
) -> str:
    """One row of the runs table as HTML, every value from the database escaped.

    The rows are built here rather than in the template: a page lists up to 400 rows (100
    top-level runs and their child runs) of 20-odd values, and the template engine took
    three quarters of the page's time placing them one variable at a time.
    """
    name = escape(row.name or row.run_id)
    run_id = escape(row.run_id)
    start = timezone.localtime(row.start_time)
    if row.child_count:
        label = f"{row.child_count} child run{'s' if row.child_count != 1 else ''}"
        marker = (
            f'<button type="button" class="toggle" aria-expanded="true" '
            f'aria-label="Hide child runs of {name}" data-toggle="{run_id}">▾</button>'
        )
        if row.children_hidden:
            url = escape(_url(request, filter=children_filter(row.run_id), page=None))
            count = f'<a class="children" href="{url}" title="Showing {row.children_listed}: list them all">{label}</a>'
        else:
            count = f'<span class="children">{label}</span>'
    else:
        marker = '<span class="branch" aria-hidden="true">↳</span>' if row.depth else ""
        count = ""
    nesting = f' data-ancestors="{escape(" ".join(row.ancestors))}" class="child"' if row.ancestors else ""
    status = escape(row.status)
    experiment_cell = ""
    if experiments is not None:
        exp = experiments.get(row.experiment_pk)
        experiment_cell = (
            f'<td class="experiment"><a href="{escape(experiment_url)}{escape(exp.experiment_id)}/">{escape(exp.name)}</a></td>'
            if exp
            else '<td class="experiment">—</td>'
        )
    return (
        f'<tr data-run="{run_id}"{nesting}>'
        f'<td class="select"><input type="checkbox" class="pick" value="{run_id}" aria-label="Select {name}"></td>'
        f'<td class="name"><div class="tree" style="padding-left: {row.depth * 18}px">{marker}'
        f'<a href="{escape(runs_url)}{run_id}/" title="{run_id}">{name}</a>{count}</div></td>'
        f"{experiment_cell}"
        f'<td><span class="badge {status}">{status.capitalize()}</span></td>'
        f'<td class="user">{escape(row.user_id or "—")}</td>'
        f'<td><time datetime="{start.isoformat()}" title="{start:%Y-%m-%d %H:%M:%S %Z}">{start:%b} {start.day}, {start:%Y %H:%M}</time></td>'
        f'<td class="num">{format_duration(row.duration)}</td>'
        f"{''.join(_cells(row, columns))}</tr>"
    )


def _group_row(
    request: HttpRequest,
    group: RunGroup,
    group_by: GroupBy,
    metric_keys: list[str],
    filter_string: str,
    chart_url: str,
) -> str:
    """One group of the grouped table as HTML: its value (a link to its runs), its number of runs
    (and a link to its charts), and each metric's mean over its runs with the min and max under it."""
    narrowed = group_by.filter_for(group.value)
    if filter_string:
        narrowed = f"({filter_string}) AND {narrowed}"
    url = escape(_url(request, filter=narrowed, group=None, page=None))
    charts_url = escape(_chart_url(chart_url, narrowed, group_by))
    label = escape(group.value) if group.value is not None else '<span class="muted">(none)</span>'
    cells = []
    for key in metric_keys:
        spread = group.metrics.get(key)
        if spread is None or spread[0] is None:
            cells.append(_MISSING_METRIC)
            continue
        mean, low, high = spread
        cells.append(
            f'<td class="metric spread" title="{escape(f"mean {mean!r}, min {low!r}, max {high!r}")}">'
            f"{escape(format_number(mean))}"
            f'<span class="range">{escape(format_number(low))} &ndash; {escape(format_number(high))}</span></td>'
        )
    runs = f"{group.runs} run{'s' if group.runs != 1 else ''}"
    return (
        f'<tr class="group"><td class="name"><a href="{url}" title="List the runs of this group">{label}</a></td>'
        f'<td class="num">{runs} <a class="chart-link" href="{charts_url}" title="Chart the runs of this group: '
        f'their mean with a band, each run beneath">charts</a></td>{"".join(cells)}</tr>'
    )


def _cells(row: RunRow, columns: list[Column]):
    for column in columns:
        if column.kind != METRIC:
            value = row.params.get(column.key)
            yield _MISSING_PARAM if value is None else _cell("param", value, value)
            continue
        stats = row.metrics.get(column.key)
        if stats is None:
            yield _MISSING_METRIC
            continue
        value = stats[STATS.index(column.stat)]
        yield _cell("metric", format_number(value), f"{value!r} ({stats[3]} points)")


def _cell(css: str, text: str, title: str = "") -> str:
    return f'<td class="{css}" title="{escape(title)}">{escape(text)}</td>'


_MISSING_PARAM = _cell("param missing", "—")
_MISSING_METRIC = _cell("metric missing", "—")


def format_number(value: float | None) -> str:
    """Up to five significant digits, in plain notation between 1e-4 and 1e6."""
    if value is None:
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    size = abs(value)
    if size < 1e-4 or size >= 1e6:
        return f"{value:.4e}"
    decimals = max(0, 4 - math.floor(math.log10(size)))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")
