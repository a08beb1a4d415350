"""Reading MLflow requests: JSON bodies or query strings, checked against the proto tables.

The rules follow protobuf's JSON mapping as MLflow's server applies it: unknown fields are
ignored, `null` means absent, int64 may come as a number or a decimal string, doubles may be
"NaN"/"Infinity"/"-Infinity", enums come by name (or number). A value of the wrong type, or a
required field that is missing or empty, is INVALID_PARAMETER_VALUE, with the field's path.
"""

from __future__ import annotations

import math
from typing import Any

import orjson
from django.conf import settings
from django.http import HttpRequest

from tracking.errors import InvalidParameterValue, RequestTooLarge
from tracking.validation import SEE_THE_DOCS, invalid_value

from .spec import ENUMS, MESSAGES

_SEE_DOCS = SEE_THE_DOCS
_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
_INT64 = 2**63
# The Python type a JSON value of each proto kind has when it needs no conversion.
_PLAIN_TYPES = {"string": str, "double": float, "int64": int, "bool": bool}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def read_message(
    request: HttpRequest, message: str, path_args: dict[str, str] | None = None
) -> dict[str, Any]:
    """The request's fields for `message` (and the path's parameters), type-checked."""
    if request.method == "GET" and request.GET:
        raw = _query_fields(request, message)
    else:
        # MLflow's server reads a JSON body on every other request, and on a GET without a
        # query string too.
        raw = read_json_body(request)
    if path_args:
        raw = {**raw, **path_args}
    return check_message(raw, message, "")


def read_json_body(request: HttpRequest) -> dict[str, Any]:
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > settings.TRACKING_MAX_REQUEST_BYTES:
        raise RequestTooLarge(
            f"The request body has {length} bytes; this server accepts at most "
            f"{settings.TRACKING_MAX_REQUEST_BYTES} (STUDIO_MAX_REQUEST_BYTES)."
        )
    if request.method in ("POST", "PUT"):
        if not request.content_type:
            raise InvalidParameterValue("Bad Request. Content-Type header is missing.")
        if request.content_type != "application/json":
            raise InvalidParameterValue("Bad Request. Content-Type must be one of ['application/json'].")
    body = request.body
    if not body:
        return {}
    if b"\\u0000" in body:
        # No database column can hold NUL (PostgreSQL refuses it); say so instead of failing later.
        raise InvalidParameterValue("Strings in the request cannot contain NUL characters (\\u0000).")
    try:
        data = orjson.loads(body)
        # Older clients double-encode the body as a JSON string.
        if isinstance(data, str):
            data = orjson.loads(data)
    except orjson.JSONDecodeError:
        # MLflow's server treats an unparsable body as empty; the missing-field error follows.
        return {}
    return data if isinstance(data, dict) else {}


def _query_fields(request: HttpRequest, message: str) -> dict[str, Any]:
    fields = MESSAGES[message]
    raw: dict[str, Any] = {}
    for name, values in request.GET.lists():
        spec = fields.get(name)
        if spec is None:
            continue
        kind, repeated = spec[0], spec[1]
        if repeated:
            raw[name] = values
        elif kind == "bool":
            value = values[-1].lower()
            if value not in ("true", "false"):
                raise InvalidParameterValue(
                    f"Invalid boolean value: {values[-1]}, must be 'true' or 'false'."
                )
            raw[name] = value == "true"
        else:
            raw[name] = values[0]
        if any("\x00" in value for value in values):
            raise InvalidParameterValue(f"Parameter '{name}' cannot contain NUL characters.")
    return raw


class _Plan:
    """A message's fields prepared once for fast checking (log-batch checks 1,000 metrics a call)."""

    __slots__ = ("camel", "fields", "plain_types", "required")

    def __init__(self, message: str) -> None:
        self.fields = MESSAGES[message]
        self.camel = {_lower_camel(name): name for name in self.fields if "_" in name}
        # MLflow stores a tag or param sent without a value as "": `value` is never required.
        self.required = tuple(
            (name, kind == "string")
            for name, (kind, _, required, _) in self.fields.items()
            if required and not (name == "value" and kind == "string")
        )
        # For messages of plain scalars (a Metric, a Param, a tag), an item whose every field
        # already has its checked type can be taken as it is, without building a new dict.
        types = {
            name: _PLAIN_TYPES.get(kind)
            for name, (kind, repeated, _, _) in self.fields.items()
            if not repeated
        }
        plain = len(types) == len(self.fields) and None not in types.values()
        self.plain_types: dict[str, type] | None = types if plain else None

    def all_plain(self, items: list) -> bool:
        """Whether every item is a dict of this message's fields, each of its checked type, with
        the required ones present: then the list can be taken as it is. Checked column by column
        (a batch's thousand metrics share their fields), so the loops over items run in C; any
        doubt (fields differing between items, a value to convert) answers False, and the caller
        checks item by item."""
        types = self.plain_types
        if types is None:
            return False
        if not items:
            return True
        if set(map(type, items)) != {dict}:
            return False
        first = items[0]
        if set(map(len, items)) != {len(first)}:
            return False
        columns: dict[str, list] = {}
        try:
            for name in first:
                expected = types.get(name)
                if expected is None:
                    return False
                column = [item[name] for item in items]  # KeyError: the items' fields differ
                if set(map(type, column)) != {expected}:
                    return False
                if expected is int and not (min(column) >= -_INT64 and max(column) < _INT64):
                    return False
                columns[name] = column
        except KeyError:
            return False
        for name, is_string in self.required:
            column = columns.get(name)
            if column is None or (is_string and "" in column):
                return False
        return True


_PLANS: dict[str, _Plan] = {}


def _plan(message: str) -> _Plan:
    plan = _PLANS.get(message)
    if plan is None:
        plan = _PLANS[message] = _Plan(message)
    return plan


def check_message(raw: Any, message: str, path: str) -> dict[str, Any]:
    if type(raw) is not dict:
        raise _invalid(path or message, raw)
    plan = _plan(message)
    fields = plan.fields
    out: dict[str, Any] = {}
    for name, value in raw.items():
        spec = fields.get(name)
        if spec is None:
            real = plan.camel.get(name)
            if real is None:
                continue  # unknown fields are ignored, as protobuf's JSON reader does
            if raw.get(real) is not None:
                raise InvalidParameterValue(
                    f"Request specifies both '{real}' and '{name}'; provide only one of them."
                )
            name, spec = real, fields[real]
        if value is None:
            continue
        kind, repeated, _, ref = spec
        value_type = type(value)
        if repeated and kind == "json" and value_type is dict:
            out[name] = value  # a proto map (string keys, as JSON gives them)
        elif repeated:
            if value_type is not list:
                raise _invalid(_join(path, name), value)
            prefix = _join(path, name)
            if kind == "message":
                item_plan = _plan(ref)
                if item_plan.all_plain(value):
                    out[name] = value
                else:
                    out[name] = [check_message(item, ref, f"{prefix}[{i}]") for i, item in enumerate(value)]
            else:
                out[name] = [_check_value(item, kind, ref, f"{prefix}[{i}]") for i, item in enumerate(value)]
        # The common cases first, inline: they run a few thousand times per log-batch.
        elif (
            (value_type is str and kind == "string")
            or (value_type is float and kind == "double")
            or (value_type is int and kind == "int64" and -_INT64 <= value < _INT64)
        ):
            out[name] = value
        elif kind == "message":
            out[name] = check_message(value, ref, _join(path, name))
        else:
            out[name] = _check_value(value, kind, ref, _join(path, name))
    for name, is_string in plan.required:
        value = out.get(name)
        if value is None or (is_string and value == ""):
            raise InvalidParameterValue(
                f"Missing value for required parameter '{_join(path, name)}'.{_SEE_DOCS}"
            )
    return out


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _check_value(value: Any, kind: str, ref: str | None, path: str) -> Any:
    value_type = type(value)
    if kind == "string":
        if value_type is str:
            return value
    elif kind in _INT_RANGES:
        number = value if value_type is int else _as_int(value)
        if number is not None:
            low, high = _INT_RANGES[kind]
            if low <= number <= high:
                return number
    elif kind in ("double", "float"):
        if value_type is float:
            return value
        number = _as_float(value)
        if number is not None:
            return number
    elif kind == "bool":
        if value_type is bool:
            return value
    elif kind == "enum":
        names = ENUMS[ref]
        if value_type is str and value in names:
            return value
        if value_type is int:
            for name, number in names.items():
                if number == value:
                    return name
    elif kind == "message":
        return check_message(value, ref, path)
    elif kind == "json" or (kind == "bytes" and value_type is str):
        return value
    raise _invalid(path, value)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _as_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        special = _SPECIAL_FLOATS.get(value)
        if special is not None:
            return special
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _invalid(path: str, value: Any) -> InvalidParameterValue:
    if "secret" in path:
        # A gateway secret's value is never repeated back, not even in an error.
        return InvalidParameterValue(f"Invalid value for parameter '{path}' supplied.{_SEE_DOCS}")
    return invalid_value(path, value, f" Hint: Value was of type '{type(value).__name__}'.{_SEE_DOCS}")


def decode_json_string(text: str, field: str) -> Any:
    """A field that MLflow sends as a JSON document inside a string (dataset tags, records)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise InvalidParameterValue(
            f"Invalid value for parameter '{field}': it must be a JSON document ({error}). "
            "NaN and Infinity are not JSON; send null instead."
        ) from None
