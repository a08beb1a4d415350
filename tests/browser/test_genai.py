"""MLflow 3's GenAI objects in a real browser, made by the real mlflow client against the live
server: evaluation datasets and their records, registered scorers with versions and online
scoring, issues, and the AI gateway's configuration; hostile values shown as text, and no page
shows a secret."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

HOSTILE = '<img src=x onerror="window.pwned = 1">'
SCRIPT = "<script>window.pwned = 2</script>"
API_KEY = "sk-proj-Hq4TzW8vLx2NcR7bKm5J0421"


@pytest.fixture
def store(deployed):
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    return RestStore(lambda: MlflowHostCreds(deployed.url))


def no_dialogs(page) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def test_datasets_are_listed_searched_and_their_records_opened(page, deployed, tracing, screenshot):
    from mlflow.genai import datasets

    dialogs = no_dialogs(page)
    experiment_id = tracing.create_experiment("support-agent")
    golden = datasets.create_dataset(
        name="support-golden", experiment_id=experiment_id, tags={"team": "support", "stage": "golden"}
    )
    golden.merge_records(
        [
            {
                "inputs": {"question": "How long do refunds take?", "customer_tier": "gold"},
                "expectations": {"expected_response": "Refunds take 5 business days.", "facts": ["5 days"]},
            },
            {
                "inputs": {"question": "Can I change my delivery address after ordering?"},
                "expectations": {
                    "expected_response": "Yes, until the parcel ships: open the order, choose 'Change "
                    "address', and confirm. Once it has shipped, contact the carrier with the tracking "
                    "number printed on the confirmation e-mail.",
                    "guidelines": ["Mention the carrier", "Be brief"],
                },
            },
            {
                "inputs": {"question": "Where is my order A-17?"},
                "expectations": {"expected_response": "In transit."},
            },
        ]
    )
    regression = datasets.create_dataset(
        name="regression-suite", experiment_id=experiment_id, tags={"team": "qa"}
    )
    regression.merge_records([{"inputs": {"question": f"q{i}"}} for i in range(12)])
    hostile = datasets.create_dataset(name=HOSTILE, tags={SCRIPT: HOSTILE})
    hostile.merge_records([{"inputs": {"html": SCRIPT}, "expectations": {"link": "javascript:alert(1)"}}])

    page.goto(f"{deployed.url}/ws/default/datasets/")
    rows = page.locator("#datasets tbody tr[data-dataset]")
    expect(rows).to_have_count(3)
    expect(rows.nth(0).locator("td.name a")).to_have_text(HOSTILE)  # last updated first, as text
    golden_row = page.locator("#datasets tr", has=page.locator("a", has_text="support-golden"))
    expect(golden_row.locator("[data-field=records]")).to_have_text("3")
    expect(golden_row.locator(".chip[title='stage: golden']")).to_be_visible()
    expect(golden_row.locator("td.links a")).to_have_text("support-agent")
    screenshot(page, "genai-datasets")

    page.fill("input[name=q]", "GOLD")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    rows.first.locator("td.name a").click()
    expect(page.locator("h1")).to_have_text("support-golden")
    expect(page.locator("[data-field=record-count]")).to_have_text("3")
    records = page.locator("#records tbody tr[data-record]")
    expect(records).to_have_count(3)
    # A long value is cut in the table; its whole value opens below.
    long_cell = records.nth(1).locator("[data-field=expectations] details.json-cell")
    expect(long_cell.locator("pre.json")).to_be_hidden()
    long_cell.locator("summary").click()
    expect(long_cell.locator("pre.json")).to_contain_text("number printed on the confirmation e-mail")
    expect(page.locator("[data-field=tags]")).to_contain_text("golden")
    expect(page.locator("[data-field=experiments] a")).to_have_text("support-agent")
    screenshot(page, "genai-dataset")

    page.locator("[data-field=experiments] a").click()
    expect(page.locator(".experiment-tabs a[aria-current=page]")).to_have_text("Datasets")
    expect(page.locator("#datasets tbody tr[data-dataset]")).to_have_count(2)

    page.goto(f"{deployed.url}/ws/default/datasets/{hostile.dataset_id}/")
    expect(page.locator("h1")).to_have_text(HOSTILE)
    expect(page.locator("#records [data-field=inputs]")).to_contain_text(SCRIPT)
    assert page.locator("main img").count() == 0
    assert page.locator("main a[href^='javascript:']").count() == 0
    assert page.evaluate("() => window.pwned") is None
    assert dialogs == []


def test_scorers_and_issues_of_an_experiment(page, deployed, tracing, store, screenshot):
    from mlflow.entities.issue import IssueSeverity
    from mlflow.genai import scorers

    dialogs = no_dialogs(page)
    experiment_id = tracing.create_experiment("support-agent")
    scorers.Guidelines(name="polite", guidelines=["Be polite."]).register(experiment_id=experiment_id)
    scorers.Guidelines(name="polite", guidelines=["Be polite and brief."]).register(
        experiment_id=experiment_id
    )
    scorers.RelevanceToQuery().register(experiment_id=experiment_id)

    @scorers.scorer
    def mentions_refund_window(outputs) -> bool:
        return "5 days" in str(outputs)

    mentions_refund_window.register(experiment_id=experiment_id)
    from mlflow.genai.judges import make_judge

    judge = make_judge(
        name="resolution",
        instructions="Does the answer in {{ outputs }} resolve the question in {{ inputs }}?",
        model="gateway:/judge-endpoint",
        feedback_value_type=bool,
    )
    judge.register(experiment_id=experiment_id)
    store.upsert_online_scoring_config(
        experiment_id=experiment_id,
        scorer_name="resolution",
        sample_rate=0.25,
        filter_string="tags.env = 'prod'",
    )
    store.register_scorer(experiment_id, HOSTILE, f'{{"name": "x", "call_source": "{SCRIPT}"}}')

    page.goto(f"{deployed.url}/ws/default/experiments/{experiment_id}/scorers/")
    rows = page.locator("#scorers tbody tr[data-scorer]")
    expect(rows).to_have_count(5)
    polite = page.locator("#scorers tr[data-scorer=polite]")
    expect(polite.locator("[data-field=versions]")).to_have_text("2")
    expect(polite).to_contain_text("Built-in · Guidelines")
    resolution = page.locator("#scorers tr[data-scorer=resolution]")
    expect(resolution.locator("[data-field=sample-rate]")).to_have_text("25% of traces")
    expect(resolution).to_contain_text("tags.env = 'prod'")
    expect(resolution).to_contain_text("gateway:/judge-endpoint")
    screenshot(page, "genai-scorers", width=1440)

    polite.locator("td.name a").click()
    expect(page.locator("h1")).to_have_text("polite")
    versions = page.locator("#versions details.version")
    expect(versions).to_have_count(2)
    expect(versions.nth(0).locator("[data-field=serialized]")).to_contain_text("Be polite and brief.")
    expect(versions.nth(1).locator("[data-field=serialized]")).to_be_hidden()
    versions.nth(1).locator("summary").click()
    expect(versions.nth(1).locator("[data-field=serialized]")).to_contain_text('"Be polite."')

    page.goto(f"{deployed.url}/ws/default/experiments/{experiment_id}/scorers/")
    page.locator("#scorers td.name a", has_text="<img").click()
    expect(page.locator("h1")).to_have_text(HOSTILE)
    expect(page.locator("[data-field=source]")).to_have_text(SCRIPT)

    # Issues: made by the tracking store, as MLflow's issue discovery makes them.
    run_id = tracing.MlflowClient().create_run(experiment_id, run_name="issue-discovery").info.run_id
    made = [
        (
            "Hallucinated refund windows",
            "The agent states refund windows that the policy does not give.",
            IssueSeverity.HIGH,
            ["accuracy"],
        ),
        (
            "Ignores the customer's tier",
            "Gold customers get the standard answer.",
            IssueSeverity.MEDIUM,
            ["personalization"],
        ),
        ("Too verbose", "Answers run past three paragraphs.", IssueSeverity.LOW, ["style"]),
        (HOSTILE, SCRIPT, IssueSeverity.LOW, [SCRIPT]),
    ]
    created = {}
    for name, description, severity, categories in made:
        created[name] = store.create_issue(
            experiment_id,
            name,
            description,
            severity=severity,
            root_causes=["no retrieval of the refund policy"],
            categories=categories,
            source_run_id=run_id,
            metadata={"detector": "judge-v2", "window": "7 days", SCRIPT[:250]: SCRIPT},
        )
    # Two traces reference the tier issue, as MLflow's issue discovery links them.
    from mlflow.entities.assessment import IssueReference

    tier = created["Ignores the customer's tier"]

    @tracing.trace(name="answer")
    def answer(question):
        return f"standard answer to {question}"

    tracing.set_experiment(experiment_id=experiment_id)
    for question in ("refund?", "upgrade?"):
        answer(question)
    tracing.flush_trace_async_logging()
    for trace in tracing.search_traces(locations=[experiment_id], return_type="list"):
        tracing.log_assessment(
            trace.info.trace_id, IssueReference(issue_id=tier.issue_id, issue_name=tier.name)
        )
    page.goto(f"{deployed.url}/ws/default/experiments/{experiment_id}/issues/")
    issues = page.locator("#issues tbody tr[data-issue]")
    expect(issues).to_have_count(4)
    expect(issues.nth(0)).to_contain_text("Hallucinated refund windows")
    expect(issues.nth(0).locator(".badge.severity-high")).to_have_text("High")
    expect(page.locator("[data-field=status-counts]")).to_have_text("4 pending · 0 rejected · 0 resolved")
    screenshot(page, "genai-issues", width=1440)
    page.select_option("select[name=severity]", "medium")
    page.get_by_role("button", name="Filter").click()
    expect(issues).to_have_count(1)
    issues.first.locator("td.name a").click()
    expect(page.locator("[data-field=name]")).to_have_text("Ignores the customer's tier")
    expect(page.locator("[data-field=run]")).to_have_text("issue-discovery")
    expect(page.locator("[data-field=root-causes]")).to_contain_text("no retrieval of the refund policy")
    expect(page.locator("[data-field=metadata] dd").first).to_have_text(SCRIPT)  # sorted: "<" first
    expect(page.locator("[data-field=metadata]")).to_contain_text("judge-v2")
    screenshot(page, "genai-issue", width=1440)
    page.locator("[data-field=traces] a").click()
    expect(page.locator("#traces tbody tr")).to_have_count(2)

    page.goto(f"{deployed.url}/ws/default/experiments/{experiment_id}/issues/?q=paragraphs")
    expect(issues).to_have_count(1)
    assert page.locator("main img").count() == 0
    assert page.evaluate("() => window.pwned") is None
    assert dialogs == []


def test_the_gateway_page_shows_the_configuration_and_never_a_secret(
    page, deployed, tracing, store, screenshot
):
    from mlflow.entities import GatewayEndpointModelConfig, GatewayResourceType
    from mlflow.entities.gateway_budget_policy import (
        BudgetAction,
        BudgetDuration,
        BudgetDurationUnit,
        BudgetTargetScope,
        BudgetUnit,
    )
    from mlflow.entities.gateway_endpoint import GatewayModelLinkageType

    dialogs = no_dialogs(page)
    openai = store.create_gateway_secret(
        secret_name="openai-prod", secret_value={"api_key": API_KEY}, provider="openai"
    )
    anthropic = store.create_gateway_secret(
        secret_name="anthropic",
        secret_value={"api_key": "sk-ant-api03-Zr9XwQ2mPk7LvT5n"},
        provider="anthropic",
    )
    gpt = store.create_gateway_model_definition(
        name="gpt-4o", secret_id=openai.secret_id, provider="openai", model_name="gpt-4o"
    )
    mini = store.create_gateway_model_definition(
        name="gpt-4o-mini", secret_id=openai.secret_id, provider="openai", model_name="gpt-4o-mini"
    )
    claude = store.create_gateway_model_definition(
        name="claude-sonnet",
        secret_id=anthropic.secret_id,
        provider="anthropic",
        model_name="claude-sonnet-4-5",
    )
    chat = store.create_gateway_endpoint(
        name="support-chat",
        model_configs=[
            GatewayEndpointModelConfig(
                model_definition_id=gpt.model_definition_id,
                linkage_type=GatewayModelLinkageType.PRIMARY,
                weight=1.0,
            ),
            GatewayEndpointModelConfig(
                model_definition_id=claude.model_definition_id,
                linkage_type=GatewayModelLinkageType.FALLBACK,
                fallback_order=1,
            ),
        ],
    )
    store.create_gateway_endpoint(
        name="judge-endpoint",
        model_configs=[
            GatewayEndpointModelConfig(
                model_definition_id=mini.model_definition_id,
                linkage_type=GatewayModelLinkageType.PRIMARY,
                weight=1.0,
            )
        ],
    )
    experiment_id = tracing.create_experiment("judged")
    scorer_id = store.register_scorer(
        experiment_id,
        "resolution",
        '{"instructions_judge_pydantic_data": {"model": "gateway:/support-chat"}}',
    ).scorer_id
    store.create_endpoint_binding(
        endpoint_id=chat.endpoint_id, resource_type=GatewayResourceType.SCORER, resource_id=scorer_id
    )
    store.create_budget_policy(
        budget_unit=BudgetUnit.USD,
        budget_amount=500,
        duration=BudgetDuration(unit=BudgetDurationUnit.MONTHS, value=1),
        target_scope=BudgetTargetScope.WORKSPACE,
        budget_action=BudgetAction.ALERT,
    )

    page.goto(f"{deployed.url}/ws/default/gateway/")
    endpoints = page.locator("#gateway-endpoints tbody tr[data-endpoint]")
    expect(endpoints).to_have_count(2)
    chat_row = page.locator("#gateway-endpoints tr[data-endpoint=support-chat]")
    expect(chat_row).to_contain_text("gpt-4o")
    expect(chat_row.locator(".fallbacks")).to_contain_text("claude-sonnet")
    expect(chat_row.locator("a", has_text="resolution")).to_be_visible()
    expect(page.locator("#gateway-secrets tr[data-secret=openai-prod] [data-field=masked]")).to_contain_text(
        "sk-...0421"
    )
    expect(page.locator("#gateway-budgets tbody tr[data-budget]")).to_have_count(1)
    screenshot(page, "gateway", width=1440)

    # Not a piece of either secret on any page a person can reach from here.
    pieces = [API_KEY[i : i + 6] for i in range(len(API_KEY) - 5) if API_KEY[i : i + 6] not in "sk-...0421"]
    other = "sk-ant-api03-Zr9XwQ2mPk7LvT5n"
    pieces += [other[i : i + 6] for i in range(len(other) - 5) if other[i : i + 6] not in "sk-...LvT5n"]
    for path in (
        "gateway/",
        "datasets/",
        f"experiments/{experiment_id}/scorers/",
        f"experiments/{experiment_id}/scorers/resolution/",
        f"experiments/{experiment_id}/issues/",
        "",
    ):
        page.goto(f"{deployed.url}/ws/default/{path}")
        html = page.content()
        assert not [piece for piece in pieces if piece in html], path
    assert dialogs == []
