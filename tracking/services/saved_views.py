"""Saving, deleting and choosing the default of an experiment's saved views of its runs table.

A view is an experiment tag in MLflow's format (tracking.queries.saved_views), written through
the experiment-tag service, so MLflow's `get_experiment` shows it and MLflow's UI opens it. Who
may call these is the caller's business: saving, deleting and setting the default need WRITE in
the experiment's workspace, as setting an experiment tag through MLflow's API does.
"""

from __future__ import annotations

import unicodedata
import uuid

from django.db import transaction
from django.utils import timezone

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.models import Experiment
from tracking.queries.run_groups import GroupBy
from tracking.queries.run_table import Sort, parse_column
from tracking.queries.saved_views import (
    DEFAULT_VIEW_TAG,
    MAX_NAME_LENGTH,
    MAX_VIEW_LENGTH,
    MAX_VIEWS,
    SavedView,
    ViewState,
    encode_view,
    parse_view,
    saved_views,
    state_to_mlflow,
    view_tag_key,
)
from tracking.services.experiments import delete_experiment_tag, set_experiment_tag
from tracking.validation import check_length


def save_view(*, experiment: Experiment, name: str, state: ViewState, overwrite: bool = False) -> SavedView:
    """Saves the view under its name; a view of the same name (ignoring case) is replaced only
    when `overwrite` says so, keeping its id (so its links and the default still work) and the
    parts of MLflow's state the studio does not show (its charts)."""
    name = check_view_name(name)
    state = check_view_state(state)
    now_ms = int(timezone.now().timestamp() * 1000)
    with transaction.atomic():
        # One writer at a time per experiment, so two saves cannot both take a name.
        Experiment.objects.select_for_update().filter(pk=experiment.pk).first()
        views = saved_views(experiment)
        existing = views.named(name)
        if existing is not None and not overwrite:
            raise ResourceAlreadyExists(
                f"A view named {existing.name!r} already exists: overwrite it or pick another name."
            )
        if existing is None and len(views.views) >= MAX_VIEWS:
            raise InvalidParameterValue(
                f"This experiment has the maximum of {MAX_VIEWS} saved views: "
                "delete one before saving another."
            )
        view_id = existing.id if existing else uuid.uuid4().hex
        created_ms = int(existing.created_at.timestamp() * 1000) if existing else now_ms
        previous = existing.mlflow_state if existing else None
        value = encode_view(name, state_to_mlflow(state, previous), created_ms=created_ms, updated_ms=now_ms)
        if len(value) > MAX_VIEW_LENGTH:
            raise InvalidParameterValue(
                f"This view is too large to save ({len(value)} characters, at most {MAX_VIEW_LENGTH}): "
                "show fewer columns or shorten the filter."
            )
        set_experiment_tag(experiment=experiment, key=view_tag_key(view_id), value=value)
    saved = parse_view(view_id, value)
    assert saved is not None  # what encode_view writes, parse_view reads
    return saved


def delete_view(*, experiment: Experiment, view_id: str) -> None:
    """Deletes the view, and the default's tag when it names this view."""
    with transaction.atomic():
        views = saved_views(experiment)
        if views.find(view_id) is None:
            raise ResourceDoesNotExist(f"No saved view {view_id!r} in experiment {experiment.experiment_id}.")
        delete_experiment_tag(experiment=experiment, key=view_tag_key(view_id))
        if views.default_id == view_id:
            delete_experiment_tag(experiment=experiment, key=DEFAULT_VIEW_TAG)


def set_default_view(*, experiment: Experiment, view_id: str | None) -> None:
    """Makes the view the one the experiment's page opens in; None: the table's own default."""
    with transaction.atomic():
        views = saved_views(experiment)
        if view_id is None:
            if views.default_id is not None:
                delete_experiment_tag(experiment=experiment, key=DEFAULT_VIEW_TAG)
            return
        if views.find(view_id) is None:
            raise ResourceDoesNotExist(f"No saved view {view_id!r} in experiment {experiment.experiment_id}.")
        set_experiment_tag(experiment=experiment, key=DEFAULT_VIEW_TAG, value=view_id)


def check_view_name(name: str) -> str:
    name = name.strip() if isinstance(name, str) else ""
    if not name:
        raise InvalidParameterValue("A saved view needs a name.")
    check_length("The view's name", name, MAX_NAME_LENGTH)
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise InvalidParameterValue("A view's name cannot hold control characters.")
    return name


def check_view_state(state: ViewState) -> ViewState:
    """The state, or a clear error for a column, sort or grouping the runs table cannot show."""
    for column_id in state.columns or ():
        if parse_column(column_id) is None:
            raise InvalidParameterValue(
                f"Unknown column {column_id[:100]!r}: columns are params.<key>, metrics.<key>, "
                "min(metrics.<key>) or max(metrics.<key>)."
            )
    if state.sort and str(Sort.parse(state.sort)) != state.sort.strip():
        raise InvalidParameterValue(f"Unknown sort {state.sort[:100]!r}.")
    if state.group and GroupBy.parse(state.group) is None:
        raise InvalidParameterValue(
            f"Unknown grouping {state.group[:100]!r}: group by params.<key> or tags.<key>."
        )
    return state
