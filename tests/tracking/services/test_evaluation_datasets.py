"""Upserting evaluation-dataset records: matched by their inputs, merged as MLflow merges them."""

from __future__ import annotations

import json

import pytest

from tracking.errors import InvalidParameterValue
from tracking.services.evaluation_datasets import create_evaluation_dataset, upsert_dataset_records


@pytest.fixture
def dataset(default_workspace):
    return create_evaluation_dataset(workspace=default_workspace, name="qa")


def records_by_question(dataset) -> dict:
    return {record.inputs["q"]: record for record in dataset.records.all()}


def test_an_upsert_inserts_new_inputs_and_merges_known_ones_keeping_json_types(dataset):
    assert upsert_dataset_records(
        dataset=dataset,
        records=[
            {"inputs": {"q": "a"}, "expectations": {"x": 1}},
            {"inputs": {"q": "b"}, "outputs": {"k": [1]}},
        ],
    ) == (2, 0)
    before = records_by_question(dataset)

    counts = upsert_dataset_records(
        dataset=dataset,
        records=[
            {
                "inputs": {"q": "a"},
                "outputs": "text",
                "expectations": {"y": [1, 2]},
                "tags": {"mlflow.user": "bo"},
            },
            {"inputs": {"q": "b"}, "outputs": None},
            {"inputs": {"q": "a"}, "tags": {"t": "2"}},  # the same inputs twice in one call merge too
        ],
    )

    assert counts == (0, 3)
    after = records_by_question(dataset)
    assert after["a"].record_id == before["a"].record_id
    assert after["a"].outputs == "text"
    assert after["a"].expectations == {"x": 1, "y": [1, 2]}
    assert after["a"].tags == {"mlflow.user": "bo", "t": "2"}
    assert after["a"].last_updated_by == "bo" and after["a"].created_by is None
    assert after["a"].updated_at >= before["a"].updated_at == after["a"].created_at
    assert after["b"].outputs is None
    dataset.refresh_from_db()
    assert json.loads(dataset.profile) == {"num_records": 2} and dataset.last_updated_by == "bo"
    assert json.loads(dataset.schema)["expectations"] == {"x": "integer", "y": "array"}


def test_nothing_is_written_when_one_record_is_bad(dataset):
    with pytest.raises(InvalidParameterValue, match=r"records\[1\]\.inputs"):
        upsert_dataset_records(
            dataset=dataset, records=[{"inputs": {"q": "a"}}, {"inputs": ["not", "an", "object"]}]
        )
    assert dataset.records.count() == 0
