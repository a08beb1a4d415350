"""The AI gateway's configuration through MLflow's own REST store (the code its UI's API mirrors).

MLflow 3.17.2 has no public client API for the gateway; its `RestStore` gateway methods are what
the client library calls, so they are driven here against the deployed server, and the UI's
ajax routes with requests.
"""

from __future__ import annotations

import pytest
import requests
from mlflow.entities import GatewayEndpointModelConfig, GatewayEndpointTag, GatewayResourceType
from mlflow.entities.gateway_budget_policy import (
    BudgetAction,
    BudgetDuration,
    BudgetDurationUnit,
    BudgetTargetScope,
    BudgetUnit,
)
from mlflow.entities.gateway_endpoint import GatewayModelLinkageType
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.rest_store import RestStore
from mlflow.utils.rest_utils import MlflowHostCreds

API_KEY = "sk-live-abcdefghijklmnop9876"


@pytest.fixture
def store(tracking_uri) -> RestStore:
    return RestStore(lambda: MlflowHostCreds(tracking_uri))


def error_code(call) -> str:
    with pytest.raises(MlflowException) as excinfo:
        call()
    return excinfo.value.error_code


def primary(definition_id: str) -> GatewayEndpointModelConfig:
    return GatewayEndpointModelConfig(
        model_definition_id=definition_id, linkage_type=GatewayModelLinkageType.PRIMARY, weight=1.0
    )


def chat_endpoint(store: RestStore, provider: str, model_name: str) -> None:
    """An endpoint "chat" on one model of `provider`, its key sealed in a secret."""
    secret = store.create_gateway_secret(
        secret_name="k", secret_value={"api_key": API_KEY}, provider=provider
    )
    definition = store.create_gateway_model_definition(
        name="model", secret_id=secret.secret_id, provider=provider, model_name=model_name
    )
    store.create_gateway_endpoint(name="chat", model_configs=[primary(definition.model_definition_id)])


def test_a_secret_is_shown_masked_and_never_in_full(store):
    secret = store.create_gateway_secret(
        secret_name="openai-key", secret_value={"api_key": API_KEY}, provider="openai"
    )
    assert secret.secret_id.startswith("s-")
    assert secret.masked_values == {"api_key": "sk-...9876"}
    assert store.get_secret_info(secret_id=secret.secret_id).masked_values == {"api_key": "sk-...9876"}
    assert [s.secret_name for s in store.list_secret_infos(provider="openai")] == ["openai-key"]
    assert store.list_secret_infos(provider="anthropic") == []

    rotated = store.update_gateway_secret(secret.secret_id, secret_value={"api_key": "sk-new-key-00001111"})
    assert rotated.masked_values == {"api_key": "sk-...1111"}


def test_secret_names_are_unique_and_providers_known(store):
    store.create_gateway_secret(secret_name="k", secret_value={"api_key": API_KEY})
    assert error_code(
        lambda: store.create_gateway_secret(secret_name="k", secret_value={"api_key": "x"})
    ) == ("RESOURCE_ALREADY_EXISTS")
    assert (
        error_code(
            lambda: store.create_gateway_secret(
                secret_name="k2", secret_value={"api_key": "x"}, provider="nope"
            )
        )
        == "INVALID_PARAMETER_VALUE"
    )
    assert error_code(lambda: store.get_secret_info(secret_id="s-missing")) == "RESOURCE_DOES_NOT_EXIST"


def test_an_api_base_pointing_inside_is_refused(store):
    for url in ("https://127.0.0.1/v1", "https://169.254.169.254/", "http://api.example.com"):
        code = error_code(
            lambda url=url: store.create_gateway_secret(
                secret_name="k", secret_value={"api_key": API_KEY}, auth_config={"api_base": url}
            )
        )
        assert code == "INVALID_PARAMETER_VALUE"


def test_an_endpoint_gathers_definitions_tags_and_bindings(store):
    secret = store.create_gateway_secret(
        secret_name="k", secret_value={"api_key": API_KEY}, provider="openai"
    )
    definition = store.create_gateway_model_definition(
        name="gpt", secret_id=secret.secret_id, provider="openai", model_name="gpt-4o"
    )
    assert definition.secret_name == "k"
    endpoint = store.create_gateway_endpoint(
        name="chat", model_configs=[primary(definition.model_definition_id)]
    )
    assert endpoint.experiment_id  # usage traces go to an experiment made for it
    assert [m.model_definition.model_name for m in endpoint.model_mappings] == ["gpt-4o"]

    store.set_gateway_endpoint_tag(endpoint.endpoint_id, GatewayEndpointTag("team", "search"))
    fallback = GatewayEndpointModelConfig(
        model_definition_id=definition.model_definition_id,
        linkage_type=GatewayModelLinkageType.FALLBACK,
        fallback_order=1,
    )
    mapping = store.attach_model_to_endpoint(endpoint.endpoint_id, fallback)
    assert mapping.linkage_type == GatewayModelLinkageType.FALLBACK
    assert error_code(lambda: store.attach_model_to_endpoint(endpoint.endpoint_id, fallback)) == (
        "RESOURCE_ALREADY_EXISTS"
    )
    binding = store.create_endpoint_binding(endpoint.endpoint_id, GatewayResourceType.SCORER, "scorer-1")
    assert binding.resource_id == "scorer-1"

    got = store.get_gateway_endpoint(name="chat")
    assert [t.key for t in got.tags] == ["team"]
    assert len(got.model_mappings) == 2
    assert [e.name for e in store.list_gateway_endpoints(provider="openai")] == ["chat"]
    assert [b.resource_id for b in store.list_endpoint_bindings(endpoint_id=endpoint.endpoint_id)] == [
        "scorer-1"
    ]

    # A definition in use cannot go; a secret can, leaving the definition without one.
    assert error_code(lambda: store.delete_gateway_model_definition(definition.model_definition_id)) == (
        "INVALID_STATE"
    )
    store.delete_gateway_secret(secret.secret_id)
    assert store.get_gateway_model_definition(definition.model_definition_id).secret_id in ("", None)

    store.detach_model_from_endpoint(endpoint.endpoint_id, definition.model_definition_id)
    store.delete_endpoint_binding(endpoint.endpoint_id, "scorer", "scorer-1")
    store.delete_gateway_endpoint_tag(endpoint.endpoint_id, "team")
    store.delete_gateway_endpoint(endpoint.endpoint_id)
    assert store.list_gateway_endpoints() == []
    store.delete_gateway_model_definition(definition.model_definition_id)


def test_references_to_missing_objects_are_not_found(store):
    assert (
        error_code(
            lambda: store.create_gateway_model_definition(
                name="m", secret_id="s-none", provider="openai", model_name="gpt-4o"
            )
        )
        == "RESOURCE_DOES_NOT_EXIST"
    )
    assert error_code(lambda: store.create_gateway_endpoint(name="e", model_configs=[primary("d-none")])) == (
        "RESOURCE_DOES_NOT_EXIST"
    )
    assert error_code(
        lambda: store.create_gateway_endpoint(name="bad name", model_configs=[primary("d")])
    ) == ("INVALID_PARAMETER_VALUE")


def test_budget_policies_and_their_windows(store, tracking_uri):
    policy = store.create_budget_policy(
        budget_unit=BudgetUnit.USD,
        budget_amount=25.0,
        duration=BudgetDuration(unit=BudgetDurationUnit.DAYS, value=1),
        target_scope=BudgetTargetScope.WORKSPACE,
        budget_action=BudgetAction.ALERT,
    )
    assert store.get_budget_policy(policy.budget_policy_id).budget_amount == 25.0
    updated = store.update_budget_policy(policy.budget_policy_id, budget_amount=50.0)
    assert updated.budget_amount == 50.0
    assert (
        error_code(
            lambda: store.create_budget_policy(
                budget_unit=BudgetUnit.USD,
                budget_amount=1.0,
                duration=BudgetDuration(unit=BudgetDurationUnit.HOURS, value=1),
                target_scope=BudgetTargetScope.ENDPOINT,
                budget_action=BudgetAction.REJECT,
                target_value="e-none",
            )
        )
        == "RESOURCE_DOES_NOT_EXIST"
    )
    assert [p.budget_policy_id for p in store.list_budget_policies()] == [policy.budget_policy_id]

    windows = requests.get(f"{tracking_uri}/ajax-api/3.0/mlflow/gateway/budgets/windows", timeout=10).json()
    (window,) = windows["windows"]
    assert window["window_end_ms"] - window["window_start_ms"] == 86_400_000
    assert window["current_spend"] == 0.0
    store.delete_budget_policy(policy.budget_policy_id)
    assert store.list_budget_policies() == []


def test_guardrails_need_a_scorer_this_server_does_not_keep(store):
    assert list(store.list_gateway_guardrails()) == []
    assert error_code(lambda: store.get_gateway_guardrail("gr-none")) == "RESOURCE_DOES_NOT_EXIST"


def test_the_ui_reads_the_provider_catalog(tracking_uri):
    base = f"{tracking_uri}/ajax-api/3.0/mlflow/gateway"
    providers = requests.get(f"{base}/supported-providers", timeout=10).json()["providers"]
    assert {"openai", "anthropic", "bedrock"} <= set(providers)
    models = requests.get(f"{base}/supported-models", params={"provider": "openai"}, timeout=10).json()[
        "models"
    ]
    assert models and {m["provider"] for m in models} == {"openai"}
    config = requests.get(f"{base}/provider-config", params={"provider": "openai"}, timeout=10).json()
    assert config["default_mode"] == "api_key"
    # A provider without a form of its own gets the generic one (MLflow's answer); none is a 400.
    unknown = requests.get(f"{base}/provider-config", params={"provider": "nope"}, timeout=10).json()
    assert [field["name"] for field in unknown["auth_modes"][0]["config_fields"]] == ["api_base"]
    missing = requests.get(f"{base}/provider-config", timeout=10)
    assert missing.status_code == 400 and missing.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert requests.get(f"{base}/secrets/config", timeout=10).json()["secrets_available"] is True


def test_the_ui_sees_the_gateway_enabled_and_invocations_name_the_provider(store, tracking_uri):
    info = requests.get(f"{tracking_uri}/api/3.0/mlflow/server-info", timeout=10).json()
    assert info["features_enabled"] == {"gateway": True}

    chat_endpoint(store, "anthropic", "claude-sonnet-4")
    response = requests.post(
        f"{tracking_uri}/gateway/chat/mlflow/invocations",
        json={"messages": [{"role": "user", "content": "hello"}]},
        timeout=10,
    )
    assert response.status_code == 502
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert "'anthropic'" in response.json()["message"]
    assert API_KEY[-8:] not in response.text


def test_the_secrets_config_says_whether_a_key_of_its_own_seals_the_secrets(tracking_uri, deployed_server):
    """MLflow's `using_default_passphrase` is true until MLFLOW_CRYPTO_KEK_PASSPHRASE is set; ours
    until STUDIO_SECRETS_KEY is (until then the key is derived from Django's SECRET_KEY)."""
    keyed = deployed_server(STUDIO_SECRETS_KEY="a-key-of-at-least-sixteen-characters").url
    path = "ajax-api/3.0/mlflow/gateway/secrets/config"

    derived = requests.get(f"{tracking_uri}/{path}", timeout=10).json()
    configured = requests.get(f"{keyed}/{path}", timeout=10).json()

    assert derived == {"secrets_available": True, "using_default_passphrase": True}
    assert configured == {"secrets_available": True, "using_default_passphrase": False}


def test_the_prompt_lab_s_proxy_lists_this_workspace_s_endpoints_and_checks_paths_as_mlflow(
    store, tracking_uri, make_workspace
):
    """MLflow's UI lists and calls endpoints through `gateway-proxy`, which MLflow's server sends
    on to an external deployments server; ours answers from its own gateway."""
    proxy = f"{tracking_uri}/ajax-api/2.0/mlflow/gateway-proxy"
    assert requests.get(proxy, params={"gateway_path": "api/2.0/endpoints/"}, timeout=10).json() == {
        "endpoints": []
    }
    chat_endpoint(store, "openai", "gpt-4o-mini")

    listed = requests.get(proxy, params={"gateway_path": "api/2.0/endpoints"}, timeout=10)
    assert listed.json() == {
        "endpoints": [
            {
                "name": "chat",
                "endpoint_type": "llm/v1/chat",
                "endpoint_url": "/gateway/chat/mlflow/invocations",
                "model": {"name": "gpt-4o-mini", "provider": "openai"},
            }
        ]
    }
    invoked = requests.post(
        proxy,
        json={
            "gateway_path": "gateway/chat/invocations",
            "json_data": {"messages": [{"role": "user", "content": "hi"}]},
        },
        timeout=10,
    )
    assert invoked.status_code == 502 and "'openai'" in invoked.json()["message"]
    assert API_KEY[-8:] not in listed.text + invoked.text
    unknown = requests.post(
        proxy, json={"gateway_path": "gateway/nope/invocations", "json_data": {"messages": []}}, timeout=10
    )
    assert unknown.status_code == 404 and unknown.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"

    make_workspace("proxy-other")
    other = requests.get(
        f"{tracking_uri}/ws/proxy-other/ajax-api/2.0/mlflow/gateway-proxy",
        params={"gateway_path": "api/2.0/endpoints"},
        timeout=10,
    )
    assert other.json() == {"endpoints": []}


@pytest.mark.parametrize(
    ("method", "body", "message"),
    [
        ("POST", {}, "Deployments proxy request must specify a gateway_path."),
        ("POST", {"gateway_path": "foo/bar"}, "Invalid gateway_path: foo/bar for method: POST"),
        ("POST", {"gateway_path": "foo/bar/baz"}, "Invalid gateway_path: foo/bar/baz for method: POST"),
        (
            "POST",
            {"gateway_path": "gateway/a/b/invocations"},
            "Invalid gateway_path: gateway/a/b/invocations",
        ),
        ("POST", {"gateway_path": ["gateway/x/invocations"]}, "must specify a gateway_path"),
        ("GET", {"gateway_path": "http://169.254.169.254/latest"}, "Invalid gateway_path: http://169.254"),
        ("GET", {}, "Deployments proxy request must specify a gateway_path."),
    ],
)
def test_the_prompt_lab_s_proxy_refuses_paths_mlflow_refuses(tracking_uri, method, body, message):
    proxy = f"{tracking_uri}/ajax-api/2.0/mlflow/gateway-proxy"
    if method == "GET":
        response = requests.get(proxy, params=body, timeout=10)
    else:
        response = requests.post(proxy, json=body, timeout=10)
    assert response.status_code == 400, response.text
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert message in response.json()["message"]


def test_a_proxied_invocation_needs_a_chat_completions_or_embeddings_payload(store, tracking_uri):
    chat_endpoint(store, "openai", "gpt-4o-mini")
    response = requests.post(
        f"{tracking_uri}/ajax-api/2.0/mlflow/gateway-proxy",
        json={"gateway_path": "gateway/chat/invocations", "json_data": "drop table"},
        timeout=10,
    )
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
