"""Protobuf's JSON timestamps ("2026-01-02T03:04:05.678Z") <-> timezone-aware datetimes, to the
millisecond, as MLflow's server writes and reads them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from tracking.errors import InvalidParameterValue
from tracking.times import ms_to_datetime


def wire_timestamp(moment: datetime) -> str:
    text = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    millis = moment.microsecond // 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


_TIMESTAMP = re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})")


def parse_wire_timestamp(value: Any, field: str = "request_time") -> datetime:
    if isinstance(value, int) and not isinstance(value, bool):
        return ms_to_datetime(value, field)
    found = _TIMESTAMP.fullmatch(value) if isinstance(value, str) else None
    if found is None:
        raise InvalidParameterValue(f"Invalid value {str(value)[:100]!r} for parameter '{field}'.")
    try:
        base = datetime.fromisoformat(found[1] + (found[3].replace("Z", "+00:00")))
    except ValueError:
        raise InvalidParameterValue(f"Invalid value {value[:100]!r} for parameter '{field}'.") from None
    millis = int((found[2] or "0")[:3].ljust(3, "0"))
    return base.replace(microsecond=millis * 1000)
