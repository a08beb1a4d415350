"""Jobs' environments as rows: recorded when a job names one, marked as built or failed by the
worker that builds it, used, deleted, and evicted when the cache grows past its cap.

The folders themselves are built by `tracking.jobs.environments` (in the worker); these services
keep the rows, and remove folders only under the folder's exclusive lock.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from tracking.errors import InvalidState
from tracking.jobs.environment_folders import exclusive_or_nothing, remove_folder
from tracking.jobs.specs import Spec
from tracking.models import Environment, Job, Workspace
from tracking.models.work import ACTIVE_STATUSES

MAX_NAME_LENGTH = 200


def declare_environment(*, workspace: Workspace, spec: Spec, name: str = "") -> Environment:
    """The workspace's environment of this specification: the existing row (renamed if a new name
    is given), or a new PENDING one."""
    name = (name.strip() or spec.kind)[:MAX_NAME_LENGTH]
    with transaction.atomic():
        environment, created = Environment.objects.get_or_create(
            workspace=workspace,
            spec_hash=spec.hash,
            defaults={
                "name": name,
                "kind": spec.kind,
                "spec_text": spec.text,
                "spec": spec.normalized,
                "python_asked": spec.python,
            },
        )
        if not created and name != environment.name and name != spec.kind:
            Environment.objects.filter(pk=environment.pk).update(name=name)
            environment.name = name
    return environment


def start_environment_build(*, environment: Environment) -> None:
    with transaction.atomic():
        Environment.objects.filter(pk=environment.pk).update(status=Environment.BUILDING, error="")


def finish_environment_build(*, environment: Environment, python_version: str, size_bytes: int) -> None:
    with transaction.atomic():
        Environment.objects.filter(pk=environment.pk).update(
            status=Environment.READY,
            python_version=python_version,
            size_bytes=size_bytes,
            built_at=timezone.now(),
            error="",
        )


def fail_environment_build(*, environment: Environment, error: str) -> None:
    with transaction.atomic():
        Environment.objects.filter(pk=environment.pk).update(
            status=Environment.FAILED, error=error[:5000], size_bytes=0
        )


def use_environment(*, environment: Environment, job: Job) -> None:
    """Records that the job runs in it (so that it is not evicted meanwhile) and when it was last used."""
    with transaction.atomic():
        now = timezone.now()
        Environment.objects.filter(pk=environment.pk).update(last_used_at=now)
        Job.objects.filter(pk=job.pk).update(environment=environment)
        if environment.status != Environment.READY:
            Environment.objects.filter(pk=environment.pk, status=Environment.EVICTED).update(
                status=Environment.PENDING
            )
    job.environment = environment


def _in_use(environment_ids=None) -> set[int]:
    jobs = Job.objects.filter(status__in=ACTIVE_STATUSES, environment__isnull=False)
    if environment_ids is not None:
        jobs = jobs.filter(environment_id__in=environment_ids)
    return set(jobs.values_list("environment_id", flat=True))


def delete_environment(*, environment: Environment) -> None:
    """Removes the row and its folder; refused while a queued or running job uses it."""
    if _in_use([environment.pk]):
        raise InvalidState(
            f"The environment {environment.name!r} is used by a queued or running job; delete it once "
            "its jobs have ended."
        )
    with exclusive_or_nothing(environment.folder) as mine:
        if not mine:
            raise InvalidState(f"The environment {environment.name!r} is in use on this machine right now.")
        with transaction.atomic():
            Environment.objects.filter(pk=environment.pk).delete()
        remove_folder(environment.folder)


def evict_environments(*, max_bytes: int | None = None) -> list[int]:
    """Removes the folders of the least recently used environments, no job of which is queued or
    running, until the built ones take at most `max_bytes` (STUDIO_ENVIRONMENTS_MAX_BYTES); their
    rows stay, EVICTED (the next job that needs one builds it again). Returns the ids evicted."""
    cap = settings.ENVIRONMENTS_MAX_BYTES if max_bytes is None else max_bytes
    built = list(
        Environment.objects.filter(status=Environment.READY).order_by(
            F("last_used_at").asc(nulls_first=True), "pk"
        )
    )
    total = sum(environment.size_bytes for environment in built)
    if total <= cap:
        return []
    busy = _in_use([environment.pk for environment in built])
    evicted: list[int] = []
    for environment in built:
        if total <= cap:
            break
        if environment.pk in busy:
            continue
        with exclusive_or_nothing(environment.folder) as mine:
            if not mine:
                continue
            with transaction.atomic():
                if not Environment.objects.filter(pk=environment.pk, status=Environment.READY).update(
                    status=Environment.EVICTED, size_bytes=0
                ):
                    continue
            remove_folder(environment.folder)
        total -= environment.size_bytes
        evicted.append(environment.pk)
    return evicted
