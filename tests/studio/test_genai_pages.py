"""The GenAI pages: a workspace's evaluation datasets (/ws/<ws>/datasets/), a dataset with its
records (/ws/<ws>/datasets/<id>/), an experiment's Datasets, Scorers and Issues tabs
(/ws/<ws>/experiments/<id>/datasets|scorers|issues/), a scorer's and an issue's page."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from tracking.models import EvaluationDataset
from tracking.queries.genai_pages import PAGE_SIZE, RECORD_PAGE_SIZE
from tracking.services.evaluation_datasets import create_evaluation_dataset, upsert_dataset_records
from tracking.services.experiments import create_experiment
from tracking.services.issues import create_issue
from tracking.services.runs import create_run
from tracking.services.scorers import register_scorer, upsert_online_scoring_config

HOSTILE = '<script>window.pwned=1</script>"onmouseover="alert(1)'
GUIDELINES = json.dumps(
    {
        "name": "polite",
        "builtin_scorer_class": "Guidelines",
        "builtin_scorer_pydantic_data": {
            "name": "polite",
            "guidelines": ["Be polite."],
            "model": "openai:/gpt-4o",
        },
    }
)
FUNCTION = json.dumps(
    {
        "name": "exact",
        "call_source": "return outputs == expectations['answer']",
        "original_func_name": "exact",
    }
)
JUDGE = json.dumps({"name": "gated", "instructions_judge_pydantic_data": {"model": "gateway:/judge"}})


def rows(response, kind: str) -> list[str]:
    return re.findall(rf'<tr data-{kind}="([^"]+)">', response.content.decode())


def assert_inert(html: str) -> None:
    assert "<script>window.pwned" not in html
    assert '"onmouseover="' not in html
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;&quot;onmouseover=&quot;alert(1)" in html


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="support-agent")


@pytest.fixture
def qa(default_workspace, experiment):
    dataset = create_evaluation_dataset(
        workspace=default_workspace, name="qa-golden", tags={"team": "support"}, experiments=[experiment]
    )
    upsert_dataset_records(
        dataset=dataset,
        records=[
            {"inputs": {"question": "How long do refunds take?"}, "expectations": {"answer": "5 days"}},
            {"inputs": {"question": "Where is my order?"}, "expectations": {"answer": "Tracking page"}},
        ],
    )
    return dataset


def datasets_url(workspace, query: str = "") -> str:
    return f"/ws/{workspace.name}/datasets/{query}"


def dataset_url(dataset, query: str = "") -> str:
    return f"/ws/{dataset.workspace.name}/datasets/{dataset.dataset_id}/{query}"


def tab_url(experiment, tab: str, rest: str = "") -> str:
    return f"/ws/{experiment.workspace.name}/experiments/{experiment.experiment_id}/{tab}/{rest}"


# --- Evaluation datasets ------------------------------------------------------------------------


def test_the_workspace_lists_its_datasets_with_record_counts_tags_and_experiments(client, qa, experiment):
    response = client.get(datasets_url(qa.workspace))

    assert response.status_code == 200
    assert rows(response, "dataset") == [qa.dataset_id]
    html = response.content.decode()
    assert 'data-field="records">2<' in html
    assert 'title="team: support"' in html
    assert f'href="/ws/default/experiments/{experiment.experiment_id}/datasets/"' in html
    assert 'aria-current="page">Datasets<' in html


def test_the_dataset_list_searches_by_name_and_says_when_none_match(client, default_workspace, qa):
    create_evaluation_dataset(workspace=default_workspace, name="regression-suite")

    assert len(rows(client.get(datasets_url(default_workspace, "?q=GOLD")), "dataset")) == 1
    response = client.get(datasets_url(default_workspace, "?q=nothing-like-it"))
    assert rows(response, "dataset") == []
    assert "No dataset name contains “nothing-like-it”" in response.content.decode()


def test_an_empty_workspace_says_how_to_create_a_dataset(client, default_workspace):
    html = client.get(datasets_url(default_workspace)).content.decode()

    assert "No evaluation datasets yet" in html and "create_dataset(" in html and "merge_records(" in html


def test_the_experiments_datasets_tab_lists_only_its_linked_datasets(
    client, default_workspace, qa, experiment
):
    create_evaluation_dataset(workspace=default_workspace, name="unlinked")
    other = create_experiment(workspace=default_workspace, name="other")

    assert rows(client.get(tab_url(experiment, "datasets")), "dataset") == [qa.dataset_id]
    html = client.get(tab_url(other, "datasets")).content.decode()
    assert "No evaluation dataset is linked to this experiment" in html
    assert f'experiment_id="{other.experiment_id}"' in html


def test_the_dataset_list_pages_by_fifty(client, default_workspace):
    for i in range(PAGE_SIZE + 3):
        create_evaluation_dataset(workspace=default_workspace, name=f"set-{i:03}")

    first = client.get(datasets_url(default_workspace))
    assert len(rows(first, "dataset")) == PAGE_SIZE and 'rel="next"' in first.content.decode()
    second = client.get(datasets_url(default_workspace, "?page=2"))
    assert len(rows(second, "dataset")) == 3 and 'rel="next"' not in second.content.decode()


def test_the_dataset_page_shows_records_tags_and_experiments(client, qa, experiment):
    response = client.get(dataset_url(qa))

    assert response.status_code == 200
    html = response.content.decode()
    assert len(rows(response, "record")) == 2
    assert 'data-field="record-count">2<' in html
    assert "How long do refunds take?" in html and "5 days" in html
    assert f"/experiments/{experiment.experiment_id}/datasets/" in html
    assert '<td class="key">team</td><td class="value">support</td>' in html


def test_a_long_record_value_is_truncated_with_the_whole_value_a_click_away(client, qa):
    long_text = "lorem ipsum " * 40
    upsert_dataset_records(dataset=qa, records=[{"inputs": {"question": long_text}, "outputs": "x"}])

    html = client.get(dataset_url(qa)).content.decode()

    assert '<details class="json-cell"><summary><code>{&quot;question&quot;: &quot;lorem ipsum' in html
    assert "…</code></summary>" in html
    assert '<pre class="json">{\n  &quot;question&quot;: &quot;' + long_text.replace(" ", " ") in html
    assert "<th>Outputs</th>" in html  # a record has outputs, so the column shows


def test_the_records_table_pages(client, qa):
    upsert_dataset_records(
        dataset=qa, records=[{"inputs": {"question": f"q{i}"}} for i in range(RECORD_PAGE_SIZE)]
    )

    first = client.get(dataset_url(qa))
    assert len(rows(first, "record")) == RECORD_PAGE_SIZE
    second = client.get(dataset_url(qa, "?page=2"))
    assert len(rows(second, "record")) == 2
    assert 'rel="prev"' in second.content.decode()


def test_a_record_from_a_trace_links_to_it(client, default_workspace, qa, experiment):
    from tracking.models import Trace

    Trace.objects.create(
        workspace=default_workspace,
        experiment=experiment,
        trace_id="tr-" + "a" * 32,
        request_time=qa.created_at,
        state="OK",
    )
    source = {"source_type": "TRACE", "source_data": {"trace_id": "tr-" + "a" * 32}}
    elsewhere = {"source_type": "TRACE", "source_data": {"trace_id": "tr-" + "b" * 32}}
    upsert_dataset_records(
        dataset=qa,
        records=[
            {"inputs": {"q": "from a trace"}, "source": source},
            {"inputs": {"q": "gone"}, "source": elsewhere},
        ],
    )

    html = client.get(dataset_url(qa)).content.decode()

    assert f'href="/ws/default/experiments/{experiment.experiment_id}/traces/tr-{"a" * 32}/"' in html
    assert f'<span class="sub-id" title="tr-{"b" * 32}">' in html  # not a trace of this workspace


def test_a_page_past_the_end_says_so(client, qa, experiment):
    html = client.get(datasets_url(qa.workspace, "?page=9")).content.decode()
    assert "No datasets on this page" in html
    assert "No issues on this page" in client.get(tab_url(experiment, "issues", "?page=9")).content.decode()


def test_a_dataset_without_records_says_how_to_add_some(client, default_workspace):
    dataset = create_evaluation_dataset(workspace=default_workspace, name="fresh")

    html = client.get(dataset_url(dataset)).content.decode()

    assert (
        "No records yet" in html and f'get_dataset(dataset_id="{dataset.dataset_id}").merge_records(' in html
    )


def test_hostile_dataset_names_tags_and_records_are_shown_as_text(client, default_workspace, experiment):
    dataset = create_evaluation_dataset(
        workspace=default_workspace, name=HOSTILE, tags={HOSTILE: HOSTILE}, experiments=[experiment]
    )
    upsert_dataset_records(
        dataset=dataset,
        records=[
            {
                "inputs": {"q": HOSTILE},
                "expectations": {"a": HOSTILE * 5},
                "outputs": HOSTILE,
                "tags": {HOSTILE: HOSTILE},
            }
        ],
    )

    for url in (datasets_url(default_workspace), tab_url(experiment, "datasets"), dataset_url(dataset)):
        html = client.get(url).content.decode()
        assert_inert(html)


def test_the_dataset_pages_cost_the_same_queries_for_3_or_60_rows(
    client, default_workspace, experiment, django_assert_max_num_queries
):
    for count in (3, 60):
        EvaluationDataset.objects.all().delete()
        for i in range(count):
            create_evaluation_dataset(
                workspace=default_workspace, name=f"set-{i}", tags={"k": "v"}, experiments=[experiment]
            )
        dataset = EvaluationDataset.objects.order_by("pk").first()
        upsert_dataset_records(
            dataset=dataset,
            records=[{"inputs": {"q": i}, "tags": {"t": "x"}} for i in range(count)],
        )
        # workspace (+ resource group); the page, its tags, its experiments
        with django_assert_max_num_queries(5):
            assert len(rows(client.get(datasets_url(default_workspace)), "dataset")) == min(count, PAGE_SIZE)
        # + the experiment, its tags, its alert counts
        with django_assert_max_num_queries(9):
            assert len(rows(client.get(tab_url(experiment, "datasets")), "dataset")) == min(count, PAGE_SIZE)
        # workspace (+ resource group); the dataset, its tags, its experiments, the page of records
        with django_assert_max_num_queries(6):
            assert len(rows(client.get(dataset_url(dataset)), "record")) == min(count, RECORD_PAGE_SIZE)


def test_it_returns_404_for_an_unknown_dataset(client, default_workspace):
    assert client.get(f"/ws/default/datasets/d-{'0' * 32}/").status_code == 404


# --- Scorers ------------------------------------------------------------------------------------


@pytest.fixture
def scorers(experiment):
    register_scorer(experiment=experiment, name="polite", serialized_scorer=GUIDELINES)
    register_scorer(experiment=experiment, name="polite", serialized_scorer=GUIDELINES)
    register_scorer(experiment=experiment, name="exact", serialized_scorer=FUNCTION)
    register_scorer(experiment=experiment, name="gated", serialized_scorer=JUDGE)
    upsert_online_scoring_config(
        experiment=experiment, name="gated", sample_rate=0.25, filter_string="tags.env = 'prod'"
    )


def test_the_scorers_tab_lists_each_scorer_with_its_versions_and_online_config(client, experiment, scorers):
    response = client.get(tab_url(experiment, "scorers"))

    assert rows(response, "scorer") == ["exact", "gated", "polite"]
    html = response.content.decode()
    polite = html[html.index('data-scorer="polite"') :]
    assert "Built-in · Guidelines" in polite and "openai:/gpt-4o" in polite and "v2" in polite
    assert '<td class="num" data-field="versions">2</td>' in polite
    gated = html[html.index('data-scorer="gated"') : html.index('data-scorer="polite"')]
    assert "25% of traces" in gated and "tags.env = &#x27;prod&#x27;" in gated
    exact = html[html.index('data-scorer="exact"') : html.index('data-scorer="gated"')]
    assert "@scorer · exact" in exact and '<span class="muted">Off</span>' in exact


def test_an_experiment_without_scorers_says_how_to_register_one(client, experiment):
    html = client.get(tab_url(experiment, "scorers")).content.decode()

    assert "No scorers registered yet" in html and ".register(experiment_id=" in html


def test_the_scorer_page_shows_every_version_newest_first_as_text(client, experiment, scorers):
    register_scorer(experiment=experiment, name="exact", serialized_scorer=FUNCTION.replace("==", "!="))

    response = client.get(tab_url(experiment, "scorers", "exact/"))

    html = response.content.decode()
    assert re.findall(r'data-version="(\d+)"', html) == ["2", "1"]
    assert "return outputs != expectations[&#x27;answer&#x27;]" in html
    assert "Off." in html  # no online scoring


def test_the_scorer_page_shows_its_online_config(client, experiment, scorers):
    html = client.get(tab_url(experiment, "scorers", "gated/")).content.decode()

    assert 'data-field="sample-rate">0.25 (25% of incoming traces)' in html
    assert 'data-field="filter">tags.env = &#x27;prod&#x27;<' in html


def test_a_hostile_scorer_is_shown_as_text(client, experiment):
    name = "judge<script>window.pwned=1</script>"
    register_scorer(
        experiment=experiment,
        name=name,
        serialized_scorer=json.dumps({"name": HOSTILE, "call_source": HOSTILE, "description": HOSTILE}),
    )

    listing = client.get(tab_url(experiment, "scorers")).content.decode()
    assert_inert(listing)
    page = client.get(tab_url(experiment, "scorers", "judge%3Cscript%3Ewindow.pwned=1%3C/script%3E/"))
    assert page.status_code == 200
    assert_inert(page.content.decode())


def test_the_scorers_tab_costs_the_same_queries_for_2_or_40_scorers(
    client, experiment, django_assert_max_num_queries
):
    for count in (2, 40):
        for i in range(count):
            register_scorer(experiment=experiment, name=f"s{i}", serialized_scorer=JUDGE)
            upsert_online_scoring_config(
                experiment=experiment, name=f"s{i}", sample_rate=0.5, filter_string=None
            )
        # workspace (+ resource group), experiment, its tags, its alert counts; the scorers
        with django_assert_max_num_queries(6):
            assert len(rows(client.get(tab_url(experiment, "scorers")), "scorer")) == count


def test_it_returns_404_for_an_unknown_scorer_or_one_of_another_experiment(client, experiment, scorers):
    other = create_experiment(workspace=experiment.workspace, name="other")

    assert client.get(tab_url(experiment, "scorers", "nope/")).status_code == 404
    assert client.get(tab_url(other, "scorers", "polite/")).status_code == 404


# --- Issues -------------------------------------------------------------------------------------


@pytest.fixture
def issues(experiment):
    run = create_run(experiment=experiment, run_name="discovery-run")
    made = {
        "prices": create_issue(
            experiment=experiment,
            name="Hallucinated prices",
            description="The agent invents prices.",
            severity="high",
            root_causes=["no retrieval"],
            categories=["accuracy"],
            source_run=run,
            metadata={"detector": "judge-v2", "window": "7d"},
            created_by="ann",
        ),
        "tone": create_issue(
            experiment=experiment, name="Curt tone", description="Too short.", severity="low"
        ),
        "slow": create_issue(
            experiment=experiment, name="Slow answers", description="Takes 10 s.", severity="medium"
        ),
    }
    from tracking.services.issues import update_issue

    update_issue(issue=made["tone"], status="resolved")
    return made


def test_the_issues_tab_lists_the_most_severe_first_with_status_and_source(client, experiment, issues):
    response = client.get(tab_url(experiment, "issues"))

    ids = rows(response, "issue")
    assert ids == [issues["prices"].issue_id, issues["slow"].issue_id, issues["tone"].issue_id]
    html = response.content.decode()
    assert ">discovery-run</a>" in html and 'class="badge severity-high">High<' in html
    assert 'class="badge status-resolved">Resolved<' in html
    assert "2 pending · 0 rejected · 1 resolved" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?status=resolved", ["tone"]),
        ("?severity=medium", ["slow"]),
        ("?q=PRICES", ["prices"]),
        ("?q=invents", ["prices"]),
        ("?status=rejected", []),
    ],
)
def test_the_issues_tab_filters_by_status_severity_and_text(client, experiment, issues, query, expected):
    assert rows(client.get(tab_url(experiment, "issues", query)), "issue") == [
        issues[key].issue_id for key in expected
    ]


def test_an_experiment_without_issues_says_how_they_are_found(client, experiment):
    html = client.get(tab_url(experiment, "issues")).content.decode()

    assert "No issues yet" in html and "discover_issues(" in html


def test_the_issue_page_shows_its_description_causes_categories_and_run(client, experiment, issues):
    html = client.get(tab_url(experiment, "issues", f"{issues['prices'].issue_id}/")).content.decode()

    assert 'data-field="description">The agent invents prices.<' in html
    assert "<li>no retrieval</li>" in html and '<span class="chip">accuracy</span>' in html
    assert 'data-field="run">discovery-run<' in html
    assert "<dt>detector</dt><dd>judge-v2</dd><dt>window</dt><dd>7d</dd>" in html
    assert 'data-field="updated-by">ann<' in html and 'data-field="last-seen"' in html
    assert "No trace is linked to this issue yet" in html


def test_the_issue_page_links_to_the_traces_that_reference_it(client, experiment, issues):
    from tracking.models import Assessment, Trace
    from tracking.models.assessments import ISSUE

    issue = issues["prices"]
    for number in range(2):
        trace = Trace.objects.create(
            workspace=experiment.workspace,
            experiment=experiment,
            trace_id=f"tr-{number}",
            request_time=issue.created_at,
        )
        Assessment.objects.create(
            trace=trace, assessment_id=f"a-{number}", name=issue.issue_id, assessment_type=ISSUE, value="{}",
            source_type="HUMAN",
            created_at=issue.created_at, updated_at=issue.created_at,
        )  # fmt: skip

    html = client.get(tab_url(experiment, "issues", f"{issue.issue_id}/")).content.decode()
    assert ">2 traces</a> linked to this issue." in html
    assert f"traces/?filter=issue.id%20%3D%20%27{issue.issue_id}%27" in html


def test_a_hostile_issue_is_shown_as_text(client, experiment):
    issue = create_issue(
        experiment=experiment,
        name=HOSTILE,
        description=HOSTILE,
        root_causes=[HOSTILE],
        categories=[HOSTILE],
        metadata={HOSTILE: HOSTILE},
        created_by=HOSTILE[:255],
    )

    assert_inert(client.get(tab_url(experiment, "issues")).content.decode())
    assert_inert(client.get(tab_url(experiment, "issues", f"{issue.issue_id}/")).content.decode())


def test_the_issues_tab_costs_the_same_queries_for_3_or_60_issues(
    client, experiment, django_assert_max_num_queries
):
    run = create_run(experiment=experiment, run_name="r")
    for count in (3, 60):
        experiment.issues.all().delete()
        for i in range(count):
            create_issue(
                experiment=experiment, name=f"i{i}", description="d", source_run=run, categories=["c"]
            )
        # workspace (+ resource group), experiment, its tags, its alert counts; the page, the counts
        with django_assert_max_num_queries(7):
            assert len(rows(client.get(tab_url(experiment, "issues")), "issue")) == min(count, PAGE_SIZE)


def test_it_returns_404_for_an_issue_of_another_experiment(client, experiment, issues):
    other = create_experiment(workspace=experiment.workspace, name="other")

    assert client.get(tab_url(other, "issues", f"{issues['prices'].issue_id}/")).status_code == 404
    assert client.get(tab_url(experiment, "issues", "iss-nope/")).status_code == 404


def test_the_experiment_tabs_link_to_datasets_scorers_and_issues(client, experiment):
    html = client.get(f"/ws/default/experiments/{experiment.experiment_id}/").content.decode()

    for tab in ("datasets", "scorers", "issues"):
        assert f'href="{tab_url(experiment, tab)}"' in html


# --- Access -------------------------------------------------------------------------------------


def _team_objects(workspace):
    experiment = create_experiment(workspace=workspace, name="agents")
    dataset = create_evaluation_dataset(workspace=workspace, name="qa", experiments=[experiment])
    register_scorer(experiment=experiment, name="polite", serialized_scorer=GUIDELINES)
    issue = create_issue(experiment=experiment, name="n", description="d")
    return [
        datasets_url(workspace),
        dataset_url(dataset),
        tab_url(experiment, "datasets"),
        tab_url(experiment, "scorers"),
        tab_url(experiment, "scorers", "polite/"),
        tab_url(experiment, "issues"),
        tab_url(experiment, "issues", f"{issue.issue_id}/"),
    ]


@pytest.mark.parametrize(("persona", "status"), [("reader", 200), ("outsider", 404)])
def test_a_reader_sees_the_genai_pages_and_an_outsider_does_not(auth_on, team, persona, status):
    urls = _team_objects(team.workspace)
    browser = Client()
    browser.force_login(team.user(persona))

    for url in urls:
        assert browser.get(url).status_code == status, url


def test_a_member_of_another_workspace_gets_404(auth_on, team):
    """The owner of team-b (and of team-a) asking for team-a's objects through team-b finds nothing."""
    urls = _team_objects(team.workspace)
    browser = Client()
    browser.force_login(team.owner)

    for url in urls[1:]:
        assert browser.get(url.replace("/ws/team-a/", "/ws/team-b/")).status_code == 404, url
