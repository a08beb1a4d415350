"""Issues (MLflow 3 GenAI): creating them in an experiment and updating their status and words."""

from __future__ import annotations

import uuid

from tracking.errors import InvalidParameterValue
from tracking.models import Experiment, Issue, Run
from tracking.models.issues import PENDING, SEVERITIES, STATUSES
from tracking.times import now_to_the_ms

MAX_NAME_LENGTH = 250
MAX_CREATED_BY_LENGTH = 255
MAX_LIST_ITEMS = 100


def _check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidParameterValue(f"Invalid issue status '{status}'. Valid statuses: {list(STATUSES)}")
    return status


def _check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise InvalidParameterValue(
            f"Invalid issue severity '{severity}'. Valid severities: {list(SEVERITIES)}"
        )
    return severity


def _check_name(name: str) -> str:
    if not name.strip():
        raise InvalidParameterValue("The issue name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(
            f"The issue name has {len(name)} characters; at most {MAX_NAME_LENGTH} are accepted."
        )
    return name


def _check_list(items: list[str] | None, field: str) -> list[str] | None:
    items = items or []
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidParameterValue(
            f"'{field}' has {len(items)} items; at most {MAX_LIST_ITEMS} are accepted."
        )
    return list(items) or None


def create_issue(
    *,
    experiment: Experiment,
    name: str,
    description: str,
    status: str | None = None,
    severity: str | None = None,
    root_causes: list[str] | None = None,
    categories: list[str] | None = None,
    source_run: Run | None = None,
    created_by: str | None = None,
) -> Issue:
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. Current state is deleted."
        )
    if created_by and len(created_by) > MAX_CREATED_BY_LENGTH:
        raise InvalidParameterValue(f"'created_by' is longer than {MAX_CREATED_BY_LENGTH} characters.")
    now = now_to_the_ms()
    return Issue.objects.create(
        issue_id=f"iss-{uuid.uuid4().hex}",
        experiment=experiment,
        name=_check_name(name),
        description=description,
        status=_check_status(status or PENDING),
        severity=_check_severity(severity) if severity else None,
        root_causes=_check_list(root_causes, "root_causes"),
        categories=_check_list(categories, "categories"),
        source_run=source_run,
        created_by=created_by or None,
        created_at=now,
        updated_at=now,
    )


def update_issue(
    *,
    issue: Issue,
    name: str | None = None,
    description: str | None = None,
    status: str | None = None,
    severity: str | None = None,
) -> Issue:
    """Changes the fields given (an empty string leaves a field as it is, as in MLflow)."""
    changes: dict[str, object] = {"updated_at": now_to_the_ms()}
    if name:
        changes["name"] = _check_name(name)
    if description:
        changes["description"] = description
    if status:
        changes["status"] = _check_status(status)
    if severity:
        changes["severity"] = _check_severity(severity)
    Issue.objects.filter(pk=issue.pk).update(**changes)
    for field, value in changes.items():
        setattr(issue, field, value)
    return issue
