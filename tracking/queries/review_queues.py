"""Looking up and listing a workspace's review queues and their items."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet

from tracking.errors import ResourceDoesNotExist
from tracking.models import (
    Experiment,
    ReviewQueue,
    ReviewQueueItem,
    ReviewQueueLabelSchema,
    ReviewQueueUser,
    Workspace,
)

from .label_schemas import Page, paged

DEFAULT_LIST_RESULTS = 1000


def _queues() -> QuerySet[ReviewQueue]:
    """Queues with their reviewers and questions: two more queries, whatever the number of queues."""
    return ReviewQueue.objects.select_related("experiment").prefetch_related(
        Prefetch("users", queryset=ReviewQueueUser.objects.order_by("user_id")),
        Prefetch(
            "schemas",
            queryset=ReviewQueueLabelSchema.objects.select_related("schema").order_by("schema__schema_id"),
        ),
    )


def find_review_queue(workspace: Workspace, queue_id: str) -> ReviewQueue | None:
    return _queues().filter(queue_id=queue_id, experiment__workspace=workspace).first()


def get_review_queue(workspace: Workspace, queue_id: str) -> ReviewQueue:
    queue = find_review_queue(workspace, queue_id)
    if queue is None:
        raise ResourceDoesNotExist(f"Review queue with id '{queue_id}' not found.")
    return queue


def get_review_queue_by_name(experiment: Experiment, name: str) -> ReviewQueue:
    queue = _queues().filter(experiment=experiment, name_key=name.lower()).first()
    if queue is None:
        raise ResourceDoesNotExist(
            f"Review queue with name '{name}' not found for experiment '{experiment.experiment_id}'."
        )
    return queue


def reload(queue: ReviewQueue) -> ReviewQueue:
    """The queue as stored now, with its reviewers and questions."""
    return _queues().get(pk=queue.pk)


def list_review_queues(
    experiment: Experiment,
    *,
    user: str | None = None,
    trace_id: str | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> Page:
    """The newest first; only those the user is assigned to, or that hold the trace, if asked."""
    queues = _queues().filter(experiment=experiment)
    if user is not None:
        queues = queues.filter(users__user_id=user.strip().lower())
    if trace_id is not None:
        queues = queues.filter(items__trace__trace_id=trace_id)
    return paged(queues.order_by("-created_at", "queue_id"), max_results, page_token, DEFAULT_LIST_RESULTS)


def list_review_queue_items(
    queue: ReviewQueue,
    *,
    status: str | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> Page:
    """The last added first, of one status if asked."""
    items = ReviewQueueItem.objects.filter(queue=queue).select_related("trace")
    if status is not None:
        items = items.filter(status=status)
    return paged(
        items.order_by("-created_at", "trace__trace_id"), max_results, page_token, DEFAULT_LIST_RESULTS
    )
