"""Registered scorers (MLflow 3 GenAI) through the real client: mlflow.genai.scorers."""

from __future__ import annotations

import json

import pytest
import requests
from mlflow.exceptions import MlflowException


@pytest.fixture
def scorers(fluent):
    from mlflow.genai import scorers

    return scorers


def list_scorer_versions(**arguments):
    from mlflow.genai.scorers.registry import list_scorer_versions

    return list_scorer_versions(**arguments)


def error_code(call) -> str:
    with pytest.raises(MlflowException) as excinfo:
        call()
    return excinfo.value.error_code


def test_a_builtin_scorer_registers_versions_lists_gets_and_deletes(scorers, client):
    from mlflow.tracking._tracking_service.utils import _get_store

    experiment_id = client.create_experiment("judged")
    polite = scorers.Guidelines(name="polite", guidelines=["Be polite."])
    polite.register(experiment_id=experiment_id)
    scorers.Guidelines(name="polite", guidelines=["Be polite and brief."]).register(
        experiment_id=experiment_id
    )
    scorers.RelevanceToQuery().register(experiment_id=experiment_id)

    assert [s.name for s in scorers.list_scorers(experiment_id=experiment_id)] == [
        "polite",
        "relevance_to_query",
    ]
    assert scorers.get_scorer(name="polite", experiment_id=experiment_id).guidelines == [
        "Be polite and brief."
    ]
    assert scorers.get_scorer(name="polite", experiment_id=experiment_id, version=1).guidelines == [
        "Be polite."
    ]
    versions = list_scorer_versions(name="polite", experiment_id=experiment_id)
    assert [version for _, version in versions] == [1, 2]
    stored = _get_store().get_scorer(experiment_id, "polite")
    assert stored.scorer_version == 2 and json.loads(stored._serialized_scorer)["name"] == "polite"
    assert str(stored.experiment_id) == experiment_id

    scorers.delete_scorer(name="polite", experiment_id=experiment_id, version=1)
    assert [v for _, v in list_scorer_versions(name="polite", experiment_id=experiment_id)] == [2]
    scorers.delete_scorer(name="polite", experiment_id=experiment_id, version="all")
    assert error_code(lambda: scorers.get_scorer(name="polite", experiment_id=experiment_id)) == (
        "RESOURCE_DOES_NOT_EXIST"
    )
    assert [s.name for s in scorers.list_scorers(experiment_id=experiment_id)] == ["relevance_to_query"]
    # A name registered again after its versions are gone starts over at 1.
    polite.register(experiment_id=experiment_id)
    assert [v for _, v in list_scorer_versions(name="polite", experiment_id=experiment_id)] == [1]


def test_an_at_scorer_function_is_stored_as_data_and_comes_back(scorers, client, monkeypatch):
    # The client itself only rebuilds an @scorer from its source when told it may run that code.
    monkeypatch.setenv("MLFLOW_SERVER_ENABLE_CUSTOM_SCORERS", "true")
    experiment_id = client.create_experiment("custom")

    @scorers.scorer
    def exact_match(outputs, expectations):
        return outputs == expectations["answer"]

    exact_match.register(experiment_id=experiment_id)
    again = scorers.get_scorer(name="exact_match", experiment_id=experiment_id)
    assert again(outputs="4", expectations={"answer": "4"}) is True


def test_scorers_are_listed_across_experiments_and_versions_are_per_experiment(client, fluent):
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store()
    first, second = client.create_experiment("a"), client.create_experiment("b")
    payload = json.dumps({"name": "judge", "builtin_scorer_class": "Safety"})
    assert store.register_scorer(first, "judge", payload).scorer_version == 1
    assert store.register_scorer(first, "judge", payload).scorer_version == 2
    assert store.register_scorer(second, "judge", payload).scorer_version == 1
    listed = requests.get(f"{fluent.get_tracking_uri()}/api/3.0/mlflow/scorers/list", timeout=10).json()[
        "scorers"
    ]
    assert [(s["experiment_id"], s["scorer_version"]) for s in listed] == [(int(first), 2), (int(second), 1)]
    both = requests.get(
        f"{fluent.get_tracking_uri()}/api/3.0/mlflow/scorers/list",
        params=[("experiment_ids", second), ("experiment_ids", "424242")],
        timeout=10,
    ).json()["scorers"]
    assert [s["experiment_id"] for s in both] == [int(second)]


def test_bad_scorer_requests_get_400_or_404(client, fluent):
    from mlflow.tracking._tracking_service.utils import _get_store

    store = _get_store()
    experiment_id = client.create_experiment("errors")
    assert (
        error_code(lambda: store.register_scorer(experiment_id, "x", "not json")) == "INVALID_PARAMETER_VALUE"
    )
    assert (
        error_code(lambda: store.register_scorer(experiment_id, "x", "[1, 2]")) == "INVALID_PARAMETER_VALUE"
    )
    assert error_code(lambda: store.register_scorer(experiment_id, "  ", "{}")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: store.register_scorer("424242", "x", "{}")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: store.register_scorer("not-a-number", "x", "{}")) == "INVALID_PARAMETER_VALUE"
    assert error_code(lambda: store.get_scorer(experiment_id, "missing")) == "RESOURCE_DOES_NOT_EXIST"
    store.register_scorer(experiment_id, "x", "{}")
    assert error_code(lambda: store.get_scorer(experiment_id, "x", version=7)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: store.delete_scorer(experiment_id, "x", version=7)) == "RESOURCE_DOES_NOT_EXIST"
    assert (
        error_code(lambda: store.list_scorer_versions(experiment_id, "missing")) == "RESOURCE_DOES_NOT_EXIST"
    )
    client.delete_experiment(experiment_id)
    assert error_code(lambda: store.register_scorer(experiment_id, "x", "{}")) == "INVALID_PARAMETER_VALUE"

    base = f"{fluent.get_tracking_uri()}/api/3.0/mlflow/scorers"
    for answer in (
        requests.get(f"{base}/get", params={"experiment_id": "0"}, timeout=10),
        requests.get(f"{base}/get", params={"name": "x"}, timeout=10),
        requests.get(f"{base}/get", params={"experiment_id": "0", "name": "x", "version": "one"}, timeout=10),
        requests.get(f"{base}/list", params={"experiment_id": "0", "experiment_ids": "0"}, timeout=10),
        requests.post(f"{base}/register", json={"experiment_id": "0", "name": "x"}, timeout=10),
        requests.post(
            f"{base}/register",
            json={"experiment_id": "0", "name": ["x"], "serialized_scorer": "{}"},
            timeout=10,
        ),
    ):
        assert answer.status_code == 400, answer.text
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_reader_lists_scorers_but_cannot_register_and_an_outsider_sees_none(
    deployed_with_sign_in, team, personal_token, monkeypatch
):
    from mlflow import MlflowClient
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    from tracking.access.models import Membership, Role

    def store_as(persona: str, workspace) -> RestStore:
        token = personal_token(team.user(persona), workspace)
        uri = f"{deployed_with_sign_in.url}/ws/{workspace.name}"
        return RestStore(lambda: MlflowHostCreds(uri, token=token))

    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", personal_token(team.contributor, team.workspace))
    experiment_id = MlflowClient(f"{deployed_with_sign_in.url}/ws/team-a").create_experiment("judged")
    store_as("contributor", team.workspace).register_scorer(experiment_id, "judge", '{"name": "judge"}')

    reader = store_as("reader", team.workspace)
    assert [s.scorer_name for s in reader.list_scorers(experiment_id)] == ["judge"]
    assert error_code(lambda: reader.register_scorer(experiment_id, "mine", "{}")) == "PERMISSION_DENIED"
    contributor = store_as("contributor", team.workspace)
    assert error_code(lambda: contributor.delete_scorer(experiment_id, "judge")) == "PERMISSION_DENIED"

    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.OWNER)
    outsider = store_as("outsider", team.other)
    assert error_code(lambda: outsider.get_scorer(experiment_id, "judge")) == "RESOURCE_DOES_NOT_EXIST"
    assert experiment_id != "0"  # so no experiment of team-b has its id
    assert error_code(lambda: outsider.list_scorers(experiment_id)) == "RESOURCE_DOES_NOT_EXIST"

    judge_id = contributor.register_scorer(experiment_id, "gated", GATEWAY_JUDGE).scorer_id
    contributor.upsert_online_scoring_config(
        experiment_id=experiment_id, scorer_name="gated", sample_rate=0.5
    )
    assert [c.sample_rate for c in reader.get_online_scoring_configs([judge_id])] == [0.5]
    assert (
        error_code(
            lambda: reader.upsert_online_scoring_config(
                experiment_id=experiment_id, scorer_name="gated", sample_rate=1.0
            )
        )
        == "PERMISSION_DENIED"
    )
    assert outsider.get_online_scoring_configs([judge_id]) == []


GATEWAY_JUDGE = json.dumps({"instructions_judge_pydantic_data": {"model": "gateway:/judge-endpoint"}})


def test_a_scorer_s_online_config_is_set_replaced_and_read_back(client):
    """The share of traces a scorer judges as they arrive, and which: one configuration per
    scorer, replaced by each upsert; a filter left out is null (the UI sends None when blank)."""
    store = client._tracking_client.store
    experiment_id = client.create_experiment("online")
    scorer_id = store.register_scorer(experiment_id, "judge", GATEWAY_JUDGE).scorer_id
    other_id = store.register_scorer(experiment_id, "idle", GATEWAY_JUDGE).scorer_id

    first = store.upsert_online_scoring_config(
        experiment_id=experiment_id, scorer_name="judge", sample_rate=0.5
    )
    replaced = store.upsert_online_scoring_config(
        experiment_id=experiment_id, scorer_name="judge", sample_rate=0.8, filter_string="status = 'OK'"
    )

    assert (first.scorer_id, first.sample_rate, first.filter_string, first.experiment_id) == (
        scorer_id,
        0.5,
        None,
        experiment_id,
    )
    assert (replaced.sample_rate, replaced.filter_string) == (0.8, "status = 'OK'")
    assert store.get_online_scoring_configs([scorer_id, other_id, "no-such-scorer"]) == [replaced]
    store.delete_scorer(experiment_id, "judge")
    assert store.get_online_scoring_configs([scorer_id]) == []


def test_bad_online_config_requests_get_400_or_404(client, tracking_uri):
    store = client._tracking_client.store
    experiment_id = client.create_experiment("online-bad")
    store.register_scorer(experiment_id, "judge", GATEWAY_JUDGE)
    store.register_scorer(
        experiment_id, "direct", json.dumps({"builtin_scorer_pydantic_data": {"model": "openai:/gpt-4"}})
    )

    def upsert(**overrides):
        arguments = {"experiment_id": experiment_id, "scorer_name": "judge", "sample_rate": 0.5, **overrides}
        return lambda: store.upsert_online_scoring_config(**arguments)

    assert error_code(upsert(sample_rate=1.5)) == "INVALID_PARAMETER_VALUE"
    assert error_code(upsert(filter_string="status = ")) == "INVALID_PARAMETER_VALUE"
    assert error_code(upsert(scorer_name="direct")) == "INVALID_PARAMETER_VALUE"  # no gateway model
    assert error_code(upsert(scorer_name="nobody")) == "RESOURCE_DOES_NOT_EXIST"
    assert (
        store.upsert_online_scoring_config(
            experiment_id=experiment_id, scorer_name="direct", sample_rate=0.0
        ).sample_rate
        == 0.0
    )  # turning it off needs no gateway
    url = f"{tracking_uri}/api/3.0/mlflow/scorers/online-config"
    for body in (
        {"experiment_id": experiment_id, "name": "judge"},
        {"experiment_id": experiment_id, "name": "judge", "sample_rate": "half"},
        {"experiment_id": experiment_id, "name": "judge", "sample_rate": 0.5, "filter_string": 3},
    ):
        answer = requests.put(url, json=body, timeout=10)
        assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), body
    listing = requests.get(f"{tracking_uri}/api/3.0/mlflow/scorers/online-configs", timeout=10)
    assert (listing.status_code, listing.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
