"""Bad and hostile input for every RPC this server implements (tracking/api/spec.py), generated
by Hypothesis from the RPC's own request message: wrong types, missing and extra fields, huge and
negative numbers, NaN, deep nesting, long strings, odd Unicode, real ids beside made-up ones.

Whatever comes, the answer is never a 5xx, every error is MLflow's `{"error_code", "message"}`,
and a refused request leaves every table as it was. The database runs in autocommit, as in
production, so a half-written request would show in the row counts.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.hostile import DEEP_JSON, EXAMPLES, FUZZ, JSON, any_value, assert_answered_well, row_counts
from tracking.api.router import ROUTES
from tracking.api.spec import MESSAGES, RPCS

TRIED: dict[str, int] = {}
PATH_PARAMETERS = ["experiment_id", "run_id", "model_id", "trace_id", "request_id", "name", "workspace_name",
                   "dataset_id", "prompt_name", "alias", "version", "issue_id", "key", "schema_id", "queue_id"]  # fmt: skip


def _implemented() -> list[tuple[str, str, str, str]]:
    """(request message, method, path, route) of each implemented RPC, its first endpoint."""
    ROUTES.build()
    found = []
    for name, message, endpoints in RPCS:
        method, path, major = endpoints[0]
        full = f"{major}.0/{path.lstrip('/')}"
        routes, _ = ROUTES.match(_filled(full, {}))
        if routes.get(method) is not None and routes[method].handler is not None:
            found.append((message, method, full, name))
    return found


def _filled(path: str, values: dict[str, str]) -> str:
    def fill(match):
        name = (match.group(1) or match.group(2) or match.group(3)).split(".")[-1]
        return urllib.parse.quote(values.get(name, "x"), safe="")

    return re.sub(r"\{([\w.]+)\}|<path:(\w+)>|<(\w+)>", fill, path)


def message_of(message: str, real: dict[str, list], depth: int = 0) -> st.SearchStrategy[dict]:
    """A request for `message`: each field absent, wrong or right-looking, plus stray fields."""
    fields = MESSAGES.get(message, {})
    optional = {}
    for name, (kind, repeated, _required, ref) in fields.items():
        value = any_value(real.get(name))
        if kind == "message" and ref in MESSAGES and depth < 2:
            value = st.one_of(message_of(ref, real, depth + 1), value)
        if repeated:
            value = st.one_of(st.lists(value, max_size=3), value)
        optional[name] = value
    stray = st.dictionaries(st.text(max_size=10), JSON, max_size=2)
    return st.tuples(st.fixed_dictionaries({}, optional=optional), stray).map(
        lambda pair: {**pair[1], **pair[0]}
    )


@pytest.fixture
def real_ids(transactional_db, default_workspace) -> dict[str, list]:
    """Things that exist, so that some requests get past their look-ups."""
    from registry.services.model_versions import create_model_version
    from registry.services.registered_models import create_registered_model
    from tracking.services.evaluation_datasets import create_evaluation_dataset, upsert_dataset_records
    from tracking.services.experiments import create_experiment
    from tracking.services.issues import create_issue
    from tracking.services.label_schemas import SchemaInput, create_label_schema
    from tracking.services.logged_models import create_logged_model
    from tracking.services.metric_points import MetricPoint
    from tracking.services.review_queues import add_items_to_review_queue, create_review_queue
    from tracking.services.runs import Batch, create_run, log_batch
    from tracking.services.scorers import register_scorer
    from tracking.services.traces import TraceInfoInput, start_trace
    from tracking.times import now_to_the_ms

    experiment = create_experiment(workspace=default_workspace, name="fuzzed")
    run = create_run(experiment=experiment)
    log_batch(run=run, batch=Batch(metrics=[MetricPoint("loss", 0.5, 1, 0)], params=[("lr", "0.1")]))
    model = create_registered_model(workspace=default_workspace, name="fuzzed-model")
    create_model_version(
        workspace=default_workspace, model=model, source=f"{run.artifact_uri}/model", run_id=run.uuid
    )
    logged = create_logged_model(experiment=experiment, name="m", source_run_id=run.uuid)
    dataset = create_evaluation_dataset(workspace=default_workspace, name="fuzzed", experiments=[experiment])
    upsert_dataset_records(dataset=dataset, records=[{"inputs": {"q": "a"}}])
    register_scorer(experiment=experiment, name="fuzzed", serialized_scorer='{"name": "fuzzed"}')
    issue = create_issue(experiment=experiment, name="fuzzed", description="d", source_run=run)
    trace = start_trace(
        workspace=default_workspace,
        experiment=experiment,
        info=TraceInfoInput("tr-" + "f" * 32, now_to_the_ms(), 5, "OK"),
    )
    schema = create_label_schema(
        experiment=experiment, name="fuzzed", schema_type="feedback", schema_input=SchemaInput("text", {})
    )
    queue = create_review_queue(
        experiment=experiment,
        name="fuzzed",
        queue_type="custom",
        users=["ann"],
        schema_ids=[schema.schema_id],
    )
    add_items_to_review_queue(queue=queue, trace_ids=[trace.trace_id])
    return {
        "schema_id": [schema.schema_id],
        "schema_ids": [[schema.schema_id]],
        "queue_id": [queue.queue_id],
        "item_id": [trace.trace_id],
        "item_ids": [[trace.trace_id], [trace.trace_id, "tr-unknown"]],
        "trace_id": [trace.trace_id],
        "user": ["ann", "Ann "],
        "users": [["ann", "bob"]],
        "input": [{"text": {"max_length": 10}}, {"categorical": {"options": ["a", "b"]}}],
        "type": ["FEEDBACK", "EXPECTATION"],
        "queue_type": ["USER", "CUSTOM"],
        "status": ["PENDING", "COMPLETE", "DECLINED"],
        "completed_by": ["ann"],
        "dataset_id": [dataset.dataset_id],
        "dataset_record_ids": [[dataset.records.get().record_id]],
        "records": ['[{"inputs": {"q": "b"}, "expectations": {"a": 1}}]', "[1]", "{}"],
        "tags": ['{"k": "v"}', "[]"],
        "issue_id": [issue.issue_id],
        "serialized_scorer": ['{"name": "x"}', "[]"],
        "filter_string": ["name = 'fuzzed'", "status = 'pending'", "tags.k LIKE '%'"],
        "experiment_id": [str(experiment.number), "0"],
        "experiment_ids": [[str(experiment.number)]],
        "run_id": [run.uuid],
        "run_uuid": [run.uuid],
        "name": ["fuzzed-model", "fuzzed"],
        "experiment_name": ["fuzzed"],
        "version": ["1"],
        "key": ["loss", "lr"],
        "metric_key": ["loss"],
        "model_id": [logged.model_id],
        "alias": ["champion"],
        "filter": ["metrics.loss > 0", "name LIKE 'f%'", "tags.x = 'y' AND params.lr = '0.1'"],
        # QueryTraceMetrics: names that exist, and filters of its own grammar.
        "view_type": ["TRACES", "SPANS", "ASSESSMENTS"],
        "metric_name": ["trace_count", "latency", "total_cost", "assessment_value"],
        "aggregations": [
            [{"aggregation_type": "PERCENTILE", "percentile_value": 50}],
            [{"aggregation_type": "COUNT"}],
        ],
        "dimensions": [["trace_status"], ["span_model_name"], ["assessment_name"]],
        "filters": [
            ["trace.status = 'OK'"],
            ["span.name = 'x'"],
            ["trace.tag.`a.b` = 'c'", "trace.metadata.k = 'v'"],
        ],
        "time_interval_seconds": [60, 1],
        "start_time_ms": [0, 1_700_000_000_000],
        "end_time_ms": [1_800_000_000_000],
    }


def _send(client: Client, method: str, path: str, fields: dict[str, Any], raw: str | None) -> Any:
    url = f"/api/{path}"
    if method == "GET":
        query = []
        for key, value in fields.items():
            for item in value if isinstance(value, list) else [value]:
                query.append((key, item if isinstance(item, str) else json.dumps(item)))
        return client.get(url, query)
    body = raw if raw is not None else json.dumps(fields)
    return client.generic(method, url, body.encode("utf-8", "surrogatepass"), content_type="application/json")


def _fuzz(client: Client, message: str, method: str, path: str, name: str, real_ids: dict) -> None:
    @FUZZ
    @given(
        fields=message_of(message, real_ids),
        path_values=st.dictionaries(st.sampled_from(PATH_PARAMETERS), st.text(min_size=1, max_size=20)),
        raw=st.one_of(st.none(), st.none(), DEEP_JSON, st.sampled_from(["{", "null", "[]", '"x"', "\x00"])),
    )
    def check(fields, path_values, raw):
        TRIED[name] = TRIED.get(name, 0) + 1
        before = row_counts()
        answer = _send(client, method, _filled(path, path_values), fields, raw)
        assert_answered_well(answer, f"{method} {path} {json.dumps(fields, default=str)[:300]}", before)

    check()


def test_no_rpc_answers_bad_input_with_a_5xx_or_a_half_written_request(real_ids):
    client = Client()
    for message, method, path, name in _implemented():
        if not message.startswith("mlflow.artifacts."):  # raw bodies: tests/compat/test_artifact_proxy.py
            _fuzz(client, message, method, path, name, real_ids)
    assert len(TRIED) >= 55 and all(count >= EXAMPLES // 2 for count in TRIED.values()), TRIED
    print(f"\nfuzzed {len(TRIED)} RPCs with {sum(TRIED.values())} requests: no 5xx")
