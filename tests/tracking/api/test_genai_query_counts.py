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
