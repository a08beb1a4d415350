"""Issues (MLflow 3 GenAI) through the real client: the tracking store's issue API, as
mlflow.log_issue and the tracing client call it (/api/3.0/mlflow/issues)."""

from __future__ import annotations

import pytest
import requests
from mlflow.entities.issue import IssueSeverity, IssueStatus
from mlflow.exceptions import MlflowException


@pytest.fixture
def store(fluent):
    from mlflow.tracking._tracking_service.utils import _get_store

    return _get_store()


def error_code(call) -> str:
    with pytest.raises(MlflowException) as excinfo:
        call()
    return excinfo.value.error_code


def test_an_issue_is_created_read_updated_and_found(store, client):
    experiment_id = client.create_experiment("quality")
    run_id = client.create_run(experiment_id).info.run_id
    issue = store.create_issue(
        experiment_id,
        "Hallucinated prices",
        "The agent invents prices.",
        severity=IssueSeverity.HIGH,
        root_causes=["no retrieval"],
        source_run_id=run_id,
        categories=["accuracy"],
        created_by="ann",
    )
    assert issue.issue_id.startswith("iss-") and issue.status == IssueStatus.PENDING
    assert issue.created_timestamp == issue.last_updated_timestamp

    fetched = store.get_issue(issue.issue_id)
    assert fetched.name == "Hallucinated prices" and fetched.experiment_id == experiment_id
    assert fetched.root_causes == ["no retrieval"] and fetched.categories == ["accuracy"]
    assert fetched.source_run_id == run_id and fetched.created_by == "ann"
    assert fetched.severity == IssueSeverity.HIGH and fetched.trace_count is None

    updated = store.update_issue(issue.issue_id, status=IssueStatus.RESOLVED, description="Fixed by RAG.")
    assert updated.status == IssueStatus.RESOLVED and updated.name == "Hallucinated prices"
    assert updated.description == "Fixed by RAG."
    assert updated.last_updated_timestamp >= issue.last_updated_timestamp

    found = store.search_issues(experiment_id=experiment_id, include_trace_count=True)
    assert [(i.issue_id, i.trace_count) for i in found] == [(issue.issue_id, 0)]
    by_run = store.search_issues(filter_string=f"source_run_id = '{run_id}' AND status = 'resolved'")
    assert [i.issue_id for i in by_run] == [issue.issue_id]
    assert list(store.search_issues(filter_string="status != 'resolved'")) == []


def test_search_orders_the_most_severe_first_then_the_newest_and_pages(store, client):
    experiment_id = client.create_experiment("ordered")
    made = {}
    for name, severity in (
        ("a", None),
        ("b", IssueSeverity.LOW),
        ("c", IssueSeverity.HIGH),
        ("d", IssueSeverity.LOW),
    ):
        made[name] = store.create_issue(experiment_id, name, "words", severity=severity)
    names = [i.name for i in store.search_issues(experiment_id=experiment_id)]
    assert names == ["c", "d", "b", "a"]

    first = store.search_issues(experiment_id=experiment_id, max_results=3)
    assert [i.name for i in first] == ["c", "d", "b"] and first.token
    rest = store.search_issues(experiment_id=experiment_id, max_results=3, page_token=first.token)
    assert [i.name for i in rest] == ["a"] and not rest.token
    assert [i.name for i in store.search_issues(filter_string="severity IN ('low')")] == ["d", "b"]


def test_bad_issue_requests_get_400_or_404(store, client, fluent, make_workspace):
    from mlflow import MlflowClient

    experiment_id = client.create_experiment("errors")
    assert error_code(lambda: store.get_issue("iss-missing")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: store.update_issue("iss-missing", name="x")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: store.create_issue("424242", "n", "d")) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: store.create_issue(experiment_id, "n", "d", source_run_id="f" * 32)) == (
        "RESOURCE_DOES_NOT_EXIST"
    )
    for filter_string in ("description = 'x'", "status LIKE 'p%'", "tags.x = 'y'"):
        assert (
            error_code(lambda f=filter_string: store.search_issues(filter_string=f))
            == "INVALID_PARAMETER_VALUE"
        )
    assert error_code(lambda: store.search_issues(max_results=100_000)) == "INVALID_PARAMETER_VALUE"

    url = f"{fluent.get_tracking_uri()}/api/3.0/mlflow/issues"
    issue = store.create_issue(experiment_id, "real", "d")
    for method, path, body in (
        ("POST", "", {"experiment_id": experiment_id, "name": "n", "description": "d", "status": "open"}),
        ("POST", "", {"experiment_id": experiment_id, "name": "n", "description": "d", "severity": "urgent"}),
        ("POST", "", {"experiment_id": experiment_id, "name": "n"}),
        ("POST", "", {"experiment_id": experiment_id, "name": "n" * 251, "description": "d"}),
        ("POST", "", {"experiment_id": experiment_id, "name": "n", "description": "d", "root_causes": "one"}),
        ("PATCH", f"/{issue.issue_id}", {"status": "closed"}),
        ("POST", "/search", {"page_token": "not a token"}),
    ):
        answer = requests.request(method, f"{url}{path}", json=body, timeout=10)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"

    # Another workspace sees neither the issue nor the experiment.
    make_workspace("elsewhere")
    other_uri = f"{fluent.get_tracking_uri()}/ws/elsewhere"
    answer = requests.get(f"{other_uri}/api/3.0/mlflow/issues/{issue.issue_id}", timeout=10)
    assert answer.status_code == 404 and answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    MlflowClient(other_uri).create_experiment("theirs")
    found = requests.post(f"{other_uri}/api/3.0/mlflow/issues/search", json={}, timeout=10).json()
    assert "issues" not in found


def test_a_reader_reads_issues_but_cannot_create_and_an_outsider_sees_none(
    deployed_with_sign_in, team, personal_token
):
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    from tracking.access.models import Membership, Role

    def store_as(persona: str, workspace) -> RestStore:
        token = personal_token(team.user(persona), workspace)
        uri = f"{deployed_with_sign_in.url}/ws/{workspace.name}"
        return RestStore(lambda: MlflowHostCreds(uri, token=token))

    contributor = store_as("contributor", team.workspace)
    issue = contributor.create_issue("0", "slow", "answers are slow")
    reader = store_as("reader", team.workspace)
    assert reader.get_issue(issue.issue_id).name == "slow"
    assert [i.issue_id for i in reader.search_issues()] == [issue.issue_id]
    assert error_code(lambda: reader.create_issue("0", "mine", "d")) == "PERMISSION_DENIED"
    assert error_code(lambda: reader.update_issue(issue.issue_id, name="renamed")) == "PERMISSION_DENIED"

    Membership.objects.create(user=team.outsider, workspace=team.other, role=Role.OWNER)
    outsider = store_as("outsider", team.other)
    assert error_code(lambda: outsider.get_issue(issue.issue_id)) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(lambda: outsider.update_issue(issue.issue_id, name="x")) == "RESOURCE_DOES_NOT_EXIST"
    assert list(outsider.search_issues()) == []


def test_issue_references_link_traces_to_an_issue_and_make_its_trace_count(tracing, store, make_workspace):
    from mlflow.entities.assessment import IssueReference

    @tracing.trace(name="answer")
    def answer(x):
        return x * 2

    experiment_id = tracing.set_experiment("linked").experiment_id
    trace_ids = []
    for x in range(3):
        answer(x)
        trace_ids.append(tracing.get_last_active_trace_id())
    common = store.create_issue(experiment_id, "Common", "seen often", severity=IssueSeverity.LOW)
    rare = store.create_issue(experiment_id, "Rare", "seen once", severity=IssueSeverity.LOW)
    for trace_id in trace_ids:
        logged = tracing.log_assessment(
            trace_id, IssueReference(issue_id=common.issue_id, issue_name="Common")
        )
    # Twice on one trace still counts the trace once.
    tracing.log_assessment(trace_ids[0], IssueReference(issue_id=common.issue_id, issue_name="Common"))
    tracing.log_assessment(trace_ids[0], IssueReference(issue_id=rare.issue_id, issue_name="Rare"))

    got = tracing.get_assessment(trace_ids[2], logged.assessment_id)
    assert isinstance(got, IssueReference) and (got.issue_id, got.issue_name) == (common.issue_id, "Common")
    counted = store.search_issues(experiment_id=experiment_id, include_trace_count=True)
    # Of the same severity, the issue of more traces comes first (MLflow's order when counting).
    assert [(i.name, i.trace_count) for i in counted] == [("Common", 3), ("Rare", 1)]
    assert [i.name for i in store.search_issues(experiment_id=experiment_id)] == ["Rare", "Common"]
    found = tracing.search_traces(
        locations=[experiment_id], filter_string=f"issue.id = '{rare.issue_id}'", return_type="list"
    )
    assert [t.info.trace_id for t in found] == [trace_ids[0]]

    # A trace of another workspace that names the issue does not count for it.
    make_workspace("issue-elsewhere")
    tracing.set_tracking_uri(f"{tracing.get_tracking_uri()}/ws/issue-elsewhere")
    tracing.set_experiment("theirs")
    answer(9)
    tracing.log_assessment(
        tracing.get_last_active_trace_id(), IssueReference(issue_id=rare.issue_id, issue_name="Rare")
    )
    counted = store.search_issues(experiment_id=experiment_id, include_trace_count=True)
    assert [(i.name, i.trace_count) for i in counted] == [("Common", 3), ("Rare", 1)]
