"""Review queues (MLflow 3 GenAI): creating them, assigning reviewers and questions, adding and
removing traces, and moving an item between pending, complete and declined
(tracking.models.review_queues). The rules are MLflow's server's.

Adding or removing items is one statement per table whatever their number; the traces are those of
the queue's experiment, looked up together, and an id that names none of them refuses the whole
request.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from tracking.models import (
    Experiment,
    LabelSchema,
    ReviewQueue,
    ReviewQueueItem,
    ReviewQueueLabelSchema,
    ReviewQueueUser,
    Trace,
)
from tracking.models.review_queues import PENDING, QUEUE_TYPES, STATUSES, USER
from tracking.times import now_to_the_ms

from .label_schemas import check_active

MAX_NAME_LENGTH = 250
MAX_USER_LENGTH = 250
MAX_SCHEMA_ID_LENGTH = 36
MAX_ITEM_ID_LENGTH = 50
MAX_ASSIGNED_USERS = 10
# Not MLflow's (it has none but the request's size): the traces one call may add or remove.
MAX_ITEMS_PER_CALL = 1000
RESERVED_NAME = "default"  # the user queue of a server without sign-in


def _check_text(value: str, field: str, limit: int) -> str:
    if not value:
        raise InvalidParameterValue(f"`{field}` must be a non-empty string; got {value!r}.")
    if len(value) > limit:
        raise InvalidParameterValue(f"`{field}` must be at most {limit} characters; got {len(value)}.")
    return value


def normalize_user(user: str) -> str:
    """Reviewers are matched to assessments' sources whatever their case: kept lowercased."""
    return user.strip().lower()


def _users(users: list[str]) -> list[str]:
    checked = list(dict.fromkeys(_check_text(normalize_user(u), "user", MAX_USER_LENGTH) for u in users))
    if len(checked) > MAX_ASSIGNED_USERS:
        raise InvalidParameterValue(
            f"A review queue can have at most {MAX_ASSIGNED_USERS} assigned users; got {len(checked)}."
        )
    return checked


def _custom_name(name: str) -> str:
    name = _check_text(name.strip(), "name", MAX_NAME_LENGTH)
    if name.lower() == RESERVED_NAME:
        raise InvalidParameterValue(
            f"`{name}` is a reserved queue name and cannot be used for a custom queue."
        )
    return name


def _schemas(experiment: Experiment, schema_ids: list[str]) -> list[LabelSchema]:
    """The experiment's schemas of these ids, in their order (one query)."""
    ids = list(dict.fromkeys(_check_text(s.strip(), "schema_id", MAX_SCHEMA_ID_LENGTH) for s in schema_ids))
    if not ids:
        return []
    found = {s.schema_id: s for s in LabelSchema.objects.filter(experiment=experiment, schema_id__in=ids)}
    if missing := [schema_id for schema_id in ids if schema_id not in found]:
        raise InvalidParameterValue(
            f"Label schema id(s) {missing} not found for experiment '{experiment.experiment_id}'."
        )
    return [found[schema_id] for schema_id in ids]


def item_ids(ids: list[str]) -> list[str]:
    """Trace ids stripped, checked and without repeats, in their order."""
    if not ids:
        raise InvalidParameterValue(f"`item_ids` must be a non-empty list; got {ids!r}.")
    if len(ids) > MAX_ITEMS_PER_CALL:
        raise InvalidParameterValue(
            f"`item_ids` has {len(ids)} ids; at most {MAX_ITEMS_PER_CALL} are accepted in one call."
        )
    return list(dict.fromkeys(_check_text(i.strip(), "item_id", MAX_ITEM_ID_LENGTH) for i in ids))


def _name_taken(name: str) -> ResourceAlreadyExists:
    return ResourceAlreadyExists(
        f"Review queue with name '{name}' already exists (names are case-insensitive)."
    )


def create_review_queue(
    *,
    experiment: Experiment,
    name: str,
    queue_type: str,
    users: list[str] | None = None,
    schema_ids: list[str] | None = None,
    created_by: str | None = None,
) -> ReviewQueue:
    """A user queue is named after its one reviewer and asks every question of the experiment;
    a custom queue has 0 to 10 reviewers and the questions chosen."""
    if queue_type not in QUEUE_TYPES:
        raise InvalidParameterValue(f"`queue_type` must be one of {list(QUEUE_TYPES)}; got {queue_type!r}.")
    assigned = _users(users or [])
    if queue_type == USER:
        name = _check_text(normalize_user(name), "name", MAX_NAME_LENGTH)
        if assigned and assigned != [name]:
            raise InvalidParameterValue(
                "A user queue must have exactly one assigned user equal to its name; "
                f"got name={name!r} and users={assigned!r}."
            )
        assigned = [name]
        if schema_ids:
            raise InvalidParameterValue(
                "A user queue cannot have explicitly-attached schemas; it resolves to all of the "
                "experiment's label schemas."
            )
    else:
        name = _custom_name(name)
    if created_by is not None and len(created_by) > MAX_USER_LENGTH:
        raise InvalidParameterValue(f"`created_by` must be at most {MAX_USER_LENGTH} characters.")
    check_active(experiment)
    schemas = _schemas(experiment, schema_ids or [])
    now = now_to_the_ms()
    try:
        with transaction.atomic():
            queue = ReviewQueue.objects.create(
                queue_id=f"rq-{uuid.uuid4().hex}",
                experiment=experiment,
                name=name,
                name_key=name.lower(),
                queue_type=queue_type,
                created_by=created_by or None,
                created_at=now,
                updated_at=now,
            )
            ReviewQueueUser.objects.bulk_create([ReviewQueueUser(queue=queue, user_id=u) for u in assigned])
            ReviewQueueLabelSchema.objects.bulk_create(
                [ReviewQueueLabelSchema(queue=queue, schema=s) for s in schemas]
            )
    except IntegrityError:
        raise _name_taken(name) from None
    return queue


def get_or_create_user_queue(*, experiment: Experiment, user: str) -> ReviewQueue:
    """The reviewer's own queue, made if it does not exist yet (and owned by them)."""
    name = normalize_user(user)
    try:
        return create_review_queue(experiment=experiment, name=name, queue_type=USER, created_by=name)
    except ResourceAlreadyExists:
        existing = (
            ReviewQueue.objects.select_related("experiment")
            .filter(experiment=experiment, name_key=name)
            .first()
        )
        if existing is None:  # deleted again in between: a retry makes it
            raise
        if existing.queue_type != USER:
            raise ResourceAlreadyExists(
                f"A non-user queue named '{name}' already exists; cannot get-or-create a user queue with "
                "that name."
            ) from None
        return existing


def update_review_queue(
    *,
    queue: ReviewQueue,
    name: str | None = None,
    new_owner: str | None = None,
    users: list[str] | None = None,
    schema_ids: list[str] | None = None,
) -> ReviewQueue:
    """Changes a custom queue (None leaves a field as it is; an empty list empties it). Its
    questions are fixed once it has items, so that answers already given keep their question."""
    if queue.queue_type == USER:
        raise InvalidParameterValue(
            "A user queue's name, assigned user, schemas, and owner are fixed and cannot be updated."
        )
    changes: dict[str, object] = {}
    if new_owner is not None:
        changes["created_by"] = _check_text(new_owner.strip(), "new_owner", MAX_USER_LENGTH)
    if name is not None:
        changes["name"] = _custom_name(name)
        changes["name_key"] = changes["name"].lower()  # type: ignore[union-attr]
    assigned = _users(users) if users is not None else None
    schemas = _schemas(queue.experiment, schema_ids) if schema_ids is not None else None
    if not changes and assigned is None and schemas is None:
        return queue
    changes["updated_at"] = now_to_the_ms()
    try:
        with transaction.atomic():
            # The queue's row is locked so that items cannot arrive while its questions change.
            ReviewQueue.objects.filter(pk=queue.pk).update(**changes)
            if assigned is not None:
                ReviewQueueUser.objects.filter(queue=queue).delete()
                ReviewQueueUser.objects.bulk_create(
                    [ReviewQueueUser(queue=queue, user_id=u) for u in assigned]
                )
            if schemas is not None:
                if ReviewQueueItem.objects.filter(queue=queue).exists():
                    raise InvalidParameterValue(
                        "A review queue's questions are locked once items are assigned to it. "
                        "Remove the items before changing its questions."
                    )
                ReviewQueueLabelSchema.objects.filter(queue=queue).delete()
                ReviewQueueLabelSchema.objects.bulk_create(
                    [ReviewQueueLabelSchema(queue=queue, schema=s) for s in schemas]
                )
    except IntegrityError:
        raise _name_taken(str(changes.get("name"))) from None
    for field, value in changes.items():
        setattr(queue, field, value)
    return queue


def delete_review_queue(*, queue: ReviewQueue | None) -> None:
    """Deletes the queue with its reviewers, questions and items (none: nothing to do, as in
    MLflow); the assessments reviewers wrote stay with their traces."""
    if queue is not None:
        queue.delete()


def add_items_to_review_queue(*, queue: ReviewQueue, trace_ids: list[str]) -> list[ReviewQueueItem]:
    """Adds traces of the queue's experiment as pending items; one already there keeps its status.
    The items of all the ids asked, in their order."""
    ids = item_ids(trace_ids)
    traces = dict(
        Trace.objects.filter(experiment=queue.experiment_id, trace_id__in=ids).values_list("trace_id", "pk")
    )
    if unknown := [i for i in ids if i not in traces]:
        raise ResourceDoesNotExist(
            f"Cannot attach trace(s) {unknown} to review queue '{queue.queue_id}': they do not exist in "
            f"experiment '{queue.experiment.experiment_id}'."
        )
    now = now_to_the_ms()
    with transaction.atomic():
        list(ReviewQueue.objects.select_for_update().filter(pk=queue.pk).values_list("pk"))
        ReviewQueueItem.objects.bulk_create(
            [
                ReviewQueueItem(
                    queue=queue, trace_id=traces[i], status=PENDING, created_at=now, updated_at=now
                )
                for i in ids
            ],
            ignore_conflicts=True,
        )
    rows = {
        item.trace.trace_id: item
        for item in ReviewQueueItem.objects.filter(queue=queue, trace_id__in=traces.values()).select_related(
            "trace"
        )
    }
    return [rows[i] for i in ids if i in rows]


def remove_items_from_review_queue(*, queue: ReviewQueue, trace_ids: list[str]) -> None:
    """Removes the traces from the queue (those not in it: nothing to do); one DELETE."""
    ids = item_ids(trace_ids)
    ReviewQueueItem.objects.filter(queue=queue, trace__trace_id__in=ids).delete()


@dataclass(frozen=True)
class StatusChange:
    trace_id: str
    status: str
    completed_by: str | None = None


def set_review_queue_item_status(*, queue: ReviewQueue, change: StatusChange) -> ReviewQueueItem:
    """Completing or declining an item records who did it; reopening it (pending) forgets them.
    Setting the status it already has changes nothing, so the first completer stays on record."""
    if change.status not in STATUSES:
        raise InvalidParameterValue(f"`status` must be one of {list(STATUSES)}; got {change.status!r}.")
    completed_by = normalize_user(change.completed_by) if change.completed_by is not None else None
    if change.status == PENDING:
        if completed_by is not None:
            raise InvalidParameterValue("`completed_by` must not be set when reopening an item to `pending`.")
    elif not completed_by:
        raise InvalidParameterValue(f"`completed_by` is required when setting status to `{change.status}`.")
    elif len(completed_by) > MAX_USER_LENGTH:
        raise InvalidParameterValue(
            f"`completed_by` must be at most {MAX_USER_LENGTH} characters; got {len(completed_by)}."
        )
    trace_id = change.trace_id.strip()
    with transaction.atomic():
        item = (
            ReviewQueueItem.objects.select_for_update()
            .select_related("trace")
            .filter(queue=queue, trace__trace_id=trace_id)
            .first()
        )
        if item is None:
            raise ResourceDoesNotExist(
                f"Item '{trace_id}' is not attached to review queue '{queue.queue_id}'."
            )
        if item.status == change.status:
            return item
        now = now_to_the_ms()
        item.status = change.status
        item.updated_at = now
        item.completed_by = completed_by
        item.completed_at = None if change.status == PENDING else now
        item.save(update_fields=["status", "updated_at", "completed_by", "completed_at"])
    return item
