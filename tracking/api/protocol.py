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

from .spec import ENUMS, MESSAGES

_SEE_DOCS = " See the API docs for more information about request parameters."
_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint32": (0, 2**32 - 1),
    "uint64": (0, 2**64 - 1),
}
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def _lower_camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


_CAMEL = {name: _lower_camel(name) for fields in MESSAGES.values() for name in fields if "_" in name}


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
    return raw


def check_message(raw: Any, message: str, path: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _invalid(path or message, raw)
    fields = MESSAGES[message]
    out: dict[str, Any] = {}
    for name, (kind, repeated, required, ref) in fields.items():
        value = raw.get(name)
        camel = _CAMEL.get(name)
        if camel is not None and camel in raw:
            # protobuf's JSON reader takes lowerCamelCase names too, but not both spellings.
            if value is not None:
                raise InvalidParameterValue(
                    f"Request specifies both '{name}' and '{camel}'; provide only one of them."
                )
            value = raw[camel]
        field_path = f"{path}.{name}" if path else name
        if name == "value" and kind == "string":
            # MLflow stores a tag or param sent without a value as "".
            required = False
        if value is None or (value == "" and kind == "string" and name != "value"):
            if required:
                raise InvalidParameterValue(
                    f"Missing value for required parameter '{field_path}'.{_SEE_DOCS}"
                )
            if value is None:
                continue
        if repeated:
            if not isinstance(value, list):
                raise _invalid(field_path, value)
            out[name] = [
                _check_value(item, kind, ref, f"{field_path}[{index}]") for index, item in enumerate(value)
            ]
        else:
            out[name] = _check_value(value, kind, ref, field_path)
    return out


def _check_value(value: Any, kind: str, ref: str | None, path: str) -> Any:
    if kind == "string":
        if isinstance(value, str):
            return value
    elif kind in _INT_RANGES:
        number = _as_int(value)
        if number is not None:
            low, high = _INT_RANGES[kind]
            if low <= number <= high:
                return number
    elif kind in ("double", "float"):
        number = _as_float(value)
        if number is not None:
            return number
    elif kind == "bool":
        if isinstance(value, bool):
            return value
    elif kind == "enum":
        names = ENUMS[ref]
        if isinstance(value, str) and value in names:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            for name, number in names.items():
                if number == value:
                    return name
    elif kind == "message":
        return check_message(value, ref, path)
    elif kind == "json" or (kind == "bytes" and isinstance(value, str)):
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
    shown = repr(value) if len(repr(value)) <= 200 else repr(value)[:200] + "..."
    return InvalidParameterValue(
        f"Invalid value {shown} for parameter '{path}' supplied. "
        f"Hint: Value was of type '{type(value).__name__}'.{_SEE_DOCS}"
    )
