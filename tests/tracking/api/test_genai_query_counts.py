"""The GenAI endpoints (evaluation datasets, scorers, issues) cost a fixed number of queries,
whatever the number of records, datasets, scorers or issues they carry."""

from __future__ import annotations

import json

import pytest

from tracking.services.evaluation_datasets import create_evaluation_dataset, upsert_dataset_records
from tracking.services.experiments import create_experiment
from tracking.services.issues import create_issue
from tracking.services.scorers import register_scorer


def call(client, method: str, path: str, body: dict | None = None):
    return client.generic(
        method, f"/api/3.0/mlflow/{path}", data=json.dumps(body or {}), content_type="application/json"
    )


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="genai")


@pytest.mark.parametrize("count", [3, 300])
def test_an_upsert_costs_the_same_queries_for_3_or_300_records_new_or_updated(
    client, experiment, count, django_assert_max_num_queries
):
    dataset = create_evaluation_dataset(workspace=experiment.workspace, name="qa", experiments=[experiment])
    upsert_dataset_records(dataset=dataset, records=[{"inputs": {"q": n}} for n in range(0, count, 2)])
    records = [
        {"inputs": {"q": n}, "expectations": {"a": n}, "tags": {"mlflow.user": "ann"}} for n in range(count)
    ]
    with django_assert_max_num_queries(12):
        response = call(
            client, "POST", f"datasets/{dataset.dataset_id}/records", {"records": json.dumps(records)}
        )
    assert response.status_code == 200, response.content
    assert response.json()["inserted_count"] + response.json()["updated_count"] == count
    assert dataset.records.count() == count


@pytest.mark.parametrize("count", [2, 30])
def test_searching_datasets_and_reading_records_cost_the_same_queries_for_few_or_many(
    client, experiment, count, django_assert_max_num_queries
):
    for n in range(count):
        dataset = create_evaluation_dataset(
            workspace=experiment.workspace,
            name=f"d{n}",
            tags={"team": "a", "n": str(n)},
            experiments=[experiment],
        )
        upsert_dataset_records(dataset=dataset, records=[{"inputs": {"q": i}} for i in range(count)])
    body = {
        "experiment_ids": [experiment.experiment_id],
        "filter_string": "tags.team = 'a'",
        "max_results": 100,
    }
    with django_assert_max_num_queries(6):
        response = call(client, "POST", "datasets/search", body)
    assert len(response.json()["datasets"]) == count
    with django_assert_max_num_queries(4):
        response = client.get(f"/api/3.0/mlflow/datasets/{dataset.dataset_id}/records", {"max_results": 1000})
    assert len(json.loads(response.json()["records"])) == count


@pytest.mark.parametrize("count", [2, 30])
def test_listing_scorers_and_searching_issues_cost_the_same_queries_for_few_or_many(
    client, experiment, count, django_assert_max_num_queries
):
    for n in range(count):
        for _ in range(2):
            register_scorer(experiment=experiment, name=f"s{n}", serialized_scorer="{}")
        create_issue(experiment=experiment, name=f"i{n}", description="d", severity="low")
    with django_assert_max_num_queries(4):
        response = client.get("/api/3.0/mlflow/scorers/list", {"experiment_id": experiment.experiment_id})
    assert [s["scorer_version"] for s in response.json()["scorers"]] == [2] * count
    with django_assert_max_num_queries(4):
        response = call(client, "POST", "issues/search", {"experiment_id": experiment.experiment_id})
    assert len(response.json()["issues"]) == count


@pytest.mark.parametrize("count", [2, 30])
def test_listing_label_schemas_review_queues_and_their_items_cost_the_same_queries_for_few_or_many(
    client, experiment, count, django_assert_max_num_queries
):
    from tracking.services.label_schemas import SchemaInput, create_label_schema
    from tracking.services.review_queues import add_items_to_review_queue, create_review_queue
    from tracking.services.traces import TraceInfoInput, start_trace
    from tracking.times import now_to_the_ms

    trace_ids = [f"tr-{n:032x}" for n in range(count)]
    for trace_id in trace_ids:
        start_trace(
            workspace=experiment.workspace,
            experiment=experiment,
            info=TraceInfoInput(trace_id, now_to_the_ms(), 1, "OK"),
        )
    schemas = [
        create_label_schema(
            experiment=experiment, name=f"q{n}", schema_type="feedback", schema_input=SchemaInput("text", {})
        ).schema_id
        for n in range(count)
    ]
    for n in range(count):
        queue = create_review_queue(
            experiment=experiment,
            name=f"r{n}",
            queue_type="custom",
            users=["ann", "bob"],
            schema_ids=schemas[:3],
        )
        add_items_to_review_queue(queue=queue, trace_ids=trace_ids)
    experiment_id = {"experiment_id": experiment.experiment_id}
    with django_assert_max_num_queries(5):
        response = client.get("/api/3.0/mlflow/review-queues/list", {**experiment_id, "user": "ann"})
    queues = response.json()["review_queues"]
    assert len(queues) == count and all(
        len(q["users"]) == 2 and len(q["schema_ids"]) == min(count, 3) for q in queues
    )
    with django_assert_max_num_queries(5):
        response = client.get("/api/3.0/mlflow/review-queues/items/list", {"queue_id": queue.queue_id})
    assert sorted(i["item_id"] for i in response.json()["items"]) == trace_ids
    client.get("/api/3.0/mlflow/label-schemas/list", experiment_id)  # makes the default question
    with django_assert_max_num_queries(4):
        response = client.get("/api/3.0/mlflow/label-schemas/list", experiment_id)
    assert len(response.json()["label_schemas"]) == count + 1
