"""The registry RPCs over HTTP: MLflow's JSON shapes, its error codes and its quirks."""

from __future__ import annotations

import base64
import json

import pytest

from registry.models import ModelVersion, RegisteredModel

from ..conftest import write_files

API = "/api/2.0/mlflow"


@pytest.fixture
def call(client, workspace):
    def send(method: str, path: str, body: dict | None = None, expect: int = 200) -> dict:
        url = f"{API}/{path}"
        if method == "GET":
            response = client.get(url, body or {})
        else:
            response = getattr(client, method.lower())(
                url, data=json.dumps(body or {}), content_type="application/json"
            )
        assert response.status_code == expect, response.content
        assert response["Content-Type"] == "application/json"
        return response.json()

    return send


def error(call, method: str, path: str, body: dict, status: int, code: str) -> str:
    answer = call(method, path, body, expect=status)
    assert set(answer) == {"error_code", "message"}
    assert answer["error_code"] == code
    return answer["message"]


@pytest.fixture
def version(call, workspace, run, model_source) -> dict:
    call("POST", "registered-models/create", {"name": "shaped"})
    return call(
        "POST", "model-versions/create", {"name": "shaped", "source": model_source, "run_id": run.uuid}
    )


def test_a_new_registered_model_has_only_its_name_and_times(call):
    model = call("POST", "registered-models/create", {"name": "plain"})["registered_model"]
    assert set(model) == {"name", "creation_timestamp", "last_updated_timestamp"}
    assert model["name"] == "plain"
    assert model["creation_timestamp"] == model["last_updated_timestamp"]


def test_description_and_tags_are_shown_when_set(call):
    body = {"name": "described", "description": "hello", "tags": [{"key": "k", "value": "v"}]}
    model = call("POST", "registered-models/create", body)["registered_model"]
    assert model["description"] == "hello"
    assert model["tags"] == [{"key": "k", "value": "v"}]


def test_a_version_is_shaped_as_mlflow_writes_it_without_model_id(version, run, model_source):
    answer = version["model_version"]
    assert list(answer) == [
        "name",
        "version",
        "creation_timestamp",
        "last_updated_timestamp",
        "current_stage",
        "description",
        "source",
        "run_id",
        "status",
        "run_link",
    ]
    assert answer["version"] == "1"
    assert (answer["current_stage"], answer["status"], answer["description"]) == ("None", "READY", "")
    assert (answer["source"], answer["run_id"]) == (model_source, run.uuid)


def test_a_registered_model_lists_its_latest_versions_and_aliases(call, version, run, model_source):
    call("POST", "model-versions/create", {"name": "shaped", "source": model_source, "run_id": run.uuid})
    call(
        "POST",
        "model-versions/transition-stage",
        {"name": "shaped", "version": "1", "stage": "Staging", "archive_existing_versions": False},
    )
    call("POST", "registered-models/alias", {"name": "shaped", "alias": "champion", "version": "1"})
    model = call("GET", "registered-models/get", {"name": "shaped"})["registered_model"]
    assert [(v["version"], v["current_stage"]) for v in model["latest_versions"]] == [
        ("1", "Staging"),
        ("2", "None"),
    ]
    assert model["aliases"] == [{"alias": "champion", "version": "1"}]
    by_alias = call("GET", "registered-models/alias", {"name": "shaped", "alias": "champion"})[
        "model_version"
    ]
    assert by_alias["aliases"] == ["champion"]


def test_get_latest_versions_reads_stages_from_a_repeated_query_parameter(
    client, call, version, run, model_source
):
    call("POST", "model-versions/create", {"name": "shaped", "source": model_source, "run_id": run.uuid})
    call(
        "POST",
        "model-versions/transition-stage",
        {"name": "shaped", "version": "1", "stage": "production", "archive_existing_versions": False},
    )
    response = client.get(
        f"{API}/registered-models/get-latest-versions?name=shaped&stages=None&stages=Production"
    )
    assert [v["version"] for v in response.json()["model_versions"]] == ["1", "2"]
    assert call("GET", "registered-models/get-latest-versions", {"name": "shaped", "stages": "Staging"}) == {}


def test_the_download_uri_is_where_the_files_are(call, version, model_source):
    assert call("GET", "model-versions/get-download-uri", {"name": "shaped", "version": "1"}) == {
        "artifact_uri": model_source
    }


def test_a_broken_model_folder_answers_200_with_failed_registration(call, workspace, run):
    source = write_files(workspace, f"{run.artifact_uri}/broken", {"MLmodel": "flavors: [oops"})
    call("POST", "registered-models/create", {"name": "broken"})
    answer = call("POST", "model-versions/create", {"name": "broken", "source": source, "run_id": run.uuid})
    assert answer["model_version"]["status"] == "FAILED_REGISTRATION"
    assert "not valid YAML" in answer["model_version"]["status_message"]
    assert source in answer["model_version"]["status_message"]


def test_unknown_models_and_versions_are_404(call, version):
    error(call, "GET", "registered-models/get", {"name": "nobody"}, 404, "RESOURCE_DOES_NOT_EXIST")
    error(
        call, "GET", "model-versions/get", {"name": "shaped", "version": "9"}, 404, "RESOURCE_DOES_NOT_EXIST"
    )
    error(
        call,
        "GET",
        "model-versions/get",
        {"name": "shaped", "version": "99999999999999999999"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        call,
        "DELETE",
        "registered-models/delete-tag",
        {"name": "nobody", "key": "k"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        call,
        "DELETE",
        "registered-models/alias",
        {"name": "nobody", "alias": "a"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        call,
        "GET",
        "registered-models/alias",
        {"name": "nobody", "alias": "a"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        call,
        "POST",
        "registered-models/alias",
        {"name": "shaped", "alias": "a", "version": "7"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    error(
        call,
        "GET",
        "model-versions/get-download-uri",
        {"name": "shaped", "version": "7"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    message = error(
        call,
        "POST",
        "model-versions/create",
        {"name": "nobody", "source": "s3://b/m"},
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert message == "Registered Model with name=nobody not found"


def test_an_unknown_alias_is_400_as_in_mlflow(call, version):
    message = error(
        call,
        "GET",
        "registered-models/alias",
        {"name": "shaped", "alias": "ghost"},
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert message == "Registered model alias ghost not found."


def test_deleting_an_unknown_tag_or_alias_is_200_and_empty(call, version):
    assert call("DELETE", "registered-models/delete-tag", {"name": "shaped", "key": "never"}) == {}
    assert call("DELETE", "registered-models/alias", {"name": "shaped", "alias": "never"}) == {}
    assert (
        call("DELETE", "model-versions/delete-tag", {"name": "shaped", "version": "1", "key": "never"}) == {}
    )


def test_bad_input_is_400_invalid_parameter_value(call, version):
    cases = [
        ("POST", "registered-models/create", {"name": "a:b"}),
        ("POST", "registered-models/create", {"name": "x" * 257}),
        ("POST", "registered-models/create", {"name": "x", "description": 5}),
        ("GET", "model-versions/get", {"name": "shaped", "version": "one"}),
        ("POST", "registered-models/rename", {"name": "shaped"}),
        ("POST", "registered-models/alias", {"name": "shaped", "alias": "a b", "version": "1"}),
        ("POST", "registered-models/alias", {"name": "shaped", "alias": "a" * 256, "version": "1"}),
        ("POST", "registered-models/alias", {"name": "shaped", "alias": "Latest", "version": "1"}),
        (
            "POST",
            "model-versions/transition-stage",
            {"name": "shaped", "version": "1", "stage": "Shipped", "archive_existing_versions": False},
        ),
        (
            "POST",
            "model-versions/transition-stage",
            {"name": "shaped", "version": "1", "stage": "Archived", "archive_existing_versions": True},
        ),
        ("POST", "registered-models/get-latest-versions", {"name": "shaped", "stages": ["Shipped"]}),
        ("GET", "registered-models/search", {"max_results": 1001}),
        ("GET", "registered-models/search", {"filter": "creation_timestamp > 1"}),
        ("GET", "registered-models/search", {"order_by": "bogus"}),
        ("GET", "model-versions/search", {"page_token": "garbage"}),
        ("GET", "model-versions/search", {"max_results": 0}),
        ("GET", "model-versions/search", {"filter": "tags.x IS NULL"}),
        ("GET", "model-versions/search", {"filter": "version_number = 'one'"}),
        # PostgreSQL cannot hold NUL in text: refused before any query, on both databases.
        ("POST", "registered-models/create", {"name": "nul\x00name"}),
        ("GET", "registered-models/get", {"name": "nul\x00name"}),
        ("POST", "registered-models/set-tag", {"name": "shaped", "key": "k", "value": "nul\x00"}),
        ("GET", "model-versions/search", {"filter": "run_id = 'nul\x00'"}),
    ]
    for method, path, body in cases:
        error(call, method, path, body, 400, "INVALID_PARAMETER_VALUE")
    assert list(RegisteredModel.objects.values_list("name", flat=True)) == ["shaped"]
    assert ModelVersion.objects.get().current_stage == "None"


def test_a_huge_version_number_in_a_filter_finds_nothing(call, version):
    assert call("GET", "model-versions/search", {"filter": "version_number = 99999999999999999999"}) == {}
    assert (
        len(
            call("GET", "model-versions/search", {"filter": "version_number < 99999999999999999999"})[
                "model_versions"
            ]
        )
        == 1
    )


def test_a_page_token_past_the_end_answers_an_empty_page(call, version):
    token = base64.b64encode(json.dumps({"offset": 10**30}).encode()).decode()
    assert call("GET", "model-versions/search", {"page_token": token}) == {}
    assert call("GET", "registered-models/search", {"page_token": token}) == {}


def test_prompts_are_left_out_of_searches_unless_asked_for(call, version):
    prompt_tag = {"key": "mlflow.prompt.is_prompt", "value": "true"}
    call("POST", "registered-models/create", {"name": "greeting", "tags": [prompt_tag]})
    created = call(
        "POST",
        "model-versions/create",
        {"name": "greeting", "source": "dummy-source", "tags": [prompt_tag]},
    )
    assert created["model_version"]["status"] == "READY"
    client_filter = "tag.`mlflow.prompt.is_prompt` != 'true'"
    found = call("GET", "registered-models/search", {"filter": client_filter})["registered_models"]
    assert [model["name"] for model in found] == ["shaped"]
    found = call("GET", "registered-models/search", {"filter": "tags.`mlflow.prompt.is_prompt` = 'true'"})
    assert [model["name"] for model in found["registered_models"]] == ["greeting"]
    assert [v["name"] for v in call("GET", "model-versions/search", {})["model_versions"]] == ["shaped"]


def test_a_prompt_version_needs_a_placeholder_source(call):
    prompt_tag = {"key": "mlflow.prompt.is_prompt", "value": "true"}
    call("POST", "registered-models/create", {"name": "greeting", "tags": [prompt_tag]})
    body = {"name": "greeting", "source": "s3://bucket/x", "tags": [prompt_tag]}
    error(call, "POST", "model-versions/create", body, 400, "INVALID_PARAMETER_VALUE")


def test_rename_moves_the_versions_with_the_model(call, version):
    renamed = call("POST", "registered-models/rename", {"name": "shaped", "new_name": "reshaped"})
    assert renamed["registered_model"]["name"] == "reshaped"
    assert (
        call("GET", "model-versions/get", {"name": "reshaped", "version": "1"})["model_version"]["name"]
        == "reshaped"
    )
    error(
        call, "GET", "model-versions/get", {"name": "shaped", "version": "1"}, 404, "RESOURCE_DOES_NOT_EXIST"
    )


def test_update_without_a_description_clears_it_as_mlflow_does(call, version):
    call("PATCH", "model-versions/update", {"name": "shaped", "version": "1", "description": "d"})
    cleared = call("PATCH", "model-versions/update", {"name": "shaped", "version": "1"})
    assert cleared["model_version"]["description"] == ""
    call("PATCH", "registered-models/update", {"name": "shaped", "description": "rm"})
    assert (
        "description" not in call("PATCH", "registered-models/update", {"name": "shaped"})["registered_model"]
    )


def test_the_workspace_path_prefix_scopes_every_registry_call(client, call, version, make_workspace):
    make_workspace("team-b")
    response = client.get("/ws/team-b/api/2.0/mlflow/registered-models/get", {"name": "shaped"})
    assert response.status_code == 404
    response = client.get("/ws/team-b/api/2.0/mlflow/model-versions/search")
    assert response.json() == {}


def test_the_answer_to_creating_a_version_is_what_reading_it_answers(call, run, model_source):
    call("POST", "registered-models/create", {"name": "echoed"})
    tags = [{"key": "z", "value": "last"}, {"key": "a", "value": "first"}, {"key": "z", "value": "wins"}]
    body = {"name": "echoed", "source": model_source, "run_id": run.uuid, "tags": tags}
    created = call("POST", "model-versions/create", body)["model_version"]
    assert created["tags"] == [{"key": "a", "value": "first"}, {"key": "z", "value": "wins"}]
    assert created == call("GET", "model-versions/get", {"name": "echoed", "version": "1"})["model_version"]


def test_the_answer_to_creating_a_model_is_what_reading_it_answers(call):
    tags = [{"key": "team", "value": "b"}, {"key": "area", "value": "vision"}]
    body = {"name": "echoed", "description": "why", "tags": tags}
    created = call("POST", "registered-models/create", body)["registered_model"]
    assert created == call("GET", "registered-models/get", {"name": "echoed"})["registered_model"]


def test_creating_a_model_under_a_taken_name_changes_nothing(call):
    call("POST", "registered-models/create", {"name": "taken", "description": "first"})
    message = error(
        call, "POST", "registered-models/create", {"name": "taken"}, 400, "RESOURCE_ALREADY_EXISTS"
    )
    assert message == "Registered Model (name=taken) already exists."
    assert (
        call("GET", "registered-models/get", {"name": "taken"})["registered_model"]["description"] == "first"
    )
