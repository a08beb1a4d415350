"""Deletions for good: the row first (with its dry run), the task once the row is committed.

Asking twice for the same target gives the deletion already under way. A run or an experiment
leaves the studio's lists at once (its lifecycle moves to 'deleted' in the same transaction),
and the worker then removes it for good; the MLflow API's own delete stays the soft one.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tracking.deletion.plan import make_plan
from tracking.deletion.scope import Scope
from tracking.errors import InvalidParameterValue
from tracking.key_registry import forget_experiment_keys, prune_run_keys
from tracking.models import Deletion, Experiment, Run
from tracking.models.experiments import DELETED
from tracking.models.work import ACTIVE_STATUSES

from .work import resend_stalled


def request_deletion(
    scope: Scope, *, confirmation: str, requested_by: str = "", enqueue: bool = True
) -> Deletion:
    """A QUEUED deletion of the scope's target, once `confirmation` is the target's name.

    InvalidParameterValue when the name typed differs or the deletion may not go ahead.
    """
    if confirmation.strip() != scope.name:
        raise InvalidParameterValue(f"Type the name {scope.name!r} exactly to confirm the deletion.")
    plan = make_plan(scope)
    if plan["blockers"]:
        raise InvalidParameterValue(" ".join(plan["blockers"]))
    with transaction.atomic():
        running = active_deletion(scope.kind, scope.target.pk)
        if running is not None:
            return running
        row = Deletion.objects.create(
            kind=scope.kind,
            target_id=scope.target.pk,
            target_name=scope.name,
            workspace_name=scope.workspaces[0].name if scope.kind != Deletion.RESOURCE_GROUP else "",
            resource_group_name=_group_name(scope),
            plan=plan,
            requested_by=requested_by[:256],
        )
        _hide(scope)
        if enqueue:
            # robust: a broker that is down must not undo the request; the sweeper sends it later.
            transaction.on_commit(lambda: enqueue_deletion(row.pk), robust=True)
    return row


def _group_name(scope: Scope) -> str:
    if scope.kind == Deletion.RESOURCE_GROUP:
        return scope.target.name
    return scope.workspaces[0].resource_group.name


def _hide(scope: Scope) -> None:
    now = timezone.now()
    if scope.kind == Deletion.RUN:
        Run.objects.filter(pk=scope.target.pk).update(lifecycle_stage=DELETED, deleted_at=now)
        prune_run_keys([scope.target.pk])
    elif scope.kind == Deletion.EXPERIMENT:
        Experiment.objects.filter(pk=scope.target.pk).update(lifecycle_stage=DELETED, updated_at=now)
        Run.objects.filter(experiment_id=scope.target.pk).update(lifecycle_stage=DELETED, deleted_at=now)
        forget_experiment_keys(scope.target.pk)


def active_deletion(kind: str, target_id: int) -> Deletion | None:
    return Deletion.objects.filter(kind=kind, target_id=target_id, status__in=ACTIVE_STATUSES).first()


def active_deletions_by_target() -> dict[tuple[str, int], Deletion]:
    """Deletions under way, by (kind, target id)."""
    return {(row.kind, row.target_id): row for row in Deletion.objects.filter(status__in=ACTIVE_STATUSES)}


def enqueue_deletion(deletion_id: int) -> None:
    from tracking.tasks import delete_for_good

    Deletion.mark_enqueued(deletion_id)
    delete_for_good.delay(deletion_id)


def resend_stalled_deletions() -> list[int]:
    """Sends a message for each deletion that should be moving and is not (the beat schedule's
    sweeper); a deletion only removes what is still there, so running it again is always safe."""
    return resend_stalled(Deletion, enqueue_deletion)
