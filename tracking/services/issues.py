"""Issues (MLflow 3 GenAI): creating them in an experiment and updating them, their categories
kept searchable (tracking.models.IssueCategory) in the same transaction."""

from __future__ import annotations

import re
import uuid

from django.db import IntegrityError, transaction

from tracking.errors import InvalidParameterValue, ResourceAlreadyExists
from tracking.models import Experiment, Issue, IssueCategory, Run
from tracking.models.issues import PENDING, SEVERITIES, STATUSES, category_key
from tracking.times import ms_to_datetime, now_to_the_ms

MAX_NAME_LENGTH = 250
MAX_BY_LENGTH = 255  # created_by, last_updated_by
MAX_LIST_ITEMS = 100  # root causes, categories, metadata entries, metadata keys to delete
MAX_CATEGORY_LENGTH = 250
MAX_METADATA_KEY_LENGTH = 250
MAX_METADATA_VALUE_LENGTH = 65536
_CHOSEN_ID = re.compile(r"iss-[A-Za-z0-9_-]{1,32}")


def check_status(status: str) -> str:
    if status not in STATUSES:
        raise InvalidParameterValue(f"Invalid issue status '{status}'. Valid statuses: {list(STATUSES)}")
    return status


def check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise InvalidParameterValue(
            f"Invalid issue severity '{severity}'. Valid severities: {list(SEVERITIES)}"
        )
    return severity


def check_categories(categories: list[str]) -> list[str]:
    """At most 100 categories of 1 to 250 characters; the first of repeats kept, in order."""
    _check_count(categories, "categories")
    for category in categories:
        if not 1 <= len(category) <= MAX_CATEGORY_LENGTH:
            raise InvalidParameterValue(
                f"Each of 'categories' must have 1 to {MAX_CATEGORY_LENGTH} characters; "
                f"one has {len(category)}."
            )
    return list(dict.fromkeys(categories))


def _check_name(name: str) -> str:
    if not name.strip():
        raise InvalidParameterValue("The issue name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(
            f"The issue name has {len(name)} characters; at most {MAX_NAME_LENGTH} are accepted."
        )
    return name


def _check_count(items: list | dict, field: str) -> None:
    if len(items) > MAX_LIST_ITEMS:
        raise InvalidParameterValue(
            f"'{field}' has {len(items)} items; at most {MAX_LIST_ITEMS} are accepted."
        )


def _check_by(value: str, field: str) -> str:
    if len(value) > MAX_BY_LENGTH:
        raise InvalidParameterValue(f"'{field}' is longer than {MAX_BY_LENGTH} characters.")
    return value


def _check_metadata(metadata: object) -> dict[str, str]:
    if not isinstance(metadata, dict):
        raise InvalidParameterValue("'metadata' must be a map of strings to strings.")
    _check_count(metadata, "metadata")
    for key, value in metadata.items():
        if not isinstance(value, str):
            raise InvalidParameterValue(f"The metadata value of '{key[:250]}' must be a string.")
        if not 1 <= len(key) <= MAX_METADATA_KEY_LENGTH:
            raise InvalidParameterValue(
                f"A metadata key must have 1 to {MAX_METADATA_KEY_LENGTH} characters."
            )
        if len(value) > MAX_METADATA_VALUE_LENGTH:
            raise InvalidParameterValue(
                f"The metadata value of '{key}' has {len(value)} characters; "
                f"at most {MAX_METADATA_VALUE_LENGTH} are accepted."
            )
    return dict(metadata)


def _category_rows(issue: Issue, categories: list[str]) -> list[IssueCategory]:
    return [IssueCategory(issue=issue, key=key) for key in dict.fromkeys(map(category_key, categories))]


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
    issue_id: str | None = None,
    last_seen_ms: int | None = None,
    metadata: dict | None = None,
) -> Issue:
    """`issue_id`: the client's choice (`iss-` and 1 to 32 letters, digits, `-` or `_`), taken at
    most once in a workspace; `last_seen_ms` defaults to the creation time."""
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. Current state is deleted."
        )
    if source_run is not None and source_run.experiment_id != experiment.pk:
        raise InvalidParameterValue("The source run must belong to the issue's experiment.")
    if issue_id is not None and not _CHOSEN_ID.fullmatch(issue_id):
        raise InvalidParameterValue(
            f"Invalid issue_id {issue_id[:100]!r}: an issue id is 'iss-' followed by 1 to 32 letters, "
            "digits, '-' or '_'."
        )
    _check_count(root_causes or [], "root_causes")
    categories = check_categories(categories or [])
    now = now_to_the_ms()
    issue = Issue(
        workspace_id=experiment.workspace_id,
        issue_id=issue_id or f"iss-{uuid.uuid4().hex}",
        experiment=experiment,
        name=_check_name(name),
        description=description,
        status=check_status(status or PENDING),
        severity=check_severity(severity) if severity else None,
        root_causes=list(root_causes or []) or None,
        categories=categories or None,
        metadata=_check_metadata(metadata) if metadata else None,
        source_run=source_run,
        created_by=_check_by(created_by, "created_by") if created_by else None,
        last_updated_by=created_by or None,
        created_at=now,
        updated_at=now,
        last_seen_at=now if last_seen_ms is None else ms_to_datetime(last_seen_ms, "last_seen_timestamp"),
    )
    try:
        with transaction.atomic():
            issue.save(force_insert=True)
            IssueCategory.objects.bulk_create(_category_rows(issue, categories))
    except IntegrityError:
        if Issue.objects.filter(workspace_id=experiment.workspace_id, issue_id=issue.issue_id).exists():
            raise ResourceAlreadyExists(f"Issue with ID '{issue.issue_id}' already exists.") from None
        raise
    return issue


def update_issue(
    *,
    issue: Issue,
    name: str | None = None,
    description: str | None = None,
    status: str | None = None,
    severity: str | None = None,
    categories: list[str] | None = None,
    last_seen_ms: int | None = None,
    updated_by: str | None = None,
    metadata: dict | None = None,
    delete_metadata_keys: list[str] | None = None,
) -> Issue:
    """Changes the fields given (an empty string leaves a field as it is, as in MLflow).
    `categories` replaces the issue's ([] clears them); `last_seen_ms` never moves the time back;
    `metadata` is merged into the issue's and `delete_metadata_keys` are removed from it. The row is
    locked while read and written, so two updates of different metadata keys both hold."""
    metadata = _check_metadata(metadata) if metadata else {}
    delete_metadata_keys = delete_metadata_keys or []
    _check_count(delete_metadata_keys, "delete_metadata_keys")
    if both := sorted(set(metadata) & set(delete_metadata_keys)):
        raise InvalidParameterValue(f"Cannot update and delete the same metadata key: {both[0]!r}.")
    changes: dict[str, object] = {"updated_at": now_to_the_ms()}
    if name:
        changes["name"] = _check_name(name)
    if description:
        changes["description"] = description
    if status:
        changes["status"] = check_status(status)
    if severity:
        changes["severity"] = check_severity(severity)
    if categories is not None:
        categories = check_categories(categories)
        changes["categories"] = categories or None
    if updated_by:
        changes["last_updated_by"] = _check_by(updated_by, "last_updated_by")
    last_seen = None if last_seen_ms is None else ms_to_datetime(last_seen_ms, "last_seen_timestamp")
    with transaction.atomic():
        if last_seen is not None or metadata or delete_metadata_keys:
            current = (
                Issue.objects.select_for_update()
                .filter(pk=issue.pk)
                .values("metadata", "last_seen_at", "created_at")[0]
            )
            if last_seen is not None:
                changes["last_seen_at"] = max(last_seen, current["last_seen_at"] or current["created_at"])
            if metadata or delete_metadata_keys:
                merged = (current["metadata"] or {}) | metadata
                for key in delete_metadata_keys:
                    merged.pop(key, None)
                changes["metadata"] = _check_metadata(merged) or None
        Issue.objects.filter(pk=issue.pk).update(**changes)
        if categories is not None:
            IssueCategory.objects.filter(issue=issue).delete()
            IssueCategory.objects.bulk_create(_category_rows(issue, categories))
    for field, value in changes.items():
        setattr(issue, field, value)
    return issue
