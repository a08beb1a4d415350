"""MLflow 3 tracing with the real client: spans by OTLP, the trace's info by StartTraceV3, then
get_trace, search_traces, tags, deletion and run links, as against `mlflow server`."""

from __future__ import annotations

import contextlib
import json
import time

import pytest
import requests
from mlflow.exceptions import MlflowException

TRACE_ID = "tr-" + "ab" * 16


def _traced(mlflow, name: str, x: int, *, fail: bool = False) -> str:
    @mlflow.trace(name=name, span_type="CHAIN", attributes={"team": "ml", "n": 3})
    def outer(x):
        with mlflow.start_span("retrieve", span_type="RETRIEVER") as span:
            span.set_inputs({"query": f"refund {x}"})
            span.set_outputs({"documents": ["a", "b"]})
            span.set_attribute("model", "gpt-x")
        if fail:
            raise ValueError("boom")
        return x * 2

    with contextlib.suppress(ValueError):
        outer(x)
    return mlflow.get_last_active_trace_id()


def test_nested_spans_come_back_with_their_inputs_outputs_and_attributes(tracing):
    experiment_id = tracing.set_experiment("traced").experiment_id
    trace_id = _traced(tracing, "answer", 5)

    trace = tracing.get_trace(trace_id)
    assert trace.info.trace_id == trace_id
    assert trace.info.experiment_id == experiment_id
    assert trace.info.state == "OK"
    assert trace.info.tags["mlflow.traceName"] == "answer"
    assert trace.info.tags["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert trace.info.request_preview == '{"x": 5}'
    assert trace.info.response_preview == "10"
    assert trace.info.execution_duration >= 0
    spans = {span.name: span for span in trace.data.spans}
    assert set(spans) == {"answer", "retrieve"}
    root, child = spans["answer"], spans["retrieve"]
    assert root.parent_id is None and child.parent_id == root.span_id
    assert root.inputs == {"x": 5} and root.outputs == 10
    assert root.attributes["team"] == "ml" and root.attributes["n"] == 3
    assert root.span_type == "CHAIN" and child.span_type == "RETRIEVER"
    assert child.inputs == {"query": "refund 5"}
    assert child.outputs == {"documents": ["a", "b"]}
    assert child.get_attribute("model") == "gpt-x"
    assert child.start_time_ns >= root.start_time_ns and child.end_time_ns <= root.end_time_ns


def test_search_filters_orders_and_pages(tracing, client):
    experiment_id = tracing.set_experiment("searched").experiment_id
    ok_ids = [_traced(tracing, f"ok-{i}", i) for i in range(3)]
    failed = _traced(tracing, "failed", 9, fail=True)

    def ids(**kwargs):
        return [
            t.info.trace_id
            for t in tracing.search_traces(locations=[experiment_id], return_type="list", **kwargs)
        ]

    assert ids() == [failed, *reversed(ok_ids)]  # newest first
    assert ids(filter_string="trace.status = 'ERROR'") == [failed]
    assert ids(filter_string="trace.name = 'ok-1'") == [ok_ids[1]]
    assert (
        ids(filter_string="span.type = 'RETRIEVER' AND trace.status = 'OK'", order_by=["timestamp_ms ASC"])
        == ok_ids
    )
    assert ids(filter_string="trace.text ILIKE '%REFUND 2%'") == [ok_ids[2]]
    assert ids(filter_string="span.name = 'retrieve'", max_results=10) == [failed, *reversed(ok_ids)]
    assert ids(filter_string="metadata.`mlflow.trace_schema.version` = '3' AND tags.nope IS NULL") == ids()
    first = ids(filter_string="trace.timestamp_ms > 0")
    assert len(first) == 4

    page = client.search_traces(locations=[experiment_id], max_results=3)
    assert [t.info.trace_id for t in page] == [failed, ok_ids[2], ok_ids[1]] and page.token
    rest = client.search_traces(locations=[experiment_id], max_results=3, page_token=page.token)
    assert [t.info.trace_id for t in rest] == [ok_ids[0]] and not rest.token

    for bad in ("trace.status = ", "nope.x = 'a'", "trace.timestamp_ms > 'a'", "span.content = 'x'"):
        with pytest.raises(MlflowException) as excinfo:
            client.search_traces(locations=[experiment_id], filter_string=bad)
        assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE", bad


def test_tags_are_set_and_deleted_and_traces_deleted_by_id_and_by_time(tracing, client):
    experiment_id = tracing.set_experiment("tagged").experiment_id
    first, second, third = (_traced(tracing, f"t{i}", i) for i in range(3))

    client.set_trace_tag(first, "reviewed", "yes")
    assert client.get_trace(first).info.tags["reviewed"] == "yes"
    assert [
        t.info.trace_id
        for t in client.search_traces(locations=[experiment_id], filter_string="tags.reviewed = 'yes'")
    ] == [first]
    client.delete_trace_tag(first, "reviewed")
    assert "reviewed" not in client.get_trace(first).info.tags
    with pytest.raises(MlflowException):
        client.delete_trace_tag(first, "reviewed")

    assert client.delete_traces(experiment_id, trace_ids=[second]) == 1
    with pytest.raises(MlflowException) as excinfo:
        client.get_trace(second)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert (
        client.delete_traces(experiment_id, max_timestamp_millis=int(time.time() * 1000), max_traces=1) == 1
    )
    assert [t.info.trace_id for t in client.search_traces(locations=[experiment_id])] == [third]


def test_traces_link_to_a_run_and_search_by_it(tracing, client):
    experiment_id = tracing.set_experiment("linked").experiment_id
    trace_id = _traced(tracing, "linked", 1)
    run_id = client.create_run(experiment_id).info.run_id
    client.link_traces_to_run([trace_id], run_id)
    found = client.search_traces(locations=[experiment_id], filter_string=f"trace.run_id = '{run_id}'")
    assert [t.info.trace_id for t in found] == [trace_id]


def test_a_trace_whose_spans_are_a_file_reads_back_and_deletes_with_it(tracing, client, artifact_root):
    """What a client does where the server keeps no spans: StartTraceV3, then the spans as a file
    in the trace's artifact folder, through the artifact proxy."""
    from mlflow.entities import TraceInfo, TraceLocation, TraceState
    from mlflow.tracing.client import TracingClient

    experiment_id = tracing.set_experiment("files").experiment_id
    spans_of = client.get_trace(_traced(tracing, "source", 4)).data
    tracing_client = TracingClient(tracing.get_tracking_uri())
    info = tracing_client.start_trace(
        TraceInfo(
            trace_id=TRACE_ID,
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=int(time.time() * 1000),
            state=TraceState.OK,
            execution_duration=7,
            trace_metadata={"origin": "file"},
            tags={"mlflow.traceName": "from-file"},
        )
    )
    assert "mlflow.trace.spansLocation" not in info.tags
    assert (
        info.tags["mlflow.artifactLocation"]
        == f"mlflow-artifacts:/{experiment_id}/traces/{TRACE_ID}/artifacts"
    )
    tracing_client._upload_trace_data(info, spans_of)
    stored = f"{experiment_id}/traces/{TRACE_ID}/artifacts/traces.json"
    assert artifact_root.exists(stored)

    trace = client.get_trace(TRACE_ID)
    assert trace.info.execution_duration == 7 and trace.info.trace_metadata["origin"] == "file"
    assert sorted(span.name for span in trace.data.spans) == ["retrieve", "source"]

    assert client.delete_traces(experiment_id, trace_ids=[TRACE_ID]) == 1
    assert not artifact_root.exists(stored)


def test_mlflow_2_trace_rpcs_start_end_get_and_search(tracing, client):
    """What a client older than 3.3 sends, and a newer one falls back to."""
    from mlflow.entities.trace_status import TraceStatus
    from mlflow.protos.service_pb2 import SearchTraces
    from mlflow.utils.proto_json_utils import message_to_json

    experiment_id = tracing.set_experiment("v2").experiment_id
    store = client._tracking_client.store
    started = store.deprecated_start_trace_v2(experiment_id, 1_700_000_000_000, {"a": "b"}, {"t": "v"})
    assert started.status == TraceStatus.IN_PROGRESS and started.tags["t"] == "v"
    ended = store.deprecated_end_trace_v2(
        started.request_id, 1_700_000_000_500, TraceStatus.OK, {"c": "d"}, {}
    )
    assert ended.execution_time_ms == 500 and ended.request_metadata == {"a": "b", "c": "d"}
    info = store.get_trace_info(started.request_id)
    assert info.state.value == "OK" and info.execution_duration == 500
    found = store._call_endpoint(SearchTraces, message_to_json(SearchTraces(experiment_ids=[experiment_id])))
    assert [t.request_id for t in found.traces] == [started.request_id]


def _otlp_request(trace_hex: str, experiment_id: str):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    attribute = resource_spans.resource.attributes.add()
    attribute.key, attribute.value.string_value = "service.name", "billing-bot"
    span = resource_spans.scope_spans.add().spans.add()
    span.trace_id, span.span_id = bytes.fromhex(trace_hex), bytes.fromhex("01" * 8)
    span.name, span.start_time_unix_nano, span.end_time_unix_nano = (
        "handle",
        1_700_000_000_000_000_000,
        1_700_000_000_500_000_000,
    )
    inputs = span.attributes.add()
    inputs.key, inputs.value.string_value = "mlflow.spanInputs", json.dumps({"q": "hi"})
    span.status.code = 1
    return request


def test_otlp_protobuf_and_json_bodies_become_traces(tracing, client, tracking_uri):
    experiment_id = tracing.set_experiment("otlp").experiment_id
    headers = {"X-Mlflow-Experiment-Id": experiment_id}
    body = _otlp_request("cd" * 16, experiment_id).SerializeToString()
    answer = requests.post(
        f"{tracking_uri}/v1/traces", data=body, headers={**headers, "Content-Type": "application/x-protobuf"}
    )
    assert answer.status_code == 200, answer.text
    trace = client.get_trace("tr-" + "cd" * 16)
    assert trace.info.state == "OK" and trace.info.execution_duration == 500
    assert trace.info.tags["service.name"] == "billing-bot"
    assert [s.name for s in trace.data.spans] == ["handle"] and trace.data.spans[0].inputs == '{"q": "hi"}'

    document = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "ef" * 16,
                                "spanId": "02" * 8,
                                "name": "json-span",
                                "startTimeUnixNano": "1700000001000000000",
                                "endTimeUnixNano": "1700000001250000000",
                                "status": {"code": 2, "message": "bad"},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    run_id = client.create_run(experiment_id).info.run_id
    answer = requests.post(
        f"{tracking_uri}/ws/default/v1/traces", json=document, headers={**headers, "X-Mlflow-Run-Id": run_id}
    )
    assert answer.status_code == 200, answer.text
    info = client.get_trace("tr-" + "ef" * 16).info
    assert info.state == "ERROR" and info.tags["mlflow.traceName"] == "json-span"
    linked = client.search_traces(locations=[experiment_id], filter_string=f"trace.run_id = '{run_id}'")
    assert [t.info.trace_id for t in linked] == ["tr-" + "ef" * 16]

    for hostile, content_type in (
        (b"\xff\x00garbage", "application/x-protobuf"),
        (b"{not json", "application/json"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}', "application/json"),
        (b"[]", "application/json"),
        (b"", "application/x-protobuf"),
        (b"x", "text/plain"),
    ):
        answer = requests.post(
            f"{tracking_uri}/v1/traces", data=hostile, headers={**headers, "Content-Type": content_type}
        )
        assert 400 <= answer.status_code < 500, (hostile, answer.status_code, answer.text)
    answer = requests.post(
        f"{tracking_uri}/v1/traces", data=body, headers={"Content-Type": "application/x-protobuf"}
    )
    assert answer.status_code == 422  # no experiment header, as MLflow's server answers
    answer = requests.post(
        f"{tracking_uri}/v1/traces",
        data=body,
        headers={"X-Mlflow-Experiment-Id": "424242", "Content-Type": "application/x-protobuf"},
    )
    assert answer.status_code == 404


def test_hostile_rpc_bodies_get_client_errors(tracking_uri):
    api = f"{tracking_uri}/api/3.0/mlflow/traces"
    for method, url, body in (
        ("POST", api, {"trace": {"trace_info": {"trace_id": TRACE_ID}}}),
        (
            "POST",
            api,
            {
                "trace": {
                    "trace_info": {
                        "trace_id": TRACE_ID,
                        "request_time": "yesterday",
                        "trace_location": {"mlflow_experiment": {"experiment_id": "0"}},
                    }
                }
            },
        ),
        (
            "POST",
            api,
            {
                "trace": {
                    "trace_info": {
                        "trace_id": TRACE_ID,
                        "request_time": "2024-01-01T00:00:00Z",
                        "execution_duration": [1],
                        "trace_location": {"mlflow_experiment": {"experiment_id": "0"}},
                    }
                }
            },
        ),
        (
            "POST",
            f"{api}/search",
            {"locations": [{"mlflow_experiment": {"experiment_id": "0"}}], "max_results": 100000},
        ),
        (
            "POST",
            f"{api}/search",
            {"locations": [{"mlflow_experiment": {"experiment_id": "0"}}], "page_token": "%%%"},
        ),
        ("POST", f"{api}/search", {"locations": []}),
        ("GET", f"{api}/get?trace_id=nope", None),
        ("POST", f"{api}/delete-traces", {"experiment_id": "0"}),
        ("PATCH", f"{tracking_uri}/api/2.0/mlflow/traces/nope/tags", {"key": "a", "value": "b"}),
    ):
        answer = requests.request(method, url, json=body)
        assert 400 <= answer.status_code < 500, (url, body, answer.status_code, answer.text)
        assert "error_code" in answer.json()


@pytest.fixture
def secured(deployed_with_sign_in, team, personal_token, monkeypatch):
    for name in ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    return deployed_with_sign_in.url


def test_a_reader_cannot_write_traces_and_an_outsider_cannot_read_them(secured, team, personal_token):
    from tracking.access.models import Membership, Role

    uri = f"{secured}/ws/team-a"
    contributor = {"Authorization": f"Bearer {personal_token(team.contributor, team.workspace)}"}
    reader = {"Authorization": f"Bearer {personal_token(team.reader, team.workspace)}"}
    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.OWNER)
    outsider = {"Authorization": f"Bearer {personal_token(team.outsider, team.other)}"}
    experiment_id = requests.post(
        f"{uri}/api/2.0/mlflow/experiments/create", json={"name": "secured"}, headers=contributor
    ).json()["experiment_id"]
    body = _otlp_request("aa" * 16, experiment_id).SerializeToString()
    otlp = {"X-Mlflow-Experiment-Id": experiment_id, "Content-Type": "application/x-protobuf"}

    assert requests.post(f"{uri}/v1/traces", data=body, headers={**otlp, **reader}).status_code == 403
    assert requests.post(f"{uri}/v1/traces", data=body, headers=otlp).status_code == 401
    assert requests.post(f"{uri}/v1/traces", data=body, headers={**otlp, **contributor}).status_code == 200
    trace_url = f"{uri}/api/3.0/mlflow/traces/tr-{'aa' * 16}"
    assert requests.get(trace_url, headers=reader).status_code == 200
    tag = requests.patch(
        f"{uri}/api/2.0/mlflow/traces/tr-{'aa' * 16}/tags", json={"key": "a", "value": "b"}, headers=reader
    )
    assert tag.status_code == 403
    # The outsider's own workspace has no such trace, and team-a is not theirs.
    assert (
        requests.get(
            f"{secured}/ws/team-b/api/3.0/mlflow/traces/tr-{'aa' * 16}", headers=outsider
        ).status_code
        == 404
    )
    assert requests.get(trace_url, headers=outsider).status_code in (403, 404)
    assert requests.post(f"{uri}/v1/traces", data=body, headers={**otlp, **outsider}).status_code in (
        403,
        404,
    )
