"""MlflowClient's experiment calls behave as against `mlflow server`."""

from __future__ import annotations

import pytest
from mlflow.entities import ViewType
from mlflow.exceptions import MlflowException, RestException


def error_code(excinfo) -> str:
    return excinfo.value.error_code


def test_it_creates_and_reads_an_experiment_with_tags(client):
    experiment_id = client.create_experiment("first", tags={"team": "vision", "stage": "dev"})

    experiment = client.get_experiment(experiment_id)
    assert experiment.name == "first"
    assert experiment.tags == {"team": "vision", "stage": "dev"}
    assert experiment.lifecycle_stage == "active"
    assert experiment.artifact_location == f"mlflow-artifacts:/{experiment_id}"
    assert experiment.creation_time > 0
    assert client.get_experiment_by_name("first").experiment_id == experiment_id


def test_get_experiment_by_name_gives_none_for_an_unknown_name(client):
    assert client.get_experiment_by_name("nobody") is None


def test_set_experiment_creates_once_and_then_reuses(fluent):
    first = fluent.set_experiment("reused")
    second = fluent.set_experiment("reused")
    assert first.experiment_id == second.experiment_id


def test_it_refuses_a_duplicate_name_also_of_a_deleted_experiment(client):
    experiment_id = client.create_experiment("dup")
    with pytest.raises(RestException) as excinfo:
        client.create_experiment("dup")
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"

    client.delete_experiment(experiment_id)
    with pytest.raises(RestException) as excinfo:
        client.create_experiment("dup")
    assert error_code(excinfo) == "RESOURCE_ALREADY_EXISTS"


def test_it_renames_deletes_and_restores(client):
    experiment_id = client.create_experiment("old-name")
    client.rename_experiment(experiment_id, "new-name")
    assert client.get_experiment(experiment_id).name == "new-name"

    run = client.create_run(experiment_id)
    client.delete_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "deleted"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(RestException) as excinfo:
        client.delete_experiment(experiment_id)
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"

    client.restore_experiment(experiment_id)
    assert client.get_experiment(experiment_id).lifecycle_stage == "active"
    assert client.get_run(run.info.run_id).info.lifecycle_stage == "active"


def test_it_refuses_to_create_runs_in_a_deleted_experiment(client):
    experiment_id = client.create_experiment("gone")
    client.delete_experiment(experiment_id)
    with pytest.raises(RestException) as excinfo:
        client.create_run(experiment_id)
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_it_sets_and_deletes_experiment_tags(client):
    experiment_id = client.create_experiment("tagged")
    client.set_experiment_tag(experiment_id, "owner", "ana")
    client.set_experiment_tag(experiment_id, "owner", "bo")
    assert client.get_experiment(experiment_id).tags == {"owner": "bo"}

    client.delete_experiment_tag(experiment_id, "owner")
    assert client.get_experiment(experiment_id).tags == {}
    with pytest.raises(RestException) as excinfo:
        client.delete_experiment_tag(experiment_id, "owner")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"


def test_it_searches_experiments_by_name_tag_and_view_type(client):
    for name in ("alpha-cnn", "beta-cnn", "gamma-rnn"):
        client.create_experiment(name, tags={"arch": name.split("-")[1]})
    client.delete_experiment(client.get_experiment_by_name("beta-cnn").experiment_id)

    names = [e.name for e in client.search_experiments(filter_string="name LIKE '%cnn'")]
    assert names == ["alpha-cnn"]
    names = {e.name for e in client.search_experiments(filter_string="tags.arch = 'rnn'")}
    assert names == {"gamma-rnn"}
    names = {e.name for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)}
    assert names == {"beta-cnn"}
    names = [
        e.name
        for e in client.search_experiments(
            view_type=ViewType.ALL, filter_string="name ILIKE '%CNN'", order_by=["name DESC"]
        )
    ]
    assert names == ["beta-cnn", "alpha-cnn"]


def test_it_pages_through_experiments(client):
    for index in range(7):
        client.create_experiment(f"paged-{index}")
    seen, token = [], None
    while True:
        page = client.search_experiments(max_results=3, page_token=token, filter_string="name LIKE 'paged-%'")
        seen += [e.name for e in page]
        token = page.token
        if not token:
            break
    assert sorted(seen) == [f"paged-{i}" for i in range(7)]


def test_unknown_experiment_ids_are_not_found_or_invalid(client):
    with pytest.raises(RestException) as excinfo:
        client.get_experiment("987654")
    assert error_code(excinfo) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(MlflowException) as excinfo:
        client.get_experiment("not-a-number")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"


def test_a_bad_experiment_filter_is_an_invalid_parameter(client):
    with pytest.raises(RestException) as excinfo:
        client.search_experiments(filter_string="name = 'a' OR")
    assert error_code(excinfo) == "INVALID_PARAMETER_VALUE"
