"""Evaluation datasets (MLflow 3 GenAI) through the real client: mlflow.genai.datasets and the store."""

from __future__ import annotations

import json

import pytest
import requests
from mlflow.exceptions import MlflowException, RestException


@pytest.fixture
def genai(fluent):
    from mlflow.genai import datasets
    from mlflow.tracking._tracking_service.utils import _get_store

    return datasets, _get_store()


def error_of(call) -> tuple[str, int | None]:
    with pytest.raises(MlflowException) as excinfo:
        call()
    error = excinfo.value
    return error.error_code, getattr(error, "get_http_status_code", lambda: None)()


def test_a_dataset_is_created_found_by_id_and_name_searched_and_deleted(genai, client):
    datasets, _ = genai
    experiment_id = client.create_experiment("eval")
    created = datasets.create_dataset(name="qa", experiment_id=experiment_id, tags={"team": "search"})
    assert created.dataset_id.startswith("d-") and len(created.digest) == 8
    assert created.tags["team"] == "search" and created.experiment_ids == [experiment_id]
    assert created.created_by == created.last_updated_by  # the client's mlflow.user tag
    assert created.schema is None and created.profile is None

    by_id = datasets.get_dataset(dataset_id=created.dataset_id)
    by_name = datasets.get_dataset(name="qa")
    assert by_id.dataset_id == by_name.dataset_id == created.dataset_id
    assert by_id.created_time == created.created_time

    datasets.create_dataset(name="other", experiment_id=[client.create_experiment("elsewhere")])
    assert [d.name for d in datasets.search_datasets(experiment_ids=[experiment_id])] == ["qa"]
    assert [d.name for d in datasets.search_datasets(filter_string="tags.team = 'search'")] == ["qa"]
    assert [d.name for d in datasets.search_datasets(filter_string="name LIKE 'oth%'")] == ["other"]
    assert {d.name for d in datasets.search_datasets(filter_string="name IN ('qa', 'other')")} == {
        "qa",
        "other",
    }
    later = f"created_time > {created.created_time}"
    assert [d.name for d in datasets.search_datasets(filter_string=later)] == ["other"]

    datasets.delete_dataset(dataset_id=created.dataset_id)
    assert error_of(lambda: datasets.get_dataset(dataset_id=created.dataset_id)) == (
        "RESOURCE_DOES_NOT_EXIST",
        404,
    )
    assert [d.name for d in datasets.search_datasets()] == ["other"]


def test_merge_records_upserts_by_inputs_and_to_df_reads_them_back(genai):
    datasets, store = genai
    dataset = datasets.create_dataset(name="qa")
    empty_digest = dataset.digest
    dataset.merge_records(
        [
            {"inputs": {"question": "2+2?"}, "expectations": {"answer": "4"}},
            {"inputs": {"question": "capital of France?"}, "outputs": "Paris"},
        ]
    )
    first = datasets.get_dataset(dataset_id=dataset.dataset_id)
    assert json.loads(first.profile) == {"num_records": 2}
    assert json.loads(first.schema)["inputs"] == {"question": "string"}
    # The records change the digest; the client (MLflow 3.18) reads the new one back after merging.
    assert first.digest != empty_digest and dataset.digest == first.digest

    # Same inputs: the record is updated (expectations and tags merged), not added.
    dataset.merge_records(
        [{"inputs": {"question": "2+2?"}, "expectations": {"why": "arithmetic"}, "tags": {"k": "v"}}]
    )
    frame = dataset.to_df()
    assert len(frame) == 2
    by_question = {row["inputs"]["question"]: row for row in frame.to_dict("records")}
    assert by_question["2+2?"]["expectations"] == {"answer": "4", "why": "arithmetic"}
    assert by_question["2+2?"]["tags"]["k"] == "v"
    assert by_question["2+2?"]["source_type"] == "HUMAN"
    assert by_question["capital of France?"]["outputs"] == "Paris"
    assert by_question["capital of France?"]["source_type"] == "CODE"
    assert json.loads(datasets.get_dataset(dataset_id=dataset.dataset_id).profile) == {"num_records": 2}

    counts = store.upsert_dataset_records(
        dataset.dataset_id,
        [{"inputs": {"question": "new"}}, {"inputs": {"question": "2+2?"}, "outputs": "4"}],
    )
    assert counts == {"inserted": 1, "updated": 1}


def test_records_page_in_the_order_they_were_added_and_deleting_some_updates_the_profile(genai):
    datasets, store = genai
    dataset = datasets.create_dataset(name="paged")
    dataset.merge_records([{"inputs": {"n": n}} for n in range(5)])

    seen, token = [], None
    for _ in range(3):
        page, token = store._load_dataset_records(dataset.dataset_id, max_results=2, page_token=token)
        seen += [record.inputs["n"] for record in page]
    assert seen == [0, 1, 2, 3, 4] and token is None

    ids = list(dataset.to_df()["dataset_record_id"][:2])
    assert store.delete_dataset_records(dataset.dataset_id, [*ids, "dr-unknown"]) == 2
    assert json.loads(datasets.get_dataset(dataset_id=dataset.dataset_id).profile) == {"num_records": 3}
    assert [
        inputs["n"] for inputs in datasets.get_dataset(dataset_id=dataset.dataset_id).to_df()["inputs"]
    ] == [2, 3, 4]


def test_search_pages_and_orders(genai, client):
    datasets, _ = genai
    for name in ("b", "c", "a"):
        datasets.create_dataset(name=name)
    first = client.search_datasets(max_results=2, order_by=["name ASC"])
    assert [d.name for d in first] == ["a", "b"] and first.token
    rest = client.search_datasets(max_results=2, order_by=["name ASC"], page_token=first.token)
    assert [d.name for d in rest] == ["c"] and not rest.token
    assert [d.name for d in client.search_datasets(order_by=["name DESC"])] == ["c", "b", "a"]


def test_tags_are_set_merged_and_deleted(genai):
    datasets, _ = genai
    dataset = datasets.create_dataset(name="tagged", tags={"stage": "dev", "owner": "ann"})
    datasets.set_dataset_tags(dataset_id=dataset.dataset_id, tags={"stage": "prod", "version": 2})
    datasets.delete_dataset_tag(dataset_id=dataset.dataset_id, key="owner")
    tags = datasets.get_dataset(dataset_id=dataset.dataset_id).tags
    assert tags["stage"] == "prod" and tags["version"] == "2" and "owner" not in tags


def test_a_dataset_joins_and_leaves_experiments_of_its_own_workspace_only(
    genai, client, tracking_uri, make_workspace
):
    from mlflow import MlflowClient

    datasets, store = genai
    first, second = client.create_experiment("one"), client.create_experiment("two")
    dataset = datasets.create_dataset(name="shared", experiment_id=[first])
    assert datasets.add_dataset_to_experiments(dataset.dataset_id, [second]).experiment_ids == [first, second]
    assert store.get_dataset_experiment_ids(dataset.dataset_id) == [first, second]
    assert datasets.remove_dataset_from_experiments(dataset.dataset_id, [first]).experiment_ids == [second]

    make_workspace("elsewhere")
    other = MlflowClient(f"{tracking_uri}/ws/elsewhere")
    # Experiment ids are numbered per workspace: take one that names nothing here.
    foreign = [other.create_experiment(f"theirs-{n}") for n in range(4)][-1]
    assert foreign not in ("0", first, second)
    code, status = error_of(
        lambda: datasets.add_dataset_to_experiments(dataset.dataset_id, [foreign, "987654"])
    )
    assert (code, status) == ("RESOURCE_DOES_NOT_EXIST", 404)
    # The answer for another workspace's experiment is the one for an experiment that never was.
    message = error_of_message(lambda: datasets.add_dataset_to_experiments(dataset.dataset_id, ["987654"]))
    assert message.replace("987654", foreign) == error_of_message(
        lambda: datasets.add_dataset_to_experiments(dataset.dataset_id, [foreign])
    )
    assert (
        error_of(lambda: datasets.create_dataset(name="x", experiment_id=[foreign]))[0]
        == "RESOURCE_DOES_NOT_EXIST"
    )
    # And the dataset itself is not found from the other workspace.
    assert error_of(lambda: other.get_dataset(dataset.dataset_id)) == ("RESOURCE_DOES_NOT_EXIST", 404)


def error_of_message(call) -> str:
    with pytest.raises(MlflowException) as excinfo:
        call()
    return excinfo.value.message


def test_missing_datasets_are_404_everywhere(genai, tracking_uri):
    datasets, store = genai
    missing = "d-0123456789abcdef0123456789abcdef"
    answer = requests.get(f"{tracking_uri}/api/3.0/mlflow/datasets/{missing}/records", timeout=10)
    assert answer.status_code == 404 and answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    for call in (
        lambda: datasets.get_dataset(dataset_id=missing),
        lambda: store.upsert_dataset_records(missing, [{"inputs": {"q": 1}}]),
        lambda: store._load_dataset_records(missing, max_results=10),
        lambda: store.set_dataset_tags(missing, {"a": "b"}),
        lambda: store.get_dataset_experiment_ids(missing),
        lambda: store.delete_dataset(missing),
    ):
        assert error_of(call) == ("RESOURCE_DOES_NOT_EXIST", 404)
    assert error_of(lambda: datasets.get_dataset(name="nothing-by-this-name"))[0] == "RESOURCE_DOES_NOT_EXIST"


def test_hostile_bodies_get_400_never_a_server_error(genai, tracking_uri):
    datasets, store = genai
    dataset = datasets.create_dataset(name="hostile")
    records_url = f"{tracking_uri}/api/3.0/mlflow/datasets/{dataset.dataset_id}/records"
    deep = "[" * 600 + "]" * 600
    for records in (
        "not json",
        "NaN",
        json.dumps({"inputs": {}}),  # not a list
        json.dumps([1, "two"]),
        json.dumps([{"inputs": "a string"}]),
        json.dumps([{"inputs": {"q": 1}, "expectations": [1]}]),
        json.dumps([{"inputs": {"q": 1}, "source": {"source_type": "ALIEN"}}]),
        json.dumps([{"inputs": {"q": 1}, "source": "trace"}]),
        f'[{{"inputs": {{"deep": {deep}}}}}]',
        '[{"inputs": {"q": "\\u0000"}}]',
    ):
        answer = requests.post(records_url, json={"records": records}, timeout=10)
        assert answer.status_code == 400, (records[:40], answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    for body in ({"records": 5}, {"records": ["a"]}, {}):
        answer = requests.post(records_url, json=body, timeout=10)
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    create = f"{tracking_uri}/api/3.0/mlflow/datasets/create"
    for body in ({"name": "x", "tags": "[1]"}, {"name": "x", "tags": "{"}, {"name": "x" * 300}, {"name": ""}):
        answer = requests.post(create, json=body, timeout=10)
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    search = f"{tracking_uri}/api/3.0/mlflow/datasets/search"
    for body in (
        {"filter_string": "name >> 'x'"},
        {"filter_string": "created_time > 'yesterday'"},
        {"filter_string": "params.x = 'a'"},
        {"order_by": ["digest"]},
        {"max_results": -1},
        {"page_token": "%%%"},
    ):
        answer = requests.post(search, json=body, timeout=10)
        assert answer.status_code == 400, (body, answer.text)
    answer = requests.get(records_url, params={"page_token": "bm9wZQ=="}, timeout=10)
    assert answer.status_code == 400
    assert store.get_dataset(dataset.dataset_id).profile is None  # nothing was written


def test_an_upsert_is_capped_with_a_clear_error(genai):
    datasets, _ = genai
    dataset = datasets.create_dataset(name="big")
    with pytest.raises(RestException) as excinfo:
        dataset.merge_records([{"inputs": {"n": n}} for n in range(10_001)])
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "at most 10000 records" in excinfo.value.message
    assert datasets.get_dataset(dataset_id=dataset.dataset_id).profile is None


@pytest.fixture
def signed_in(deployed_with_sign_in, team, personal_token, monkeypatch):
    """`use(persona, workspace)`: the client from now on speaks as that persona, with a token."""
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.delenv(name, raising=False)

    def use(persona: str, workspace=None) -> None:
        monkeypatch.setenv(
            "MLFLOW_TRACKING_TOKEN", personal_token(team.user(persona), workspace or team.workspace)
        )

    return use


def test_a_reader_reads_but_cannot_write_and_another_workspace_sees_nothing(
    signed_in, deployed_with_sign_in, team
):
    from mlflow import MlflowClient

    from tracking.access.models import Membership, Role

    team_a = MlflowClient(f"{deployed_with_sign_in.url}/ws/team-a")
    signed_in("contributor")
    dataset = team_a.create_dataset(name="owned")
    team_a.set_dataset_tags(dataset.dataset_id, {"k": "v"})

    signed_in("reader")
    assert team_a.get_dataset(dataset.dataset_id).name == "owned"
    assert [d.name for d in team_a.search_datasets()] == ["owned"]
    assert error_of(lambda: team_a.create_dataset(name="mine"))[0] == "PERMISSION_DENIED"
    assert error_of(lambda: team_a.set_dataset_tags(dataset.dataset_id, {"k": "w"}))[0] == "PERMISSION_DENIED"
    signed_in("contributor")
    assert error_of(lambda: team_a.delete_dataset(dataset.dataset_id))[0] == "PERMISSION_DENIED"

    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.OWNER)
    signed_in("outsider", team.other)
    team_b = MlflowClient(f"{deployed_with_sign_in.url}/ws/team-b")
    assert error_of(lambda: team_b.get_dataset(dataset.dataset_id)) == ("RESOURCE_DOES_NOT_EXIST", 404)
    assert list(team_b.search_datasets()) == []
    assert error_of(lambda: team_a.get_dataset(dataset.dataset_id))[0] == "RESOURCE_DOES_NOT_EXIST"
