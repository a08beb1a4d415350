"""Registry list and look-up endpoints cost a fixed number of queries, whatever the size of the answer."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from registry.services.model_versions import (
    create_model_version,
    set_model_version_tag,
    transition_model_version_stage,
)
from registry.services.registered_models import (
    create_registered_model,
    set_registered_model_alias,
)

from ..conftest import write_files


@pytest.fixture
def populate(workspace, run):
    source = write_files(workspace, f"{run.artifact_uri}/model", {"MLmodel": "flavors: {}\n"})

    def make(models: int, versions: int) -> None:
        for i in range(models):
            model = create_registered_model(workspace=workspace, name=f"model-{i:03d}", tags=[("team", "a")])
            for _ in range(versions):
                version = create_model_version(
                    workspace=workspace, model=model, source=source, run_id=run.uuid
                )
                set_model_version_tag(version=version, key="checked", value="yes")
            transition_model_version_stage(version=version, stage="Production")
            set_registered_model_alias(model=model, alias="champion", version="1")

    return make


def get(client, path: str, params: dict):
    response = client.get(f"/api/2.0/mlflow/{path}", params)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize(("models", "versions"), [(2, 2), (20, 10)])
def test_search_model_versions_costs_the_same_queries_for_4_or_200_versions(
    client, populate, models, versions, django_assert_max_num_queries
):
    populate(models, versions)
    params = {"filter": "name LIKE 'model-%' AND tags.checked = 'yes'", "max_results": 1000}
    # Rows, then their tags and aliases (and the workspace, when its cache is cold).
    with django_assert_max_num_queries(3):
        body = get(client, "model-versions/search", params)
    assert len(body["model_versions"]) == models * versions
    assert all(version["tags"] == [{"key": "checked", "value": "yes"}] for version in body["model_versions"])
    assert sum("aliases" in version for version in body["model_versions"]) == models


@pytest.mark.parametrize(("models", "versions"), [(2, 2), (20, 10)])
def test_search_registered_models_costs_the_same_queries_for_2_or_20_models(
    client, populate, models, versions, django_assert_max_num_queries
):
    populate(models, versions)
    # Rows, their latest versions, then everyone's tags and aliases (and the workspace).
    with django_assert_max_num_queries(4):
        body = get(client, "registered-models/search", {"filter": "tags.team = 'a'", "max_results": 100})
    found = body["registered_models"]
    assert len(found) == models
    assert all(model["aliases"] == [{"alias": "champion", "version": "1"}] for model in found)
    assert all(
        sorted((v["version"], v["current_stage"]) for v in model["latest_versions"])
        == sorted([(str(versions - 1), "None"), (str(versions), "Production")])
        for model in found
    )


@pytest.mark.parametrize(("models", "versions"), [(2, 2), (20, 10)])
def test_get_latest_versions_and_alias_look_ups_cost_a_few_queries(
    client, populate, models, versions, django_assert_max_num_queries
):
    populate(models, versions)
    with django_assert_max_num_queries(3):
        body = get(client, "registered-models/get-latest-versions", {"name": "model-001"})
    assert [v["version"] for v in body["model_versions"]] == [str(versions - 1), str(versions)]
    with django_assert_max_num_queries(3):
        response = client.post(
            "/api/2.0/mlflow/registered-models/get-latest-versions",
            data=json.dumps({"name": "model-001", "stages": ["production"]}),
            content_type="application/json",
        )
    assert [v["version"] for v in response.json()["model_versions"]] == [str(versions)]
    with django_assert_max_num_queries(3):
        body = get(client, "registered-models/alias", {"name": "model-001", "alias": "champion"})
    assert body["model_version"]["version"] == "1"
    with django_assert_max_num_queries(3):
        model = get(client, "registered-models/get", {"name": "model-001"})["registered_model"]
    assert [v["version"] for v in model["latest_versions"]] == [str(versions - 1), str(versions)]
    with django_assert_max_num_queries(3):
        get(client, "model-versions/get", {"name": "model-001", "version": "1"})


def test_one_version_by_number_or_alias_is_one_query_with_its_tags_and_aliases_sorted(
    client, workspace, run, django_assert_num_queries
):
    source = write_files(workspace, f"{run.artifact_uri}/model", {"MLmodel": "flavors: {}\n"})
    model = create_registered_model(workspace=workspace, name="one")
    version = create_model_version(workspace=workspace, model=model, source=source, run_id=run.uuid)
    bare = create_model_version(workspace=workspace, model=model, source=source, run_id=run.uuid)
    for key in ("zeta", "alpha", "mid"):
        set_model_version_tag(version=version, key=key, value=key.upper())
    for alias in ("prod", "champion"):
        set_registered_model_alias(model=model, alias=alias, version=str(version.version))
    get(client, "model-versions/get", {"name": "one", "version": "1"})  # the workspace is cached now
    tags = [
        {"key": "alpha", "value": "ALPHA"},
        {"key": "mid", "value": "MID"},
        {"key": "zeta", "value": "ZETA"},
    ]

    for path, params in (
        ("model-versions/get", {"name": "one", "version": "1"}),
        ("registered-models/alias", {"name": "one", "alias": "prod"}),
    ):
        with django_assert_num_queries(1):
            found = get(client, path, params)["model_version"]
        assert (found["version"], found["tags"], found["aliases"]) == ("1", tags, ["champion", "prod"])
    # The latest version, which has neither tags nor aliases: its row beside one row of NULLs.
    with django_assert_num_queries(1):
        latest = get(client, "registered-models/alias", {"name": "one", "alias": "latest"})["model_version"]
    assert latest["version"] == str(bare.version) and "tags" not in latest and "aliases" not in latest
    # The latest version per stage: each beside its own tags and aliases.
    transition_model_version_stage(version=version, stage="Production")
    with django_assert_num_queries(1):
        per_stage = get(client, "registered-models/get-latest-versions", {"name": "one"})["model_versions"]
    assert [(v["version"], v["current_stage"]) for v in per_stage] == [("1", "Production"), ("2", "None")]
    assert (per_stage[0]["tags"], per_stage[0]["aliases"]) == (tags, ["champion", "prod"])
    assert "tags" not in per_stage[1] and "aliases" not in per_stage[1]


def test_a_registered_model_by_name_is_one_query_with_its_tags_aliases_and_latest_versions(
    client, workspace, run, django_assert_num_queries
):
    source = write_files(workspace, f"{run.artifact_uri}/model", {"MLmodel": "flavors: {}\n"})
    bare = create_registered_model(workspace=workspace, name="bare")
    get(client, "registered-models/get", {"name": "bare"})  # the workspace is cached now
    with django_assert_num_queries(1):
        found = get(client, "registered-models/get", {"name": "bare"})["registered_model"]
    assert found["name"] == bare.name and not {"tags", "aliases", "latest_versions"} & set(found)

    model = create_registered_model(workspace=workspace, name="full", tags=[("team", "a"), ("area", "b")])
    versions = [
        create_model_version(workspace=workspace, model=model, source=source, run_id=run.uuid)
        for _ in range(3)
    ]
    transition_model_version_stage(version=versions[0], stage="Production")
    for key in ("zeta", "alpha"):
        set_model_version_tag(version=versions[0], key=key, value=key.upper())
    set_model_version_tag(version=versions[1], key="old", value="1")  # not a latest version
    for alias, version in (("prod", "1"), ("champion", "1"), ("next", "3"), ("previous", "2")):
        set_registered_model_alias(model=model, alias=alias, version=version)

    with django_assert_num_queries(1):
        found = get(client, "registered-models/get", {"name": "full"})["registered_model"]
    assert found["tags"] == [{"key": "area", "value": "b"}, {"key": "team", "value": "a"}]
    assert found["aliases"] == [
        {"alias": "champion", "version": "1"},
        {"alias": "next", "version": "3"},
        {"alias": "previous", "version": "2"},
        {"alias": "prod", "version": "1"},
    ]
    latest = [
        (v["version"], v["current_stage"], v.get("tags"), v.get("aliases")) for v in found["latest_versions"]
    ]
    assert latest == [
        (
            "1",
            "Production",
            [{"key": "alpha", "value": "ALPHA"}, {"key": "zeta", "value": "ZETA"}],
            ["champion", "prod"],
        ),
        ("3", "None", None, ["next"]),
    ]


def post(client, path: str, body: dict) -> dict:
    response = client.post(f"/api/2.0/mlflow/{path}", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()


def test_creating_a_registered_model_costs_one_look_up_and_one_insert_per_table(
    client, workspace, django_assert_max_num_queries
):
    post(client, "registered-models/create", {"name": "warm-up"})  # the workspace is cached now
    # The name's look-up, the model, its tags, and the savepoint pair of the transaction; no read back.
    with django_assert_max_num_queries(5):
        body = post(
            client,
            "registered-models/create",
            {"name": "counted", "tags": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]},
        )
    assert body["registered_model"]["name"] == "counted"
    assert body["registered_model"]["tags"] == [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]


@pytest.mark.parametrize("tags", [[], [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]])
def test_creating_a_model_version_costs_the_same_few_queries_for_the_first_or_the_hundredth(
    client, workspace, run, tags, django_assert_num_queries
):
    source = write_files(workspace, f"{run.artifact_uri}/model", {"MLmodel": "flavors: {}\n"})
    post(client, "registered-models/create", {"name": "counted"})
    body = {"name": "counted", "source": source, "run_id": run.uuid, "tags": tags}
    for _ in range(99):
        post(client, "model-versions/create", body)
    # The model, the run, then on PostgreSQL one statement (the next number, the version's row and
    # its tags), no transaction; elsewhere the next number (UPDATE ... RETURNING), the version's
    # row, its tags when it has some, and the savepoint pair of the transaction. The answer is not
    # read back.
    expected = 3 if connection.vendor == "postgresql" else 6 + bool(tags)
    with django_assert_num_queries(expected):
        answer = post(client, "model-versions/create", body)["model_version"]
    assert (answer["version"], answer["status"], answer["source"]) == ("100", "READY", source)
    assert answer.get("tags", []) == sorted(tags, key=lambda tag: tag["key"])
    assert "aliases" not in answer
