"""Saved views of an experiment's runs table, stored as experiment tags in MLflow's own format,
so that a view saved in the studio opens in MLflow's UI (3.15+) and the reverse.

MLflow's format, as read in the UI that the `mlflow` 3.17 package ships (its build,
mlflow/server/js/build/static/js/, of mlflow/server/js/src/experiment-tracking/: the constants
`EXPERIMENT_PAGE_VIEW_STATE_SHARE_TAG_PREFIX` and `..._SHARE_URL_PARAM_KEY` of constants.ts,
the saved-view envelope helpers behind the runs page's "Views" menu and "Save view" modal, and
`createExperimentPageUIState` / `createExperimentPageSearchFacetsState` for the state's keys):

- One experiment tag per view, key `mlflow.sharedViewState.<id>` (any non-empty id; MLflow
  makes one of the time and random letters, ours are uuid4 hex). Its UI opens one at `#/experiments/<id>/runs?viewStateShareKey=<id>`.
- The value is an envelope, JSON: `{"name", "createdAt", "updatedAt", "state"}` (epoch ms;
  `updatedAt` optional). `state` is a string: the page state as JSON, or that JSON compressed,
  `deflate;` + base64 of zlib's deflate. A value without the envelope is an older "share link"
  state with no name: MLflow's list skips it, and so does ours.
- The state merges the search facets and the UI state; what a view of the runs table says:
    searchFilter      MLflow's filter string                       -> our `filter=`
    orderByKey        `attributes.start_time`, `metrics.\\`acc\\``,  -> our `sort=` (its column)
                      `params.\\`lr\\``, `tags.\\`mlflow.runName\\``...
    orderByAsc        bool                                         -> our `sort=` (its direction)
    selectedColumns   [`params.\\`lr\\``, `metrics.\\`acc\\``,        -> our `col=` (params and
                      `tags.\\`t\\``, `attributes.\\`Source\\``...]     metrics; ours always show
                                                                      the attributes, no run tags)
    groupBy           {"aggregateFunction": "average"|"min"|"max",  -> our `group=` (the first
                       "groupByKeys": [{"mode": "param"|"tag"|       param or tag key; datasets
                       "dataset", "groupByData": key}]} or null     cannot be grouped by here)
  and more that the runs table here does not show (charts: compareRunCharts and
  compareRunSections, lifecycleFilter, startTime, datasetsFilter, runsHiddenMode, ...). Those
  are kept as they were when the studio overwrites a view, so its charts survive.
- MLflow caps a view at 20,000 characters (our MAX_EXPERIMENT_TAG_VALUE_LENGTH too) and an
  experiment at 40 views; names are unique ignoring case and surrounding spaces.
- What MLflow cannot say (a metric's min or max as a column or a sort, sorting by duration) is
  kept in the state under `studio` ({"columns": [...], "sort": "..."}), which MLflow ignores
  (it picks its own keys out of the state); when present it says the columns and the sort here.
- MLflow has no default view. Ours is a tag of its own, `mlflow.sharedViewStateDefault` (value:
  the view's id): outside the views' prefix, so MLflow's list never sees it, and in the
  `mlflow.` namespace, which both UIs keep out of the experiment's user tags.

Checked both ways against `mlflow server` 3.17.2 in Chromium: views saved here open in its runs
page with their filter, sort, columns and grouping and are listed in its Views menu, and a view
saved there opens here (tests/tracking/queries/test_saved_views.py keeps one such tag verbatim).

Reading never fails on what another client wrote: a tag whose value is not a view is skipped,
and a field of the wrong type is treated as absent.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from tracking.models import Experiment, ExperimentTag
from tracking.validation import MAX_EXPERIMENT_TAG_VALUE_LENGTH

from .run_groups import GroupBy
from .run_table import ATTRIBUTE_SORTS, METRIC, PARAM, Sort, parse_column

VIEW_TAG_PREFIX = "mlflow.sharedViewState."
DEFAULT_VIEW_TAG = "mlflow.sharedViewStateDefault"
MAX_VIEWS = 40
MAX_VIEW_LENGTH = MAX_EXPERIMENT_TAG_VALUE_LENGTH
MAX_NAME_LENGTH = 100
DEFLATE_PREFIX = "deflate;"
# A compressed state larger than this once inflated is not a view (the tag is at most 20,000
# characters; MLflow's own states are a few kilobytes).
MAX_STATE_BYTES = 1024 * 1024
# MLflow's default columns, which it shows beside the ones a view picks; a view saved here keeps them.
MLFLOW_ATTRIBUTE_COLUMNS = ["attributes.`Source`", "attributes.`Models`", "attributes.`Dataset`"]

# Our sort columns <-> MLflow's orderByKey (the run name and user are tags in MLflow's UI).
_SORT_TO_MLFLOW = {
    "start": "attributes.start_time",
    "name": "tags.`mlflow.runName`",
    "user": "tags.`mlflow.user`",
    "status": "attributes.status",
}
_SORT_FROM_MLFLOW = {
    **{key: column for column, key in _SORT_TO_MLFLOW.items()},
    **{key: column for column, key in ATTRIBUTE_SORTS.items()},
    "tags.`mlflow.user`": "user",
}
_GROUP_MODES = {"param": "params", "tag": "tags"}
_KINDS = {PARAM: "params", METRIC: "metrics"}
_MLFLOW_KEY = re.compile(r"^(metrics|params|tags|attributes)\.(?:`(.*)`|([^`]*))$", re.S)


@dataclass(frozen=True, slots=True)
class ViewState:
    """What a view says of the runs table, as the page's URL says it (studio.views.experiments)."""

    columns: tuple[str, ...] | None = None  # column ids; None: the table's default columns
    sort: str = ""  # a Sort as the URL writes it; "": the default
    filter: str = ""
    group: str = ""  # a GroupBy id; "": not grouped

    def query(self) -> dict[str, list[str]]:
        """The URL parameters that show this view (`col=` alone: no param or metric column)."""
        query: dict[str, list[str]] = {}
        if self.columns is not None:
            query["col"] = list(self.columns) or [""]
        for name, value in (("sort", self.sort), ("filter", self.filter), ("group", self.group)):
            if value:
                query[name] = [value]
        return query


@dataclass(frozen=True)
class SavedView:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    # MLflow's state as stored: what the studio does not show (charts, ...) is kept from it.
    mlflow_state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def tag_key(self) -> str:
        return view_tag_key(self.id)

    @cached_property
    def state(self) -> ViewState:
        # Worked out when asked for: the page lists every view and opens one.
        try:
            return state_from_mlflow(self.mlflow_state)
        except (ValueError, TypeError, RecursionError):
            return ViewState()


@dataclass(frozen=True, slots=True)
class SavedViews:
    views: list[SavedView]
    default_id: str | None

    def find(self, view_id: str) -> SavedView | None:
        return next((view for view in self.views if view.id == view_id), None)

    def named(self, name: str) -> SavedView | None:
        """The view of this name, ignoring case and surrounding spaces, as MLflow compares them."""
        wanted = name.strip().casefold()
        return next((view for view in self.views if view.name.strip().casefold() == wanted), None)

    @property
    def default(self) -> SavedView | None:
        return self.find(self.default_id) if self.default_id else None


def view_tag_key(view_id: str) -> str:
    return f"{VIEW_TAG_PREFIX}{view_id}"


def saved_views(experiment: Experiment) -> SavedViews:
    """The experiment's views, by name, in one query."""
    rows = ExperimentTag.objects.filter(experiment=experiment, key__startswith=VIEW_TAG_PREFIX[:-1])
    return views_from_tags(rows.values_list("key", "value"))


def views_from_tags(tags) -> SavedViews:
    """The views among an experiment's (key, value) tags; anything else is skipped."""
    views, default_id = [], None
    for key, value in tags:
        if key == DEFAULT_VIEW_TAG:
            default_id = value
        elif key.startswith(VIEW_TAG_PREFIX) and len(key) > len(VIEW_TAG_PREFIX):
            view = parse_view(key.removeprefix(VIEW_TAG_PREFIX), value)
            if view is not None:
                views.append(view)
    views.sort(key=lambda view: (view.name.casefold(), view.id))
    return SavedViews(views, default_id)


# --- Reading MLflow's format ---------------------------------------------------------------------


def parse_view(view_id: str, value: str) -> SavedView | None:
    """The view a tag's value holds, or None when it holds none (never raises)."""
    try:
        envelope = json.loads(value)
        if not isinstance(envelope, dict):
            return None
        name, created, state = envelope.get("name"), envelope.get("createdAt"), envelope.get("state")
        if not isinstance(name, str) or not name.strip() or not isinstance(state, str):
            return None
        if not _is_number(created):
            return None
        updated = envelope.get("updatedAt")
        mlflow_state = decode_state(state)
        if mlflow_state is None:
            return None
        return SavedView(
            id=view_id,
            name=name.strip(),
            created_at=_time(created),
            updated_at=_time(updated if _is_number(updated) else created),
            mlflow_state=mlflow_state,
        )
    except (ValueError, TypeError, OverflowError, RecursionError):
        return None


def decode_state(text: str) -> dict[str, Any] | None:
    if text.startswith(DEFLATE_PREFIX):
        try:
            packed = base64.b64decode(text.removeprefix(DEFLATE_PREFIX), validate=True)
            inflater = zlib.decompressobj()
            raw = inflater.decompress(packed, MAX_STATE_BYTES)
        except (binascii.Error, zlib.error):
            return None
        if inflater.unconsumed_tail:
            return None
        text = raw.decode("utf-8")
    state = json.loads(text)
    return state if isinstance(state, dict) else None


def state_from_mlflow(state: dict[str, Any]) -> ViewState:
    studio = state.get("studio") if isinstance(state.get("studio"), dict) else {}
    columns = _our_columns(studio.get("columns"))
    if columns is None:
        columns = _columns_from_mlflow(state.get("selectedColumns"))
    sort = studio.get("sort") if isinstance(studio.get("sort"), str) else None
    sort = str(Sort.parse(sort)) if sort else _sort_from_mlflow(state)
    search = state.get("searchFilter")
    return ViewState(
        columns=columns,
        sort="" if sort == str(Sort()) else sort,
        filter=search.strip() if isinstance(search, str) else "",
        group=_group_from_mlflow(state.get("groupBy")),
    )


def _our_columns(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    columns = (parse_column(item) for item in value if isinstance(item, str))
    return tuple(dict.fromkeys(column.id for column in columns if column))


def _columns_from_mlflow(value: Any) -> tuple[str, ...] | None:
    if not isinstance(value, list):
        return None
    ids = []
    for item in value:
        kind, key = _mlflow_key(item)
        if kind in ("params", "metrics") and key:
            ids.append(f"{kind}.{key}")
    return _our_columns(ids)


def _sort_from_mlflow(state: dict[str, Any]) -> str:
    key = state.get("orderByKey")
    if not isinstance(key, str) or not key:
        return ""
    ascending = state.get("orderByAsc") is True
    column = _SORT_FROM_MLFLOW.get(key)
    if column is None:
        kind, name = _mlflow_key(key)
        column = f"{kind}.{name}" if kind in ("params", "metrics") and name else None
    if column is None:
        return ""
    return str(Sort.parse(column if ascending else f"-{column}"))


def _group_from_mlflow(value: Any) -> str:
    if isinstance(value, str):  # MLflow's older form: "<mode>.<aggregate>.<key>"
        mode, _, rest = value.partition(".")
        _, _, key = rest.partition(".")
        keys = [{"mode": mode, "groupByData": key}]
    elif isinstance(value, dict) and isinstance(value.get("groupByKeys"), list):
        keys = value["groupByKeys"]
    else:
        return ""
    for item in keys:
        if isinstance(item, dict) and item.get("mode") in _GROUP_MODES:
            group = GroupBy.parse(f"{_GROUP_MODES[item['mode']]}.{item.get('groupByData')}")
            if group and isinstance(item.get("groupByData"), str):
                return group.id
    return ""


def _mlflow_key(value: Any) -> tuple[str, str]:
    """(`params`, `lr`) from MLflow's "params.`lr`" (or "params.lr"); ("", "") for anything else."""
    match = _MLFLOW_KEY.match(value) if isinstance(value, str) else None
    if not match:
        return "", ""
    return match[1], match[2] if match[2] is not None else match[3]


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _time(epoch_ms: float) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)


# --- Writing MLflow's format ---------------------------------------------------------------------


def state_to_mlflow(view: ViewState, previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """MLflow's state for a view: the runs table's part from `view`, the rest (charts, ...) kept
    from the state it replaces."""
    columns = [parse_column(column_id) for column_id in view.columns or ()]
    selected = list(dict.fromkeys(f"{_KINDS[c.kind]}.`{c.key}`" for c in columns if c))
    sort = Sort.parse(view.sort)
    order_by = _SORT_TO_MLFLOW.get(sort.column)
    if order_by is None:
        column = parse_column(sort.column)
        order_by = f"{_KINDS[column.kind]}.`{column.key}`" if column else _SORT_TO_MLFLOW["start"]
    group = GroupBy.parse(view.group)
    state = dict(previous or {})
    state.update(
        searchFilter=view.filter,
        orderByKey=order_by,
        orderByAsc=not sort.descending,
        groupBy={
            "aggregateFunction": "average",
            "groupByKeys": [{"mode": group.kind.removesuffix("s"), "groupByData": group.key}],
        }
        if group
        else None,
        studio={"columns": list(view.columns) if view.columns is not None else None, "sort": str(sort)},
    )
    if view.columns is not None:
        state["selectedColumns"] = [*MLFLOW_ATTRIBUTE_COLUMNS, *selected]
    return state


def encode_view(name: str, state: dict[str, Any], *, created_ms: int, updated_ms: int) -> str:
    """The tag value: the envelope with the state as plain JSON, compressed as MLflow does when
    the plain one would not fit."""
    plain = json.dumps(state, separators=(",", ":"), ensure_ascii=False)
    envelope = _envelope(name, plain, created_ms, updated_ms)
    if len(envelope) <= MAX_VIEW_LENGTH:
        return envelope
    packed = DEFLATE_PREFIX + base64.b64encode(zlib.compress(plain.encode("utf-8"), 9)).decode("ascii")
    return _envelope(name, packed, created_ms, updated_ms)


def _envelope(name: str, state: str, created_ms: int, updated_ms: int) -> str:
    return json.dumps(
        {"name": name, "createdAt": created_ms, "updatedAt": updated_ms, "state": state},
        separators=(",", ":"),
        ensure_ascii=False,
    )
