"""OpenTelemetry's trace protocol at the edge: OTLP requests in, MLflow's span JSON out.

1. `read_export_request` parses an ExportTraceServiceRequest (protobuf, or OTLP JSON with hex
   ids) into `SpanRecord`s, each with the span as MLflow stores it: attribute values JSON-encoded,
   ids base64, as MLflow's `Span.to_dict()` writes them (so stored spans read the same either way).
2. `otel_span_json` turns such a stored span back into the OTLP span of MLflow's `Trace` message
   (typed attribute values, base64 ids), which is what GetTrace answers.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import zlib
from typing import Any

from google.protobuf.json_format import Error as ProtoJsonError
from google.protobuf.json_format import ParseDict
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as OtelSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from tracking.errors import InvalidParameterValue, MlflowError
from tracking.services.traces import SpanRecord

TRACE_ID_ATTRIBUTE = "mlflow.traceRequestId"
SPAN_TYPE_ATTRIBUTE = "mlflow.spanType"
INPUTS_ATTRIBUTE = "mlflow.spanInputs"
OUTPUTS_ATTRIBUTE = "mlflow.spanOutputs"
TRACE_TAG_PREFIX = "mlflow.traceTag."
MAX_BODY_BYTES = 64 * 1024 * 1024

_STATUS = {Status.STATUS_CODE_OK: "OK", Status.STATUS_CODE_ERROR: "ERROR"}
_STATUS_NAMES = {"OK": "STATUS_CODE_OK", "ERROR": "STATUS_CODE_ERROR", "UNSET": "STATUS_CODE_UNSET"}


class Unprocessable(MlflowError):
    """A request that parses but cannot be taken: a span that cannot be an MLflow span, a missing
    experiment header (MLflow's server answers 422 to both)."""

    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 422


def read_export_request(body: bytes, content_type: str, content_encoding: str = "") -> list[SpanRecord]:
    """The spans of an OTLP/HTTP export request; 400 for what is not one."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in ("application/x-protobuf", "application/json"):
        raise InvalidParameterValue(
            f"Invalid Content-Type: {content_type}. Expected: application/x-protobuf or application/json"
        )
    body = _decompressed(body, content_encoding.strip().lower())
    request = ExportTraceServiceRequest()
    try:
        if media_type == "application/json":
            ParseDict(_hex_ids_to_base64(json.loads(body)), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
    except (DecodeError, ProtoJsonError, ValueError, TypeError, AttributeError, RecursionError):
        raise InvalidParameterValue("Invalid OpenTelemetry format") from None
    if not request.resource_spans:
        raise InvalidParameterValue("Invalid OpenTelemetry format - no spans found")
    records = []
    for resource_spans in request.resource_spans:
        resource = {attr.key: _value(attr.value) for attr in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                records.append(_record(span, resource))
    return records


def _decompressed(body: bytes, encoding: str) -> bytes:
    try:
        if encoding == "gzip":
            return _bounded(gzip.GzipFile(fileobj=io.BytesIO(body)).read(MAX_BODY_BYTES + 1))
        if encoding == "deflate":
            return _bounded(zlib.decompressobj().decompress(body, MAX_BODY_BYTES + 1))
    except (OSError, EOFError, zlib.error):
        raise InvalidParameterValue(f"The body is not valid {encoding} data.") from None
    if encoding not in ("", "identity"):
        raise InvalidParameterValue(f"Unsupported Content-Encoding: {encoding}")
    return body


def _bounded(data: bytes) -> bytes:
    if len(data) > MAX_BODY_BYTES:
        raise InvalidParameterValue(f"The decompressed body exceeds {MAX_BODY_BYTES} bytes.")
    return data


def _hex_ids_to_base64(data: Any) -> Any:
    # OTLP JSON writes ids in hex; protobuf's JSON mapping of bytes is base64.
    if not isinstance(data, dict):
        raise ValueError("not an object")
    for resource_spans in data.get("resourceSpans") or []:
        for scope_spans in (resource_spans or {}).get("scopeSpans") or []:
            for span in (scope_spans or {}).get("spans") or []:
                for name in ("traceId", "spanId", "parentSpanId"):
                    if isinstance(span, dict) and isinstance(span.get(name), str) and span[name]:
                        span[name] = base64.b64encode(bytes.fromhex(span[name])).decode()
    return data


def _record(span: OtelSpan, resource: dict[str, Any]) -> SpanRecord:
    if len(span.trace_id) != 16 or len(span.span_id) != 8 or len(span.parent_span_id) not in (0, 8):
        raise Unprocessable("Cannot convert OpenTelemetry span to MLflow span")
    if "\x00" in span.name:
        # No database column can hold NUL (PostgreSQL refuses it); the span's JSON escapes it.
        raise InvalidParameterValue("Span names cannot contain NUL characters.")
    trace_id = "tr-" + span.trace_id.hex()
    attributes = {attr.key: _dump(_value(attr.value)) for attr in span.attributes}
    # The trace's id is derived from the OpenTelemetry one, never taken from the sender.
    attributes[TRACE_ID_ATTRIBUTE] = json.dumps(trace_id)
    status = _STATUS.get(span.status.code, "UNSET")
    content = {
        "trace_id": _b64(span.trace_id),
        "span_id": _b64(span.span_id),
        "parent_span_id": _b64(span.parent_span_id) if span.parent_span_id else None,
        "name": span.name,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano or None,
        "events": [
            {
                "name": event.name,
                "timestamp": event.time_unix_nano,
                "attributes": {attr.key: _value(attr.value) for attr in event.attributes},
            }
            for event in span.events
        ],
        "status": {"code": _STATUS_NAMES[status], "message": span.status.message},
        "attributes": attributes,
        "links": [],
    }
    span_type = _loaded(attributes.get(SPAN_TYPE_ATTRIBUTE))
    return SpanRecord(
        trace_id=trace_id,
        span_id=span.span_id.hex(),
        parent_span_id=span.parent_span_id.hex() if span.parent_span_id else None,
        name=span.name,
        span_type=span_type if isinstance(span_type, str) else None,
        status=status,
        start_time_ns=span.start_time_unix_nano,
        end_time_ns=span.end_time_unix_nano or None,
        content=content,
        resource=resource,
    )


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _loaded(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _value(any_value: AnyValue) -> Any:
    kind = any_value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(item) for item in any_value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: _value(item.value) for item in any_value.kvlist_value.values}
    if kind == "bytes_value":
        return _b64(any_value.bytes_value)
    return getattr(any_value, kind)


# ---------------------------------------------------------------------------------------------
# Stored span -> the OTLP span of MLflow's Trace message (JSON, field names as MLflow's server)


def otel_span_json(content: dict[str, Any]) -> dict[str, Any]:
    span: dict[str, Any] = {
        "trace_id": content.get("trace_id", ""),
        "span_id": content.get("span_id", ""),
    }
    if content.get("parent_span_id"):
        span["parent_span_id"] = content["parent_span_id"]
    span["name"] = content.get("name", "")
    span["start_time_unix_nano"] = content.get("start_time_unix_nano") or 0
    if content.get("end_time_unix_nano"):
        span["end_time_unix_nano"] = content["end_time_unix_nano"]
    attributes = [
        {"key": key, "value": _any_value(_loaded(value))}
        for key, value in (content.get("attributes") or {}).items()
    ]
    if attributes:
        span["attributes"] = attributes
    events = []
    for event in content.get("events") or []:
        shaped: dict[str, Any] = {
            "time_unix_nano": event.get("timestamp") or 0,
            "name": event.get("name", ""),
        }
        event_attributes = [_key_value(key, value) for key, value in (event.get("attributes") or {}).items()]
        if event_attributes:
            shaped["attributes"] = event_attributes
        events.append(shaped)
    if events:
        span["events"] = events
    status = content.get("status") or {}
    shaped_status = {"code": status.get("code", "STATUS_CODE_UNSET")}
    if status.get("message"):
        shaped_status["message"] = status["message"]
    span["status"] = shaped_status
    return span


def _key_value(key: str, value: Any) -> dict[str, Any]:
    # A None value has no AnyValue: MLflow's server leaves "value" out.
    return {"key": key} if value is None else {"key": key, "value": _any_value(value)}


def _any_value(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, int):
        return {"int_value": value}
    if isinstance(value, float):
        return {"double_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, list):
        return {"array_value": {"values": [_any_value(item) for item in value]}}
    if isinstance(value, dict):
        return {
            "kvlist_value": {"values": [{"key": str(k), "value": _any_value(v)} for k, v in value.items()]}
        }
    return {"string_value": str(value)}


def decode_b64_id(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).hex()
    except (binascii.Error, ValueError):
        return ""
