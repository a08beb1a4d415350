"""Issues (MLflow 3 GenAI) through the real client: the tracking store's issue API, as
mlflow.log_issue and the tracing client call it (/api/3.0/mlflow/issues)."""

from __future__ import annotations

import base64
import json

import pytest
import requests
from mlflow.entities.issue import IssueSeverity, IssueStatus
from mlflow.exceptions import MlflowException


@pytest.fixture
def store(fluent):
    from mlflow.tracking._tracking_service.utils import _get_store

    return _get_store()


def _token(position: dict) -> str:
    return base64.b64encode(json.dumps(position).encode()).decode()


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
        # MLflow 3.18's fields
        ("POST", "", {"experiment_id": experiment_id, "name": "n", "description": "d", "metadata": {"k": 1}}),
        ("POST", "", {"experiment_id": experiment_id, "name": "n", "description": "d", "metadata": ["k"]}),
        (
            "POST",
            "",
            {"experiment_id": experiment_id, "name": "n", "description": "d", "metadata": {"": "v"}},
        ),
        (
            "POST",
            "",
            {"experiment_id": experiment_id, "name": "n", "description": "d", "categories": ["c" * 251]},
        ),
        (
            "POST",
            "",
            {"experiment_id": experiment_id, "name": "n", "description": "d", "last_seen_timestamp": -1},
        ),
        (
            "POST",
            "",
            {"experiment_id": experiment_id, "name": "n", "description": "d", "issue_id": "iss-../x"},
        ),
        ("PATCH", f"/{issue.issue_id}", {"delete_metadata_keys": [f"k{i}" for i in range(101)]}),
        ("PATCH", f"/{issue.issue_id}", {"metadata": {"k": "v" * 65537}}),
        ("POST", "/search", {"order_by": ["name"], "page_token": _token({"after": [1, 2], "query": "x"})}),
        ("POST", "/search", {"order_by": ["name; DROP TABLE tracking_issue"]}),
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


# --- MLflow 3.18: ids chosen by the client, metadata, when an issue was last seen, and search ---


def test_a_chosen_id_metadata_and_last_seen_time_are_kept_and_a_taken_id_conflicts(
    store, client, fluent, make_workspace
):
    from mlflow import MlflowClient
    from mlflow.store.tracking.rest_store import RestStore
    from mlflow.utils.rest_utils import MlflowHostCreds

    experiment_id = client.create_experiment("chosen")
    issue = store.create_issue(
        experiment_id,
        "Slow answers",
        "p95 over 10 s",
        issue_id="iss-nightly_01",
        last_seen_timestamp=1_700_000_000_000,
        metadata={"detector": "latency", "window": "7d"},
        categories=["Latency", "latency", "Latency"],
    )
    assert issue.issue_id == "iss-nightly_01" and issue.last_seen_timestamp == 1_700_000_000_000
    assert issue.metadata == {"detector": "latency", "window": "7d"}
    assert issue.categories == ["Latency", "latency"]  # repeats once
    fetched = store.get_issue("iss-nightly_01")
    assert (fetched.metadata, fetched.last_seen_timestamp) == (issue.metadata, 1_700_000_000_000)

    # Without a time, it was last seen when it was made.
    plain = store.create_issue(experiment_id, "Plain", "d")
    assert plain.last_seen_timestamp == plain.created_timestamp and plain.metadata is None

    assert error_code(lambda: store.create_issue(experiment_id, "Again", "d", issue_id="iss-nightly_01")) == (
        "RESOURCE_ALREADY_EXISTS"
    )
    for bad_id in ("nightly", "iss-", "iss-" + "x" * 33, "iss-a/b", "iss-a b"):
        assert error_code(lambda i=bad_id: store.create_issue(experiment_id, "n", "d", issue_id=i)) == (
            "INVALID_PARAMETER_VALUE"
        ), bad_id
    assert store.get_issue("iss-nightly_01").name == "Slow answers"  # the refused one changed nothing

    # Another workspace may choose the same id: each workspace's ids are its own.
    make_workspace("chosen-elsewhere")
    other_uri = f"{fluent.get_tracking_uri()}/ws/chosen-elsewhere"
    theirs = MlflowClient(other_uri).create_experiment("theirs")
    other = RestStore(lambda: MlflowHostCreds(other_uri))
    assert other.create_issue(theirs, "Theirs", "d", issue_id="iss-nightly_01").name == "Theirs"
    assert store.get_issue("iss-nightly_01").name == "Slow answers"
    assert other.get_issue("iss-nightly_01").name == "Theirs"


def test_an_update_replaces_categories_merges_metadata_and_never_moves_last_seen_back(store, client):
    experiment_id = client.create_experiment("updated")
    issue = store.create_issue(
        experiment_id, "Drift", "d", categories=["data"], metadata={"a": "1", "b": "2"}, created_by="ann"
    )
    assert issue.last_updated_by == "ann"

    later = issue.created_timestamp + 60_000
    updated = store.update_issue(
        issue.issue_id,
        metadata={"b": "two", "c": "3"},
        delete_metadata_keys=["a", "never-there"],
        last_seen_timestamp=later,
        last_updated_by="bob",
    )
    assert updated.metadata == {"b": "two", "c": "3"}
    assert updated.last_seen_timestamp == later and updated.last_updated_by == "bob"
    assert updated.categories == ["data"]  # not named: kept

    earlier = store.update_issue(issue.issue_id, last_seen_timestamp=issue.created_timestamp - 1)
    assert earlier.last_seen_timestamp == later  # a time before the latest seen is not taken

    assert store.update_issue(issue.issue_id, categories=[" Quality ", "quality", "data"]).categories == [
        " Quality ",
        "quality",
        "data",
    ]
    assert store.update_issue(issue.issue_id, categories=[]).categories is None  # cleared
    assert store.search_issues(experiment_id=experiment_id, categories=["data"]).to_list() == []

    # Updating and deleting one key, or metadata past 100 entries, changes nothing.
    assert error_code(
        lambda: store.update_issue(issue.issue_id, metadata={"b": "x"}, delete_metadata_keys=["b"])
    ) == ("INVALID_PARAMETER_VALUE")
    too_many = {f"k{i}": "v" for i in range(99)}
    assert error_code(lambda: store.update_issue(issue.issue_id, metadata=too_many, name="renamed")) == (
        "INVALID_PARAMETER_VALUE"
    )
    kept = store.get_issue(issue.issue_id)
    assert kept.metadata == {"b": "two", "c": "3"} and kept.name == "Drift"


def test_search_by_name_statuses_severities_and_categories_with_a_total_count(store, client):
    experiment_id = client.create_experiment("searched")
    made = {}
    for name, severity, status, categories in (
        ("Wrong prices", "high", "pending", ["Accuracy"]),
        ("wrong units", "low", "resolved", ["accuracy ", "units"]),
        ("100%_sure", "medium", "pending", ["tone"]),
        ("Slow", None, "rejected", []),
    ):
        made[name] = store.create_issue(
            experiment_id, name, "d", severity=severity, status=status, categories=categories
        )

    def names(**query):
        return sorted(i.name for i in store.search_issues(experiment_id=experiment_id, **query))

    assert names(name="WRONG") == ["Wrong prices", "wrong units"]
    assert names(name="%_") == ["100%_sure"]  # literal characters, not a pattern
    assert names(statuses=["pending", "rejected"]) == ["100%_sure", "Slow", "Wrong prices"]
    assert names(severities=["low", "medium"]) == ["100%_sure", "wrong units"]
    assert names(categories=["  ACCURACY"]) == ["Wrong prices", "wrong units"]
    assert names(categories=["units", "tone"]) == ["100%_sure", "wrong units"]
    assert names(name="wrong", statuses=["pending"], categories=["accuracy"]) == ["Wrong prices"]

    page = store.search_issues(
        experiment_id=experiment_id, statuses=["pending"], include_total_count=True, max_results=1
    )
    assert len(page) == 1 and page.total_count == 2 and page.token
    assert store.search_issues(experiment_id=experiment_id).total_count is None  # only when asked

    basic = store.search_issues(experiment_id=experiment_id, view="basic", name="Wrong prices")
    assert [(i.description, i.root_causes, i.metadata) for i in basic] == [("", None, None)]


def test_order_by_pages_past_the_last_row_so_new_issues_before_it_shift_nothing(store, client):
    experiment_id = client.create_experiment("ordered-by")
    for name in ("delta", "Alpha", "charlie", "bravo", "echo"):
        store.create_issue(experiment_id, name, "d")

    first = store.search_issues(experiment_id=experiment_id, order_by=["name ASC"], max_results=2)
    assert [i.name for i in first] == ["Alpha", "bravo"] and first.token
    store.create_issue(experiment_id, "aardvark", "d")  # sorts before the cursor: not seen, not shifting
    second = store.search_issues(
        experiment_id=experiment_id, order_by=["name ASC"], max_results=2, page_token=first.token
    )
    assert [i.name for i in second] == ["charlie", "delta"]
    third = store.search_issues(
        experiment_id=experiment_id, order_by=["name ASC"], max_results=2, page_token=second.token
    )
    assert [i.name for i in third] == ["echo"] and not third.token

    by_time = store.search_issues(experiment_id=experiment_id, order_by=["created_timestamp DESC", "name"])
    assert by_time[0].name == "aardvark"
    severities = ["low", "high", None]
    for name, severity in zip(("s1", "s2", "s3"), severities, strict=True):
        store.create_issue(experiment_id, name, "d", severity=severity)
    ranked = store.search_issues(experiment_id=experiment_id, name="s", order_by=["severity DESC"])
    assert [i.name for i in ranked] == ["s2", "s1", "s3"]

    # A token belongs to its query; a bad order_by or view is refused.
    assert (
        error_code(
            lambda: store.search_issues(
                experiment_id=experiment_id, order_by=["name DESC"], page_token=first.token
            )
        )
        == "INVALID_PARAMETER_VALUE"
    )
    for query in ({"order_by": ["description"]}, {"order_by": ["name sideways"]}, {"view": "everything"},
                  {"statuses": ["open"]}, {"severities": ["urgent"]}, {"name": "n" * 251}):  # fmt: skip
        assert error_code(lambda q=query: store.search_issues(**q)) == "INVALID_PARAMETER_VALUE", query


def test_a_forged_page_token_is_refused_or_read_as_plain_values(store, client, fluent):
    experiment_id = client.create_experiment("forged")
    for name in ("a", "b", "c"):
        store.create_issue(experiment_id, name, "d")
    real = store.search_issues(
        experiment_id=experiment_id, order_by=["name", "created_timestamp"], max_results=1
    ).token
    position = json.loads(base64.b64decode(real))
    url = f"{fluent.get_tracking_uri()}/api/3.0/mlflow/issues/search"
    query = {"experiment_id": experiment_id, "order_by": ["name", "created_timestamp"]}

    def search(after):
        return requests.post(
            url, json=query | {"page_token": _token(position | {"after": after})}, timeout=10
        )

    for after in ({"x": 1}, ["a", 1], ["a", "1", "iss-x"], ["a", 2**63, "iss-x"], ["a", 1.5, "iss-x"],
                  ["a" * 251, 1, "iss-x"], [1, 1, "iss-x"], ["a", True, "iss-x"]):  # fmt: skip
        answer = search(after)
        assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE", after
    # Well-typed values are only values to go past, whatever they hold.
    answer = search(["b' OR '1'='1", 0, "iss-' --"])
    assert answer.status_code == 200 and [i["name"] for i in answer.json()["issues"]] == ["c"]
