"""Token counts and span costs as columns: parsed as MLflow's store parses them, filled when a
trace's info or spans arrive, and by the migration for what was stored before."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tracking.models import Span, Trace
from tracking.services.experiments import create_experiment
from tracking.services.trace_usage import span_columns, token_columns
from tracking.services.traces import SpanRecord, end_trace_v2, log_spans, start_trace_v2

T0 = datetime(2026, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("usage", "columns"),
    [
        (
            {"input_tokens": 3, "output_tokens": "4", "total_tokens": 7.0},
            {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7},
        ),
        (
            {"input_tokens": 1.5, "total_tokens": True, "cache_read_input_tokens": None},
            {"input_tokens": None, "total_tokens": None, "cache_read_input_tokens": None},
        ),
        ({"input_tokens": 2**63, "output_tokens": "nan"}, {"input_tokens": None, "output_tokens": None}),
        ({"unknown": 5}, {}),
        ([1, 2], {}),
    ],
)
def test_token_counts_are_whole_numbers_or_nothing(usage, columns):
    assert token_columns({"mlflow.trace.tokenUsage": json.dumps(usage)}) == columns


def test_metadata_without_token_usage_sets_no_column():
    assert token_columns({"mlflow.user": "ana"}) == {}
    assert token_columns({"mlflow.trace.tokenUsage": "{not json"}) == {}


def test_a_spans_cost_model_and_provider_come_from_its_attributes():
    attributes = {
        "mlflow.llm.cost": json.dumps({"input_cost": 0.5, "output_cost": "inf", "total_cost": "0.75"}),
        "mlflow.llm.model": '"gpt-x"',
        "mlflow.llm.provider": json.dumps("p" * 600),
    }

    assert span_columns(attributes) == {
        "input_cost": 0.5,
        "output_cost": None,
        "total_cost": 0.75,
        "model_name": "gpt-x",
        "model_provider": "p" * 500,
    }
    assert span_columns({"mlflow.llm.model": '"a\\u0000b"', "mlflow.llm.cost": "[]"})["model_name"] is None


@pytest.mark.django_db
def test_spans_and_mlflow_2_traces_fill_their_columns(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="usage")
    trace = start_trace_v2(
        workspace=default_workspace,
        experiment=experiment,
        request_time=T0,
        metadata={"mlflow.trace.tokenUsage": '{"input_tokens": 5}'},
        tags={},
    )
    end_trace_v2(
        trace=trace,
        end_time_ms=int(T0.timestamp() * 1000) + 10,
        state="OK",
        metadata={"mlflow.trace.tokenUsage": '{"input_tokens": 6, "total_tokens": 9}'},
        tags={},
    )
    cost = {"mlflow.llm.cost": '{"total_cost": 0.25}', "mlflow.llm.model": '"m"'}
    log_spans(
        workspace=default_workspace,
        experiment=experiment,
        spans=[
            SpanRecord("tr-" + "e" * 32, "0" * 16, None, "llm", "LLM", "OK", 1, 2, {"attributes": cost}),
        ],
    )

    trace.refresh_from_db()
    assert (trace.input_tokens, trace.total_tokens) == (6, 9)
    assert Span.objects.values_list("total_cost", "model_name").get() == (0.25, "m")


@pytest.mark.django_db(transaction=True)
def test_the_migration_fills_the_columns_of_what_was_stored_before(default_workspace):
    executor = MigrationExecutor(connection)
    before, after = (
        [("tracking", "0022_label_schemas_review_queues_issue_links")],
        [("tracking", "0023_trace_usage_columns")],
    )
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    experiment = old.get_model("tracking", "Experiment").objects.get(
        workspace_id=default_workspace.pk, number=0
    )
    trace = old.get_model("tracking", "Trace").objects.create(
        workspace_id=default_workspace.pk, experiment_id=experiment.pk, trace_id="tr-old", request_time=T0
    )
    old.get_model("tracking", "TraceMetadata").objects.create(
        trace_id=trace.pk, key="mlflow.trace.tokenUsage", value='{"input_tokens": 4, "total_tokens": 10}'
    )
    content = {"attributes": {"mlflow.llm.cost": '{"input_cost": 0.125}', "mlflow.llm.provider": '"acme"'}}
    old.get_model("tracking", "Span").objects.create(
        trace_id=trace.pk, span_id="1", name="s", status="OK", start_time_ns=0, content=json.dumps(content)
    )

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)

    migrated = Trace.objects.get(trace_id="tr-old")
    assert (migrated.input_tokens, migrated.total_tokens, migrated.output_tokens) == (4, 10, None)
    assert Span.objects.values_list("input_cost", "model_provider").get() == (0.125, "acme")
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
