"""Access-scoped look-ups for the studio's pages: the object, or a 404 page.

Every page names its workspace in the URL, and the access middleware hands the view that
Workspace once the caller's role in it is checked (studio.routing); everything else is looked up
inside it, so an id from another workspace is simply not found.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Subquery
from django.http import Http404

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Experiment, Import, Job, Run, RunTag, Workspace
from tracking.queries.experiments import get_experiment
from tracking.queries.imports import get_import
from tracking.queries.jobs import get_job
from tracking.queries.logged_images import LOGGED_IMAGES_TAG
from tracking.queries.runs import get_run


def experiment_or_404(workspace: Workspace, experiment_id: str) -> Experiment:
    try:
        return get_experiment(workspace, experiment_id)
    except (ResourceDoesNotExist, InvalidParameterValue):
        raise Http404(f"No experiment {experiment_id!r}") from None


def run_or_404(workspace: Workspace, run_id: str) -> Run:
    """The run, with `studio_job_id`: the job that ran it, if one did (its pages link the snapshot),
    and `has_logged_images` (the tab bar shows Images then)."""
    try:
        run = get_run(workspace, run_id)
    except ResourceDoesNotExist:
        raise Http404(f"No run {run_id!r}") from None
    # One query for both, as every tab of every run page asks them.
    found = (
        Run.objects.filter(pk=run.pk)
        .values_list(
            Subquery(Job.objects.filter(run_id=OuterRef("pk")).order_by("pk").values("pk")[:1]),
            Exists(RunTag.objects.filter(run_id=OuterRef("pk"), key=LOGGED_IMAGES_TAG)),
        )
        .first()
    )
    if found is None:  # deleted for good between the two queries
        raise Http404(f"No run {run_id!r}")
    run.studio_job_id, run.has_logged_images = found
    return run


def import_or_404(workspace: Workspace, import_id: int) -> Import:
    try:
        return get_import(workspace, import_id)
    except ResourceDoesNotExist:
        raise Http404(f"No import {import_id}") from None


def job_or_404(workspace: Workspace, job_id: int) -> Job:
    try:
        return get_job(workspace, job_id)
    except ResourceDoesNotExist:
        raise Http404(f"No job {job_id}") from None
