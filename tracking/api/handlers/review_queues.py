"""Review queue RPCs (MLflow 3 GenAI, /api/3.0/mlflow/review-queues/...)."""

from __future__ import annotations

from typing import Any

from tracking.access.gate import check_role_allows
from tracking.access.permissions import Permission
from tracking.errors import InvalidParameterValue
from tracking.models import ReviewQueue, ReviewQueueItem
from tracking.models.review_queues import PENDING
from tracking.queries import review_queues as queries
from tracking.queries.label_schemas import active_experiment, check_page_request
from tracking.services import review_queues as services
from tracking.services.review_queues import StatusChange
from tracking.times import datetime_to_ms

from ..responses import page_message
from ..router import ApiCall, rpc

_QUEUE_TYPES = {"USER": "user", "CUSTOM": "custom"}
_STATUSES = {"PENDING": "pending", "COMPLETE": "complete", "DECLINED": "declined"}


def review_queue_message(queue: ReviewQueue) -> dict[str, Any]:
    message: dict[str, Any] = {
        "queue_id": queue.queue_id,
        "experiment_id": queue.experiment.experiment_id,
        "name": queue.name,
        "queue_type": queue.queue_type.upper(),
        "creation_time_ms": datetime_to_ms(queue.created_at),
        "last_update_time_ms": datetime_to_ms(queue.updated_at),
    }
    if queue.created_by is not None:
        message["created_by"] = queue.created_by
    # Prefetched and ordered by tracking.queries.review_queues; empty lists are left out.
    if users := [user.user_id for user in queue.users.all()]:
        message["users"] = users
    if schema_ids := [link.schema.schema_id for link in queue.schemas.all()]:
        message["schema_ids"] = schema_ids
    return message


def review_queue_item_message(queue: ReviewQueue, item: ReviewQueueItem) -> dict[str, Any]:
    message: dict[str, Any] = {
        "queue_id": queue.queue_id,
        "item_type": item.item_type.upper(),
        "item_id": item.trace.trace_id,
        "status": item.status.upper(),
        "creation_time_ms": datetime_to_ms(item.created_at),
        "last_update_time_ms": datetime_to_ms(item.updated_at),
    }
    if item.completed_by is not None:
        message["completed_by"] = item.completed_by
    if item.completed_at is not None:
        message["completed_time_ms"] = datetime_to_ms(item.completed_at)
    return message


def _queue_answer(queue: ReviewQueue) -> dict[str, Any]:
    return {"review_queue": review_queue_message(queries.reload(queue))}


def _status(name: str | None, *, required: bool) -> str | None:
    if name is None or name == "REVIEW_STATUS_UNSPECIFIED":
        if not required:
            return None
        name = "REVIEW_STATUS_UNSPECIFIED"
    status = _STATUSES.get(name)
    if status is None:
        raise InvalidParameterValue(f"`status` must be one of PENDING, COMPLETE, or DECLINED; got {name}.")
    return status


def _check_item_type(name: str | None) -> None:
    if name not in (None, "REVIEW_ITEM_TYPE_UNSPECIFIED", "TRACE"):
        raise InvalidParameterValue(f"`item_type` must be TRACE; got {name}.")


@rpc("mlflow.review_queues.CreateReviewQueue")
def create_review_queue(call: ApiCall) -> dict[str, Any]:
    message = call.message
    queue_type = _QUEUE_TYPES.get(message["queue_type"])
    if queue_type is None:
        raise InvalidParameterValue(
            f"`queue_type` must be one of USER or CUSTOM; got {message['queue_type']}."
        )
    queue = services.create_review_queue(
        experiment=active_experiment(call.workspace, message["experiment_id"]),
        name=message["name"],
        queue_type=queue_type,
        users=message.get("users", []),
        schema_ids=message.get("schema_ids", []),
        # The owner is who asks (when signed in), never what the client says, as in MLflow.
        created_by=call.principal.username or None,
    )
    return _queue_answer(queue)


@rpc("mlflow.review_queues.GetOrCreateUserQueue")
def get_or_create_user_queue(call: ApiCall) -> dict[str, Any]:
    queue = services.get_or_create_user_queue(
        experiment=active_experiment(call.workspace, call.message["experiment_id"]), user=call.message["user"]
    )
    return _queue_answer(queue)


@rpc("mlflow.review_queues.GetReviewQueue")
def get_review_queue(call: ApiCall) -> dict[str, Any]:
    return {
        "review_queue": review_queue_message(
            queries.get_review_queue(call.workspace, call.message["queue_id"])
        )
    }


@rpc("mlflow.review_queues.GetReviewQueueByName")
def get_review_queue_by_name(call: ApiCall) -> dict[str, Any]:
    experiment = active_experiment(call.workspace, call.message["experiment_id"])
    return {
        "review_queue": review_queue_message(
            queries.get_review_queue_by_name(experiment, call.message["name"])
        )
    }


@rpc("mlflow.review_queues.ListReviewQueues")
def list_review_queues(call: ApiCall) -> dict[str, Any]:
    message = call.message
    # As MLflow: a bad page size is named before the experiment is looked up.
    check_page_request(message.get("max_results"), message.get("page_token"))
    page = queries.list_review_queues(
        active_experiment(call.workspace, message["experiment_id"]),
        user=message.get("user"),
        trace_id=message.get("item_id"),
        max_results=message.get("max_results"),
        page_token=message.get("page_token"),
    )
    answer = page_message("review_queues", [review_queue_message(q) for q in page.rows], None)
    return answer | {"next_page_token": page.next_page_token or ""}


@rpc("mlflow.review_queues.UpdateReviewQueue")
def update_review_queue(call: ApiCall) -> dict[str, Any]:
    message = call.message
    if message.get("new_owner") is not None:
        # MLflow asks for MANAGE on the experiment to hand a queue to someone else: an Owner here.
        check_role_allows(call.role, Permission.OWNER, "Reassigning a review queue's owner")
    queue = services.update_review_queue(
        queue=queries.get_review_queue(call.workspace, message["queue_id"]),
        name=message.get("name"),
        new_owner=message.get("new_owner"),
        users=message.get("users", []) if message.get("update_users") else None,
        schema_ids=message.get("schema_ids", []) if message.get("update_schema_ids") else None,
    )
    return _queue_answer(queue)


@rpc("mlflow.review_queues.DeleteReviewQueue")
def delete_review_queue(call: ApiCall) -> dict[str, Any]:
    services.delete_review_queue(queue=queries.find_review_queue(call.workspace, call.message["queue_id"]))
    return {}


@rpc("mlflow.review_queues.AddItemsToReviewQueue")
def add_items_to_review_queue(call: ApiCall) -> dict[str, Any]:
    message = call.message
    _check_item_type(message.get("item_type"))
    trace_ids = services.item_ids(message.get("item_ids", []))  # checked before the queue, as MLflow
    queue = queries.get_review_queue(call.workspace, message["queue_id"])
    items = services.add_items_to_review_queue(queue=queue, trace_ids=trace_ids)
    return page_message("items", [review_queue_item_message(queue, i) for i in items], None)


@rpc("mlflow.review_queues.RemoveItemsFromReviewQueue")
def remove_items_from_review_queue(call: ApiCall) -> dict[str, Any]:
    trace_ids = services.item_ids(call.message.get("item_ids", []))  # checked before the queue, as MLflow
    queue = queries.get_review_queue(call.workspace, call.message["queue_id"])
    services.remove_items_from_review_queue(queue=queue, trace_ids=trace_ids)
    return {}


@rpc("mlflow.review_queues.ListReviewQueueItems")
def list_review_queue_items(call: ApiCall) -> dict[str, Any]:
    message = call.message
    check_page_request(message.get("max_results"), message.get("page_token"))
    queue = queries.get_review_queue(call.workspace, message["queue_id"])
    page = queries.list_review_queue_items(
        queue,
        status=_status(message.get("status"), required=False),
        max_results=message.get("max_results"),
        page_token=message.get("page_token"),
    )
    answer = page_message("items", [review_queue_item_message(queue, i) for i in page.rows], None)
    return answer | {"next_page_token": page.next_page_token or ""}


@rpc("mlflow.review_queues.SetReviewQueueItemStatus")
def set_review_queue_item_status(call: ApiCall) -> dict[str, Any]:
    message = call.message
    status = _status(message.get("status"), required=True)
    # Who completed an item is who asks, when signed in; reopening it names nobody (MLflow's rule).
    completed_by = message.get("completed_by")
    if call.principal.username:
        completed_by = None if status == PENDING else call.principal.username
    queue = queries.get_review_queue(call.workspace, message["queue_id"])
    item = services.set_review_queue_item_status(
        queue=queue,
        change=StatusChange(trace_id=message["item_id"], status=status, completed_by=completed_by),
    )
    return {"item": review_queue_item_message(queue, item)}
