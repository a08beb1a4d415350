"""AI gateway secrets: encrypted at rest, never shown, and only a workspace's owners set them up."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from tracking import secrets
from tracking.errors import ResourceDoesNotExist
from tracking.models import GatewaySecret
from tracking.queries.gateway import budget_window
from tracking.services import gateway

pytestmark = pytest.mark.django_db

API_KEY = "sk-proj-Zq8vT3kLm2Rx9WbN7yHc4Pd6"
# Any run of 8 characters of the key is enough to give it away.
PIECES = [API_KEY[i : i + 8] for i in range(0, len(API_KEY) - 8)]


def api(client, method: str, workspace: str, path: str, body: dict | None = None, token: str | None = None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    url = f"/ws/{workspace}/api/3.0/mlflow/gateway/{path}"
    if method == "get":
        return client.get(url, body or {}, **headers)
    return getattr(client, method)(
        url, data=json.dumps(body or {}), content_type="application/json", **headers
    )


def assert_no_secret_in(text: str) -> None:
    leaked = [piece for piece in PIECES if piece in text]
    assert not leaked, f"the secret leaked: {leaked}"


@pytest.fixture
def make_secret(default_workspace):
    def make(name: str = "openai", value: str = API_KEY) -> GatewaySecret:
        return gateway.create_secret(
            workspace=default_workspace, name=name, value={"api_key": value}, provider="openai"
        )

    return make


# --- At rest ------------------------------------------------------------------------------------


def test_the_stored_value_is_ciphertext_and_opens_with_the_key(make_secret):
    secret = make_secret()
    row = GatewaySecret.objects.values().get(pk=secret.pk)
    assert_no_secret_in(json.dumps(row, default=str))
    assert row["key_id"] == secrets.current_key_id()
    assert gateway.open_secret(GatewaySecret.objects.get(pk=secret.pk)) == {"api_key": API_KEY}


def test_the_same_value_is_sealed_differently_each_time(make_secret):
    first, second = make_secret("a"), make_secret("b")
    assert first.ciphertext != second.ciphertext


def test_a_server_with_another_key_says_which_key_is_missing(make_secret, settings):
    secret = make_secret()
    settings.GATEWAY_SECRETS_KEY = "a-different-key"
    with pytest.raises(secrets.SecretKeyMismatch) as excinfo:
        gateway.open_secret(secret)
    assert secret.key_id in excinfo.value.message
    assert "STUDIO_SECRETS_KEY" in excinfo.value.message
    assert_no_secret_in(excinfo.value.message)


def test_a_value_moved_to_another_row_does_not_open(make_secret):
    first, second = make_secret("a"), make_secret("b", value="sk-other-value-123456")
    second.ciphertext = first.ciphertext
    with pytest.raises(secrets.SecretKeyMismatch):
        gateway.open_secret(second)


def test_after_a_key_rotation_old_secrets_are_found_and_resealed(make_secret, settings):
    settings.GATEWAY_SECRETS_KEY = "the-old-key"
    old = make_secret()
    settings.GATEWAY_SECRETS_KEY = "the-new-key"
    settings.GATEWAY_SECRETS_PREVIOUS_KEYS = ["the-old-key"]
    assert GatewaySecret.objects.exclude(key_id=secrets.current_key_id()).count() == 1

    out = io.StringIO()
    call_command("reseal_gateway_secrets", stdout=out)
    assert "resealed 1 secret(s)" in out.getvalue() and "0 left on other keys" in out.getvalue()

    resealed = GatewaySecret.objects.get(pk=old.pk)
    assert resealed.key_id == secrets.current_key_id() != old.key_id
    settings.GATEWAY_SECRETS_PREVIOUS_KEYS = []
    assert gateway.open_secret(resealed) == {"api_key": API_KEY}


# --- Never shown --------------------------------------------------------------------------------


def test_no_answer_of_a_full_crud_sequence_contains_the_secret(client, default_workspace):
    answers = []

    def record(response):
        answers.append(response.content.decode())
        return response.json()

    created = record(
        api(client, "post", "default", "secrets/create",
            {"secret_name": "k", "secret_value": {"api_key": API_KEY}, "provider": "openai"}),
    )  # fmt: skip
    secret_id = created["secret"]["secret_id"]
    assert created["secret"]["masked_values"] == {"api_key": f"sk-...{API_KEY[-4:]}"}
    record(api(client, "get", "default", "secrets/get", {"secret_id": secret_id}))
    record(api(client, "get", "default", "secrets/list"))
    # Errors do not quote it either: a duplicate, a wrong type, a reserved key.
    record(
        api(
            client,
            "post",
            "default",
            "secrets/create",
            {"secret_name": "k", "secret_value": {"api_key": API_KEY}},
        )
    )
    record(api(client, "post", "default", "secrets/create", {"secret_name": "k2", "secret_value": API_KEY}))
    record(api(client, "post", "default", "secrets/create", {"secret_name": "k3", "secret_value": [API_KEY]}))
    record(
        api(client, "post", "default", "secrets/create",
            {"secret_name": "k4", "secret_value": {"api_key": API_KEY, "base_url": API_KEY}}),
    )  # fmt: skip
    record(
        api(client, "post", "default", "secrets/create",
            {"secret_name": "k5", "secret_value": {"api_key": 12}, "provider": API_KEY}),
    )  # fmt: skip
    definition = record(
        api(client, "post", "default", "model-definitions/create",
            {"name": "m", "secret_id": secret_id, "provider": "openai", "model_name": "gpt-4o"}),
    )["model_definition"]  # fmt: skip
    endpoint = record(
        api(client, "post", "default", "endpoints/create",
            {"name": "e", "model_configs": [{"model_definition_id": definition["model_definition_id"],
                                             "linkage_type": "PRIMARY"}]}),
    )["endpoint"]  # fmt: skip
    record(api(client, "get", "default", "endpoints/get", {"endpoint_id": endpoint["endpoint_id"]}))
    record(api(client, "get", "default", "endpoints/list"))
    record(api(client, "get", "default", "model-definitions/list"))
    record(
        api(
            client,
            "post",
            "default",
            "secrets/update",
            {"secret_id": secret_id, "secret_value": {"api_key": API_KEY[::-1]}},
        )
    )
    record(api(client, "delete", "default", "secrets/delete", {"secret_id": secret_id}))
    record(api(client, "get", "default", "secrets/get", {"secret_id": secret_id}))

    assert len(answers) == 16
    for answer in answers:
        assert_no_secret_in(answer)
        assert_no_secret_in(answer[::-1])  # the reversed key that the update stored


# --- Who may ------------------------------------------------------------------------------------


@pytest.fixture
def tokens(team, personal_token, auth_on):
    return {
        persona: personal_token(team.user(persona), team.workspace)
        for persona in ("owner", "contributor", "reader")
    }


@pytest.mark.parametrize("persona", ["reader", "contributor"])
def test_only_owners_set_up_secrets(client, tokens, persona):
    body = {"secret_name": "k", "secret_value": {"api_key": API_KEY}}
    response = api(client, "post", "team-a", "secrets/create", body, token=tokens[persona])
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert not GatewaySecret.objects.exists()


def test_readers_see_the_masked_secrets_owners_set_up(client, tokens):
    body = {"secret_name": "k", "secret_value": {"api_key": API_KEY}}
    assert api(client, "post", "team-a", "secrets/create", body, token=tokens["owner"]).status_code == 200
    listed = api(client, "get", "team-a", "secrets/list", token=tokens["reader"]).json()
    assert [s["secret_name"] for s in listed["secrets"]] == ["k"]


def test_another_workspace_sees_nothing_of_it(client, team, personal_token, auth_on):
    owner_a = personal_token(team.owner, team.workspace)
    owner_b = personal_token(team.owner, team.other)
    body = {"secret_name": "k", "secret_value": {"api_key": API_KEY}, "provider": "openai"}
    secret_id = api(client, "post", "team-a", "secrets/create", body, token=owner_a).json()["secret"][
        "secret_id"
    ]

    assert api(client, "get", "team-b", "secrets/list", token=owner_b).json() == {}
    response = api(client, "get", "team-b", "secrets/get", {"secret_id": secret_id}, token=owner_b)
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # Nor can its objects point at team-a's secret.
    definition = {"name": "m", "secret_id": secret_id, "provider": "openai", "model_name": "gpt-4o"}
    response = api(client, "post", "team-b", "model-definitions/create", definition, token=owner_b)
    assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = api(client, "delete", "team-b", "secrets/delete", {"secret_id": secret_id}, token=owner_b)
    assert response.status_code == 404
    assert GatewaySecret.objects.filter(secret_id=secret_id).exists()


def test_listing_endpoints_costs_the_same_for_many(
    client, default_workspace, make_secret, django_assert_max_num_queries
):
    secret = make_secret()
    for number in range(5):
        definition = gateway.create_model_definition(
            workspace=default_workspace, name=f"m{number}", secret_id=secret.secret_id, provider="openai",
            model_name="gpt-4o",
        )  # fmt: skip
        endpoint = gateway.create_endpoint(
            workspace=default_workspace, name=f"e{number}", usage_tracking=False,
            model_configs=[gateway.ModelConfig(definition.model_definition_id, "PRIMARY")],
        )  # fmt: skip
        gateway.set_endpoint_tag(endpoint=endpoint, key="k", value="v")
    with django_assert_max_num_queries(8):
        listed = api(client, "get", "default", "endpoints/list").json()
    assert len(listed["endpoints"]) == 5


# --- Invoking an endpoint -----------------------------------------------------------------------


@pytest.fixture
def chat_endpoint(default_workspace, make_secret):
    secret = make_secret()
    definition = gateway.create_model_definition(
        workspace=default_workspace,
        name="m",
        secret_id=secret.secret_id,
        provider="openai",
        model_name="gpt-4o",
    )
    return gateway.create_endpoint(
        workspace=default_workspace,
        name="chat",
        usage_tracking=False,
        model_configs=[gateway.ModelConfig(definition.model_definition_id, "PRIMARY")],
    )


def test_an_invocation_says_the_provider_is_out_of_reach_without_a_secret(client, chat_endpoint):
    body = {"messages": [{"role": "user", "content": "hi"}]}
    response = client.post(
        "/gateway/chat/mlflow/invocations", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 502
    answer = response.json()
    assert answer["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "'openai'" in answer["message"] and "chat" in answer["message"]
    assert_no_secret_in(response.content.decode())

    response = client.post(
        "/gateway/mlflow/v1/chat/completions",
        data=json.dumps({"model": "chat", **body}),
        content_type="application/json",
    )
    assert response.status_code == 502 and "'openai'" in response.json()["message"]


def test_invoking_an_unknown_endpoint_or_a_bad_payload_is_a_client_error(client, chat_endpoint):
    body = json.dumps({"messages": []})
    response = client.post("/gateway/nope/mlflow/invocations", data=body, content_type="application/json")
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    response = client.post(
        "/gateway/chat/mlflow/invocations", data=json.dumps({"x": 1}), content_type="application/json"
    )
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert client.get("/gateway/chat/mlflow/invocations").status_code == 405


def test_readers_cannot_invoke_endpoints(client, team, personal_token, auth_on):
    token = personal_token(team.reader, team.workspace)
    response = client.post(
        "/ws/team-a/gateway/chat/mlflow/invocations",
        data=json.dumps({"messages": []}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 403


# --- Budget windows (here for want of a better home: they are the gateway's too) ----------------


@pytest.mark.parametrize(
    ("unit", "value", "start", "end"),
    [
        ("MINUTES", 15, "2026-12-06T18:15:00", "2026-12-06T18:30:00"),
        ("HOURS", 2, "2026-12-06T18:00:00", "2026-12-06T20:00:00"),
        ("DAYS", 1, "2026-12-06T00:00:00", "2026-12-07T00:00:00"),
        ("WEEKS", 1, "2026-12-06T00:00:00", "2026-12-13T00:00:00"),  # a Sunday, as MLflow's weeks
        ("MONTHS", 1, "2026-12-01T00:00:00", "2027-01-01T00:00:00"),
        ("MONTHS", 5, "2026-09-01T00:00:00", "2027-02-01T00:00:00"),  # counted from January 1970
    ],
)
def test_a_budget_window_lines_up_as_mlflows(unit, value, start, end):
    now = datetime(2026, 12, 6, 18, 20, 5, tzinfo=UTC)
    got = budget_window(unit, value, now)
    assert [moment.replace(tzinfo=None).isoformat() for moment in got] == [start, end]


def test_a_secret_without_fields_is_kept_for_auth_modes_that_need_none(client, default_workspace):
    body = {"secret_name": "aws", "provider": "bedrock", "auth_config": {"auth_mode": "default_chain"}}
    answer = api(client, "post", "default", "secrets/create", body).json()["secret"]
    assert "masked_values" not in answer and answer["auth_config"] == {"auth_mode": "default_chain"}
    assert gateway.open_secret(GatewaySecret.objects.get(secret_id=answer["secret_id"])) == {}


def test_names_longer_than_their_columns_are_refused_before_the_database(client, default_workspace):
    body = {"secret_name": "k" * 256, "secret_value": {"api_key": API_KEY}}
    response = api(client, "post", "default", "secrets/create", body)
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "255" in response.json()["message"]
    assert_no_secret_in(response.content.decode())


def test_nothing_can_point_into_another_workspace(team):
    secret = gateway.create_secret(
        workspace=team.workspace, name="k", value={"api_key": API_KEY}, provider="openai"
    )
    definition = gateway.create_model_definition(
        workspace=team.workspace, name="m", secret_id=secret.secret_id, provider="openai", model_name="gpt-4o"
    )
    endpoint = gateway.create_endpoint(
        workspace=team.workspace,
        name="e",
        usage_tracking=False,
        model_configs=[gateway.ModelConfig(definition.model_definition_id, "PRIMARY")],
    )
    with pytest.raises(ResourceDoesNotExist):
        gateway.create_endpoint(
            workspace=team.other,
            name="e",
            model_configs=[gateway.ModelConfig(definition.model_definition_id, "PRIMARY")],
        )
    with pytest.raises(ResourceDoesNotExist):
        gateway.create_budget_policy(
            workspace=team.other,
            change=gateway.BudgetChange(
                budget_unit="USD", budget_amount=1.0, duration_unit="DAYS", duration_value=1,
                target_scope="ENDPOINT", target_value=endpoint.endpoint_id, budget_action="REJECT",
            ),
        )  # fmt: skip
    # The same names are free there.
    gateway.create_secret(workspace=team.other, name="k", value={"api_key": API_KEY})
