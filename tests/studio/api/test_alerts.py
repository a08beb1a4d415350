"""Alerts through the studio API: rules created, changed, tested and deleted by Contributors,
read by Readers (webhooks masked), hidden from outsiders; bad input refused with MLflow's errors
and nothing written; fired alerts listed a page at a time with the run's link."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from tests.hostile import row_counts
from tests.tracking.alerts.receiver import Receiver
from tracking.alerts.evaluation import evaluate_rules
from tracking.models import Alert, AlertRule
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, update_run

pytestmark = pytest.mark.django_db
RULES = "/api/studio/v1/workspaces/team-a/alert-rules"
HOOK = "https://hooks.slack.com/services/T0/B0/SECRET"


@pytest.fixture
def experiment(team):
    return create_experiment(workspace=team.workspace, name="churn")


def signed_in(user) -> Client:
    browser = Client(HTTP_X_STUDIO_CLIENT="tests")
    browser.force_login(user)
    return browser


def post(browser: Client, path: str, body) -> object:
    return browser.post(path, data=json.dumps(body), content_type="application/json")


def new_rule(**fields) -> dict:
    return {"experiment_name": "churn", "name": "loss too high", "kind": "metric_threshold",
            "metric_key": "loss", "comparison": ">", "threshold": 5, "webhook_url": HOOK, **fields}  # fmt: skip


def test_a_contributor_creates_a_rule_and_reads_it_back(auth_on, team, experiment):
    answer = post(signed_in(team.contributor), RULES, new_rule())
    assert answer.status_code == 201, answer.content
    rule = answer.json()
    assert answer["Location"] == f"{RULES}/{rule['id']}"
    assert rule | {"id": 0, "created_at": "", "checked_at": None} == {
        "id": 0, "name": "loss too high", "experiment_id": experiment.experiment_id, "experiment_name": "churn",
        "kind": "metric_threshold", "metric_key": "loss", "comparison": ">", "threshold": 5.0,
        "stall_minutes": None, "webhook_url": HOOK, "enabled": True, "created_by": "contributor",
        "created_at": "", "checked_at": None, "tested_at": None, "test_outcome": None, "fired": None,
    }  # fmt: skip
    listed = signed_in(team.owner).get(RULES).json()["rules"]
    assert [(r["name"], r["webhook_url"], r["fired"]) for r in listed] == [("loss too high", HOOK, 0)]


def test_readers_see_rules_with_the_webhook_masked_and_may_not_change_them(auth_on, team, experiment):
    rule_id = post(signed_in(team.owner), RULES, new_rule()).json()["id"]
    reader = signed_in(team.reader)
    assert reader.get(RULES).json()["rules"][0]["webhook_url"] == "https://hooks.slack.com/…"
    assert reader.get(f"{RULES}/{rule_id}").json()["webhook_url"] == "https://hooks.slack.com/…"
    before = row_counts()
    for answer in (
        post(reader, RULES, new_rule(name="mine")),
        reader.patch(f"{RULES}/{rule_id}", data='{"enabled": false}', content_type="application/json"),
        reader.delete(f"{RULES}/{rule_id}"),
        post(reader, f"{RULES}/{rule_id}/test", {}),
    ):
        assert answer.status_code == 403 and answer.json()["error_code"] == "PERMISSION_DENIED"
    assert row_counts() == before and AlertRule.objects.get().enabled


@pytest.mark.parametrize("persona", ["outsider"])
def test_outsiders_and_other_workspaces_find_nothing(auth_on, team, experiment, persona):
    rule_id = post(signed_in(team.owner), RULES, new_rule()).json()["id"]
    outsider = signed_in(team.user(persona))
    for answer in (
        outsider.get(RULES),
        outsider.get(f"{RULES}/{rule_id}"),
        post(outsider, RULES, new_rule()),
    ):
        assert answer.status_code == 404 and answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    # The owner of both workspaces cannot reach team-a's rule through team-b's path.
    other = signed_in(team.owner).get(f"/api/studio/v1/workspaces/team-b/alert-rules/{rule_id}")
    assert other.status_code == 404


def test_it_changes_disables_and_deletes_a_rule(auth_on, team, experiment):
    contributor = signed_in(team.contributor)
    rule_id = post(contributor, RULES, new_rule()).json()["id"]
    changed = contributor.patch(
        f"{RULES}/{rule_id}",
        data=json.dumps({"enabled": False, "name": "renamed", "webhook_url": ""}),
        content_type="application/json",
    )
    assert changed.status_code == 200
    assert (changed.json()["enabled"], changed.json()["name"], changed.json()["webhook_url"]) == (
        False,
        "renamed",
        None,
    )
    assert contributor.delete(f"{RULES}/{rule_id}").status_code == 204
    assert contributor.get(f"{RULES}/{rule_id}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "sometimes"}, "'kind' must be one of metric_threshold, run_failed, run_stalled"),
        ({"kind": ["run_failed"]}, "'kind' must be one of"),
        ({"name": ""}, "'name' is required"),
        ({"name": 42}, "'name' must be a string"),
        ({"name": "x" * 201}, "'name' is longer than 200 characters"),
        ({"name": "a\x00b"}, "control characters"),
        ({"metric_key": ""}, "'metric_key' is required"),
        ({"comparison": "=="}, "'comparison' must be one of > >= < <="),
        ({"threshold": None}, "'threshold' is required"),
        ({"threshold": "lots"}, "'threshold' must be a number"),
        ({"threshold": "NaN"}, "'threshold' must be a finite number"),
        ({"threshold": True}, "'threshold' must be a number"),
        ({"threshold": "1e309"}, "'threshold' must be a finite number"),
        ({"kind": "run_stalled", "stall_minutes": 0}, "'stall_minutes' must be a whole number"),
        ({"kind": "run_stalled", "stall_minutes": 2.5}, "'stall_minutes' must be a whole number"),
        ({"kind": "run_stalled", "stall_minutes": 10**9}, "'stall_minutes' must be a whole number"),
        ({"webhook_url": "file:///etc/passwd"}, "The webhook URL is refused: only http:// and https://"),
        ({"webhook_url": "http://169.254.169.254/latest"}, "The webhook URL is refused"),
        ({"webhook_url": "http://10.0.0.1/"}, "is not a public address"),
        ({"webhook_url": {"url": HOOK}}, "'webhook_url' must be a string"),
        ({"experiment_name": "nope"}, "Could not find experiment with name 'nope'"),
        ({"experiment_name": "", "experiment_id": "x"}, "experiment"),
        ({"experiment_name": ""}, "Name the rule's experiment"),
        ({"experiment_id": "0"}, "by 'experiment_id' or by 'experiment_name'"),
    ],
)
def test_bad_rules_are_refused_clearly_and_nothing_is_written(
    client, default_workspace, team, experiment, fields, message
):
    owner = signed_in(team.owner)
    before = row_counts()
    answer = post(owner, RULES, new_rule(**fields))
    assert answer.status_code in (400, 404), answer.content
    assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    assert message in answer.json()["message"]
    assert row_counts() == before


def test_a_body_that_is_not_an_object_or_not_json_is_refused(team, experiment):
    owner = signed_in(team.owner)
    assert post(owner, RULES, ["run_failed"]).json()["message"] == "The body must be a JSON object."
    answer = owner.post(RULES, data="{", content_type="application/json")
    assert answer.status_code == 400 and answer.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_cross_site_write_is_refused(auth_on, team, experiment):
    browser = Client()
    browser.force_login(team.owner)
    answer = browser.post(RULES, data=json.dumps(new_rule()), content_type="application/json",
                          HTTP_ORIGIN="https://evil.example")  # fmt: skip
    assert answer.status_code == 403 and not AlertRule.objects.exists()
    form = browser.post(RULES, data={"name": "x", "kind": "run_failed", "experiment_name": "churn"})
    assert form.status_code == 400 and not AlertRule.objects.exists()


def test_a_hostile_rule_name_comes_back_as_inert_json(team, experiment):
    name = "<script>alert(1)</script>"
    answer = post(signed_in(team.owner), RULES, new_rule(name=name))
    assert (answer["Content-Type"], answer["X-Content-Type-Options"]) == ("application/json", "nosniff")
    assert answer.json()["name"] == name  # kept as written, shown escaped by the page


def test_fired_alerts_are_listed_newest_first_a_page_at_a_time(
    team, experiment, django_assert_max_num_queries
):
    owner = signed_in(team.owner)
    post(owner, RULES, new_rule(kind="run_failed", name="failures", webhook_url=""))
    runs = [create_run(experiment=experiment, run_name=f"r{i}") for i in range(55)]
    for run in runs:
        update_run(run=run, status="FAILED", end_time=timezone.now())
    evaluate_rules()
    Alert.objects.filter(run=runs[0]).update(fired_at=timezone.now() + timezone.timedelta(seconds=5))
    path = "/api/studio/v1/workspaces/team-a/alerts"
    reader = signed_in(team.reader)
    with django_assert_max_num_queries(6):
        first = reader.get(path).json()
    assert len(first["alerts"]) == 50 and first["next_page"] == 2
    top = first["alerts"][0]
    assert (top["run_id"], top["message"], top["rule_name"], top["delivery"]["status"]) == (
        runs[0].uuid,
        "run r0 ended FAILED",
        "failures",
        "none",
    )
    assert top["run_url"] == f"http://studio.test:8000/ws/team-a/runs/{runs[0].uuid}/"
    second = owner.get(path, {"page": 2}).json()
    assert len(second["alerts"]) == 5 and second["next_page"] is None
    assert owner.get(path, {"page": 0}).status_code == 400
    assert owner.get(path, {"page": "x"}).json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_the_test_alert_reaches_the_webhook_and_says_how_it_went(team, experiment, settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    receiver = Receiver()
    try:
        owner = signed_in(team.owner)
        rule_id = post(owner, RULES, new_rule(webhook_url=receiver.url)).json()["id"]
        answer = post(owner, f"{RULES}/{rule_id}/test", {})
        assert answer.json() == {"delivered": True, "outcome": "HTTP 200"}
        assert "loss too high" in receiver.texts()[0]
        assert owner.get(f"{RULES}/{rule_id}").json()["test_outcome"] == "HTTP 200"
        settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = False
        refused = post(owner, f"{RULES}/{rule_id}/test", {}).json()
        assert refused["delivered"] is False and refused["outcome"].startswith(
            "refused: 127.0.0.1 is not a public"
        )
    finally:
        receiver.close()


def test_the_rules_list_takes_the_same_queries_for_many_rules(
    team, experiment, django_assert_max_num_queries
):
    owner = signed_in(team.owner)
    for i in range(30):
        assert post(owner, RULES, new_rule(name=f"rule {i}")).status_code == 201
    with django_assert_max_num_queries(6):
        rules = owner.get(RULES).json()["rules"]
    assert len(rules) == 30 and rules[0]["name"] == "rule 0"
