"""OTLP span export at /v1/traces: bad and hostile bodies get a 4xx with MLflow's error shape and
write nothing; good ones store the spans as MLflow's JSON and read back as the OTLP spans of
GetTrace."""

from __future__ import annotations

import gzip
import json

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.hostile import DEEP_JSON, FUZZ, JSON, assert_answered_well, row_counts
from tracking.api.otlp import otel_span_json, read_export_request
from tracking.models import Span, Trace
from tracking.services.experiments import create_experiment


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="otlp")


def export_request(*, trace_id: bytes = b"\x01" * 16, span_id: bytes = b"\x02" * 8, name: str = "root"):
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.trace_id, span.span_id, span.name = trace_id, span_id, name
    span.start_time_unix_nano, span.end_time_unix_nano = 1_700_000_000_000_000_000, 1_700_000_000_100_000_000
    for key, setter in (
        ("n", lambda v: setattr(v, "int_value", 3)),
        ("ok", lambda v: setattr(v, "bool_value", True)),
    ):
        attribute = span.attributes.add()
        attribute.key = key
        setter(attribute.value)
    listed = span.attributes.add()
    listed.key = "docs"
    listed.value.array_value.values.add().string_value = "a"
    event = span.events.add()
    event.name, event.time_unix_nano = "retry", 1_700_000_000_050_000_000
    return request


def post(body: bytes, experiment_id: str, content_type: str = "application/x-protobuf", **headers):
    return Client().post(
        "/v1/traces",
        body,
        content_type=content_type,
        headers={"X-Mlflow-Experiment-Id": experiment_id, **headers},
    )


def test_a_span_reads_back_as_the_otlp_span_it_was(experiment):
    request = export_request()
    assert post(request.SerializeToString(), experiment.experiment_id).status_code == 200
    stored = json.loads(Span.objects.get().content)
    assert stored["attributes"]["n"] == "3" and stored["attributes"]["docs"] == '["a"]'
    assert stored["attributes"]["mlflow.traceRequestId"] == json.dumps("tr-" + "01" * 16)
    shaped = otel_span_json(stored)
    attributes = {item["key"]: item["value"] for item in shaped["attributes"]}
    assert attributes["n"] == {"int_value": 3} and attributes["ok"] == {"bool_value": True}
    assert attributes["docs"] == {"array_value": {"values": [{"string_value": "a"}]}}
    assert shaped["events"] == [{"time_unix_nano": 1_700_000_000_050_000_000, "name": "retry"}]
    assert shaped["end_time_unix_nano"] - shaped["start_time_unix_nano"] == 100_000_000


def test_a_gzipped_body_is_read(experiment):
    body = gzip.compress(export_request().SerializeToString())
    assert post(body, experiment.experiment_id, **{"Content-Encoding": "gzip"}).status_code == 200
    assert Trace.objects.get().trace_id == "tr-" + "01" * 16


def test_the_same_span_sent_twice_is_stored_once(experiment):
    body = export_request().SerializeToString()
    for _ in range(2):
        assert post(body, experiment.experiment_id).status_code == 200
    assert Span.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (export_request(trace_id=b"\x01" * 3).SerializeToString(), "application/x-protobuf", 422),
        (export_request(span_id=b"").SerializeToString(), "application/x-protobuf", 422),
        (export_request(name="a\x00b").SerializeToString(), "application/x-protobuf", 400),
        (b"\x0a\x05\x12\x03\x0a\x01", "application/x-protobuf", 400),
        (b"{}", "application/json", 400),
        (b'{"resourceSpans": "x"}', "application/json", 400),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": 5}]}]}]}', "application/json", 400),
        (b"[" * 5000 + b"]" * 5000, "application/json", 400),
        (gzip.compress(b"x", mtime=0), "application/x-protobuf", 400),
    ],
)
def test_a_bad_body_is_refused_and_writes_nothing(experiment, body, content_type, status):
    before = row_counts()
    answer = post(body, experiment.experiment_id, content_type)
    assert answer.status_code == status, answer.content
    assert_answered_well(answer, repr(body[:60]), before)


def test_a_gzip_bomb_is_refused(experiment):
    bomb = gzip.compress(b"\x00" * (65 * 1024 * 1024))
    answer = post(bomb, experiment.experiment_id, **{"Content-Encoding": "gzip"})
    assert answer.status_code == 400 and "decompressed body" in answer.json()["message"]


def test_the_experiment_must_be_named_and_exist(experiment):
    body = export_request().SerializeToString()
    assert Client().post("/v1/traces", body, content_type="application/x-protobuf").status_code == 422
    assert post(body, "4242").status_code == 404
    assert post(body, "not-a-number").status_code in (400, 404)


def test_only_post_is_allowed(experiment):
    assert Client().get("/v1/traces").status_code == 405


@FUZZ
@given(
    document=st.one_of(JSON, st.dictionaries(st.just("resourceSpans"), JSON)),
    raw=st.one_of(st.none(), DEEP_JSON),
)
def test_no_json_body_gets_a_5xx_or_writes_half(experiment, document, raw):
    before = row_counts()
    body = (raw if raw is not None else json.dumps(document)).encode()
    answer = post(body, experiment.experiment_id, "application/json")
    assert_answered_well(answer, body[:200].decode(errors="replace"), before)


def test_read_export_request_takes_otlp_json_with_hex_ids():
    document = {
        "resourceSpans": [
            {"scopeSpans": [{"spans": [{"traceId": "ab" * 16, "spanId": "cd" * 8, "name": "x"}]}]}
        ]
    }
    (record,) = read_export_request(json.dumps(document).encode(), "application/json; charset=utf-8")
    assert (
        record.trace_id == "tr-" + "ab" * 16 and record.span_id == "cd" * 8 and record.parent_span_id is None
    )
