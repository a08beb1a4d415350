"""What every gateway row needs on its way in: an id, fitting its columns, a unique name."""

from __future__ import annotations

import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import CharField

from tracking.errors import ResourceAlreadyExists
from tracking.validation import check_length


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def fit(*rows: Any) -> None:
    """INVALID_PARAMETER_VALUE for a text longer than its column holds (PostgreSQL would refuse it)."""
    for row in rows:
        for field in row._meta.concrete_fields:
            value = getattr(row, field.attname)
            if isinstance(field, CharField) and field.max_length and isinstance(value, str):
                check_length(f"'{field.name}'", value, field.max_length)


def save_named(row: Any, taken: str) -> Any:
    """Saves a row whose name is unique in its workspace; RESOURCE_ALREADY_EXISTS if taken."""
    fit(row)
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        raise ResourceAlreadyExists(taken) from None
    return row
