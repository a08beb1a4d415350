"""Opaque page tokens, as MLflow's: base64 of a small JSON object."""

from __future__ import annotations

import base64
import binascii
import json

from tracking.errors import InvalidParameterValue

# No search has this many rows: a larger offset reads as this one (past the end, an empty page)
# rather than overflow the database's integers.
MAX_OFFSET = 10**12


def encode_token(**position: int | str | float) -> str:
    return base64.b64encode(json.dumps(position).encode()).decode()


def decode_token(token: str | None) -> dict:
    if not token:
        return {}
    try:
        position = json.loads(base64.b64decode(token, validate=True))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidParameterValue("Invalid page token, could not base64-decode") from None
    if not isinstance(position, dict):
        raise InvalidParameterValue(f"Invalid page token: {token[:100]!r}")
    return position


def decode_offset(token: str | None) -> int:
    offset = decode_token(token).get("offset", 0)
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise InvalidParameterValue(f"Invalid page token, offset must be a non-negative integer: {offset!r}")
    return min(offset, MAX_OFFSET)


def cut_page(rows: list, offset: int, max_results: int) -> tuple[list, str | None]:
    """Rows fetched with a limit of max_results + 1: the page, and the next page's token if there is one."""
    if len(rows) > max_results:
        return rows[:max_results], encode_token(offset=offset + max_results)
    return rows, None


def int64(value: object) -> int:
    """A token's integer, within the database's 64-bit range (ValueError otherwise)."""
    number = int(value)  # type: ignore[call-overload]
    if not -(2**63) <= number < 2**63:
        raise ValueError(f"{number} is out of range")
    return number
