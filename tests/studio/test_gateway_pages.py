"""The AI gateway's page (/ws/<workspace>/gateway/): endpoints with their models, fallbacks and
bindings, model definitions, secrets by their masked preview only, budgets with their windows;
and no GenAI page ever shows a secret."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from django.test import Client

from tracking.services import gateway
from tracking.services.evaluation_datasets import create_evaluation_dataset, upsert_dataset_records
from tracking.services.experiments import create_experiment
from tracking.services.gateway.budgets import BudgetChange
from tracking.services.gateway.endpoints import FallbackConfig, ModelConfig
from tracking.services.issues import create_issue
from tracking.services.scorers import register_scorer, upsert_online_scoring_config

API_KEY = "sk-live-Qz7wPx3RvT9mKd2LbN5h9876"
SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
HOSTILE = '<script>window.pwned=1</script>"onmouseover="alert(1)'


def page_url(workspace) -> str:
    return f"/ws/{workspace.name}/gateway/"


def rows(response, kind: str) -> list[str]:
    return re.findall(rf'<tr data-{kind}="([^"]+)">', response.content.decode())


@pytest.fixture
def configured(default_workspace):
    """Two secrets, three definitions, an endpoint with a primary model and two fallbacks bound to
    a scorer, a second endpoint, and budgets on the workspace and on the endpoint."""
    workspace = default_workspace
    openai = gateway.create_secret(
        workspace=workspace, name="openai-key", value={"api_key": API_KEY}, provider="openai"
    )
    bedrock = gateway.create_secret(
        workspace=workspace,
        name="aws",
        value={"aws_access_key_id": "AKIAEXAMPLEKEY123456", "aws_secret_access_key": SECRET_ACCESS_KEY},
        provider="bedrock",
        auth_config={"aws_region_name": "eu-west-1"},
    )
    gpt = gateway.create_model_definition(
        workspace=workspace, name="gpt-4o", secret_id=openai.secret_id, provider="openai", model_name="gpt-4o"
    )
    mini = gateway.create_model_definition(
        workspace=workspace,
        name="gpt-mini",
        secret_id=openai.secret_id,
        provider="openai",
        model_name="gpt-4o-mini",
    )
    claude = gateway.create_model_definition(
        workspace=workspace,
        name="claude",
        secret_id=bedrock.secret_id,
        provider="bedrock",
        model_name="anthropic.claude-3-5-sonnet",
    )
    chat = gateway.create_endpoint(
        workspace=workspace,
        name="chat",
        model_configs=[
            ModelConfig(gpt.model_definition_id, "PRIMARY", weight=1.0),
            ModelConfig(claude.model_definition_id, "FALLBACK", fallback_order=2),
            ModelConfig(mini.model_definition_id, "FALLBACK", fallback_order=1),
        ],
        fallback=FallbackConfig(strategy="SEQUENTIAL", max_attempts=2),
    )
    gateway.set_endpoint_tag(endpoint=chat, key="team", value="support")
    judge = create_experiment(workspace=workspace, name="judged")
    scorer = register_scorer(
        experiment=judge,
        name="polite",
        serialized_scorer=json.dumps({"instructions_judge_pydantic_data": {"model": "gateway:/chat"}}),
    ).scorer
    gateway.create_binding(endpoint=chat, resource_type="scorer", resource_id=scorer.scorer_id)
    gateway.create_endpoint(
        workspace=workspace, name="embed", model_configs=[ModelConfig(mini.model_definition_id, "PRIMARY")]
    )
    gateway.create_budget_policy(
        workspace=workspace,
        change=BudgetChange(
            budget_unit="USD",
            budget_amount=100.0,
            duration_unit="DAYS",
            duration_value=1,
            target_scope="WORKSPACE",
            budget_action="ALERT",
        ),
    )
    gateway.create_budget_policy(
        workspace=workspace,
        change=BudgetChange(
            budget_unit="USD",
            budget_amount=25.5,
            duration_unit="MONTHS",
            duration_value=1,
            target_scope="ENDPOINT",
            target_value=chat.endpoint_id,
            budget_action="REJECT",
        ),
    )
    return {"chat": chat, "scorer": scorer, "judge": judge}


def test_the_page_lists_endpoints_with_their_models_fallbacks_bindings_and_tags(client, configured):
    response = client.get(page_url(configured["chat"].workspace))

    assert response.status_code == 200
    assert rows(response, "endpoint") == ["chat", "embed"]
    html = response.content.decode()
    chat = html[html.index('data-endpoint="chat"') : html.index('data-endpoint="embed"')]
    assert "<code>gpt-4o</code>" in chat
    # Fallbacks in their order, then the strategy
    assert chat.index("<code>gpt-mini</code>") < chat.index("<code>claude</code>")
    assert "SEQUENTIAL, at most 2 attempts" in chat
    judge = configured["judge"]
    assert f'href="/ws/default/experiments/{judge.experiment_id}/scorers/polite/">polite</a>' in chat
    assert 'title="team: support"' in chat
    assert ">gateway/chat</a>" in chat  # the usage-tracking experiment
    assert 'aria-current="page">Gateway<' in html


def test_the_page_lists_definitions_with_their_use_secrets_masked_and_budgets(client, configured):
    response = client.get(page_url(configured["chat"].workspace))

    assert rows(response, "model") == ["gpt-4o", "gpt-mini", "claude"]
    html = response.content.decode()
    mini = html[html.index('data-model="gpt-mini"') : html.index('data-model="claude"')]
    assert '<td class="num">2</td>' in mini  # used by both endpoints
    assert rows(response, "secret") == ["openai-key", "aws"]
    assert "<code>sk-...9876</code>" in html and "<code>wJa...EKEY</code>" in html
    assert 'title="aws_region_name: eu-west-1"' in html
    budgets = html[html.index('id="gateway-budgets"') :]
    assert "Whole workspace" in budgets and "Endpoint chat" in budgets
    assert "25.50 USD" in budgets and "REJECT" in budgets
    now = datetime.now(UTC)
    assert f'<time datetime="{now:%Y-%m}-01T00:00:00+00:00">' in budgets  # this month's window


def test_an_empty_gateway_says_how_to_set_one_up(client, default_workspace):
    html = client.get(page_url(default_workspace)).content.decode()

    assert "Nothing is set up yet" in html
    for call in ("create_gateway_secret(", "create_gateway_model_definition(", "create_gateway_endpoint("):
        assert call in html
    assert "create_budget_policy(" in html


def test_hostile_gateway_names_and_tags_are_shown_as_text(client, default_workspace):
    secret = gateway.create_secret(workspace=default_workspace, name=HOSTILE, value={"api_key": API_KEY})
    definition = gateway.create_model_definition(
        workspace=default_workspace,
        name=HOSTILE,
        secret_id=secret.secret_id,
        provider="openai",
        model_name=HOSTILE,
    )
    endpoint = gateway.create_endpoint(
        workspace=default_workspace,
        name="hostile",
        model_configs=[ModelConfig(definition.model_definition_id, "PRIMARY")],
        usage_tracking=False,
    )
    gateway.set_endpoint_tag(endpoint=endpoint, key=HOSTILE, value=HOSTILE)

    html = client.get(page_url(default_workspace)).content.decode()

    assert "<script>window.pwned" not in html and '"onmouseover="' not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;&quot;onmouseover=&quot;alert(1)" in html


def test_the_page_costs_the_same_queries_for_a_few_or_many_rows(
    client, default_workspace, configured, django_assert_max_num_queries
):
    # workspace (+ resource group); endpoints, their mappings, their tags; bindings, their
    # scorers; definitions; secrets; budgets
    with django_assert_max_num_queries(10):
        client.get(page_url(default_workspace))
    secret = gateway.create_secret(workspace=default_workspace, name="more", value={"api_key": API_KEY})
    for i in range(20):
        definition = gateway.create_model_definition(
            workspace=default_workspace,
            name=f"m{i}",
            secret_id=secret.secret_id,
            provider="openai",
            model_name="x",
        )
        endpoint = gateway.create_endpoint(
            workspace=default_workspace,
            name=f"e{i}",
            model_configs=[ModelConfig(definition.model_definition_id, "PRIMARY")],
            usage_tracking=False,
        )
        gateway.set_endpoint_tag(endpoint=endpoint, key="k", value="v")
        gateway.create_binding(
            endpoint=endpoint, resource_type="scorer", resource_id=configured["scorer"].scorer_id
        )
    with django_assert_max_num_queries(10):
        response = client.get(page_url(default_workspace))
    assert len(rows(response, "endpoint")) == 22


# --- No page shows a secret ---------------------------------------------------------------------


def _secret_pieces(secret: str, masked: str) -> list[str]:
    """Every run of 6 of the secret's characters that its masked preview does not show."""
    return [secret[i : i + 6] for i in range(len(secret) - 5) if secret[i : i + 6] not in masked]


def test_no_genai_page_shows_any_part_of_a_secret(client, default_workspace, configured):
    """The secrets' values may end up anywhere a careless page looks: a scorer's JSON, a dataset,
    an issue name all name the endpoint; every page's HTML is scanned for the secret's characters."""
    judge = configured["judge"]
    dataset = create_evaluation_dataset(workspace=default_workspace, name="qa", experiments=[judge])
    upsert_dataset_records(dataset=dataset, records=[{"inputs": {"endpoint": "chat"}}])
    upsert_online_scoring_config(experiment=judge, name="polite", sample_rate=0.5, filter_string=None)
    issue = create_issue(experiment=judge, name="leaks?", description="none")
    base = f"/ws/default/experiments/{judge.experiment_id}/"
    pages = [
        page_url(default_workspace),
        "/ws/default/datasets/",
        f"/ws/default/datasets/{dataset.dataset_id}/",
        f"{base}datasets/",
        f"{base}scorers/",
        f"{base}scorers/polite/",
        f"{base}issues/",
        f"{base}issues/{issue.issue_id}/",
        base,
        f"{base}traces/",
    ]
    pieces = _secret_pieces(API_KEY, "sk-...9876") + _secret_pieces(SECRET_ACCESS_KEY, "wJa...EKEY")
    pieces += _secret_pieces("AKIAEXAMPLEKEY123456", "AKI...3456")
    assert len(pieces) > 40
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert not [piece for piece in pieces if piece in html], url


# --- Access -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), [("reader", 200), ("outsider", 404)])
def test_a_reader_sees_the_gateway_and_an_outsider_does_not(auth_on, team, persona, status):
    gateway.create_secret(workspace=team.workspace, name="team-key", value={"api_key": API_KEY})
    browser = Client()
    browser.force_login(team.user(persona))

    response = browser.get(page_url(team.workspace))

    assert response.status_code == status
    if status == 200:
        assert rows(response, "secret") == ["team-key"]


def test_another_workspaces_gateway_shows_none_of_this_ones(auth_on, team):
    gateway.create_secret(workspace=team.workspace, name="team-key", value={"api_key": API_KEY})
    browser = Client()
    browser.force_login(team.owner)

    response = browser.get(page_url(team.other))

    assert response.status_code == 200 and rows(response, "secret") == []
