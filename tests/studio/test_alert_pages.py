"""The Alerts page: fired alerts with their run's link and delivery, rules with masked webhooks for
Readers, and for Contributors the form and the buttons (enable, disable, test, delete)."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from tests.hostile import row_counts
from tests.tracking.alerts.receiver import Receiver
from tracking.alerts.evaluation import evaluate_rules
from tracking.alerts.rules import RuleSpec, create_rule
from tracking.models import Alert, AlertRule
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, update_run

PAGE = "/ws/team-a/alerts/"
HOOK = "https://hooks.slack.com/services/T0/B0/SECRET"


@pytest.fixture
def experiment(team):
    return create_experiment(workspace=team.workspace, name="churn")


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def failed_rule(experiment, name="failures", webhook=HOOK) -> AlertRule:
    return create_rule(experiment=experiment, spec=RuleSpec(name=name, kind="run_failed", webhook_url=webhook),
                       created_by="owner")  # fmt: skip


def fail(experiment, name: str):
    run = create_run(experiment=experiment, run_name=name)
    update_run(run=run, status="FAILED", end_time=timezone.now())
    return run


def test_it_lists_fired_alerts_with_their_run_link(auth_on, team, experiment):
    failed_rule(experiment)
    run = fail(experiment, "r1")
    evaluate_rules()
    page = signed_in(team.reader).get(PAGE)
    html = page.content.decode()
    assert page.status_code == 200
    assert f'href="/ws/team-a/runs/{run.uuid}/">r1</a>' in html
    assert "run r1 ended FAILED" in html and 'data-field="delivery">pending' in html
    assert 'aria-current="page">Alerts</a>' in html


def test_readers_see_rules_with_the_webhook_masked_and_no_form(auth_on, team, experiment):
    failed_rule(experiment)
    html = signed_in(team.reader).get(PAGE).content.decode()
    assert "https://hooks.slack.com/…" in html and "SECRET" not in html
    assert "New rule" not in html and "Send a test alert" not in html
    owner_html = signed_in(team.owner).get(PAGE).content.decode()
    assert HOOK in owner_html and "New rule" in owner_html and "Send a test alert" in owner_html


def test_readers_may_not_post_and_outsiders_find_nothing(auth_on, team, experiment):
    rule = failed_rule(experiment)
    reader, outsider, owner = signed_in(team.reader), signed_in(team.outsider), signed_in(team.owner)
    before = row_counts()
    for action in ("test", "enable", "delete"):
        assert reader.post(f"{PAGE}rules/{rule.pk}/{action}").status_code == 403
    assert (
        reader.post(f"{PAGE}rules/", {"name": "x", "kind": "run_failed", "experiment_id": "1"}).status_code
        == 403
    )
    assert outsider.get(PAGE).status_code == 404
    assert outsider.post(f"{PAGE}rules/{rule.pk}/delete").status_code == 404
    assert owner.post(f"/ws/team-b/alerts/rules/{rule.pk}/delete").status_code == 404
    assert row_counts() == before


def test_a_contributor_creates_a_rule_with_the_form(auth_on, team, experiment):
    contributor = signed_in(team.contributor)
    answer = contributor.post(f"{PAGE}rules/", {
        "name": "loss diverges", "experiment_id": experiment.experiment_id, "kind": "metric_threshold",
        "metric_key": "loss", "comparison": ">=", "threshold": "10", "stall_minutes": "", "webhook_url": "",
    })  # fmt: skip
    assert answer.status_code == 303 and answer["Location"] == PAGE
    rule = AlertRule.objects.get()
    assert (rule.name, rule.kind, rule.metric_key, rule.comparison, rule.threshold, rule.created_by) == (
        "loss diverges",
        "metric_threshold",
        "loss",
        ">=",
        10.0,
        "contributor",
    )
    html = contributor.get(PAGE).content.decode()
    assert "Created the rule loss diverges." in html and "<code>loss &gt;= 10</code>" in html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"threshold": "ten"}, "&#x27;threshold&#x27; must be a number"),
        ({"experiment_id": "999"}, "Choose the rule&#x27;s experiment."),
        ({"kind": "run_stalled", "stall_minutes": "-3"}, "&#x27;stall_minutes&#x27; must be a whole number"),
        ({"webhook_url": "http://169.254.169.254/"}, "The webhook URL is refused"),
    ],
)
def test_a_bad_form_says_why_and_keeps_what_was_typed(auth_on, team, experiment, fields, message):
    form = {"name": "my rule", "experiment_id": experiment.experiment_id, "kind": "metric_threshold",
            "metric_key": "loss", "comparison": ">", "threshold": "1", **fields}  # fmt: skip
    answer = signed_in(team.owner).post(f"{PAGE}rules/", form)
    assert answer.status_code == 400
    html = answer.content.decode()
    assert message in html and 'value="my rule"' in html
    assert not AlertRule.objects.exists()


def test_hostile_names_are_shown_as_text(auth_on, team, experiment):
    failed_rule(experiment, name='<img src=x onerror="alert(1)">')
    fail(experiment, "<script>alert(2)</script>")
    evaluate_rules()
    html = signed_in(team.reader).get(PAGE).content.decode()
    assert "<img src=x" not in html and "<script>alert(2)" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_it_disables_enables_and_deletes_a_rule(auth_on, team, experiment):
    rule = failed_rule(experiment)
    owner = signed_in(team.owner)
    owner.post(f"{PAGE}rules/{rule.pk}/enable", {"enabled": "false"})
    assert not AlertRule.objects.get().enabled
    assert 'data-field="state">disabled</span>' in owner.get(PAGE).content.decode()
    owner.post(f"{PAGE}rules/{rule.pk}/enable", {"enabled": "true"})
    assert AlertRule.objects.get().enabled
    fail(experiment, "r1")
    evaluate_rules()
    answer = owner.post(f"{PAGE}rules/{rule.pk}/delete")
    assert answer.status_code == 303 and not AlertRule.objects.exists() and not Alert.objects.exists()
    assert owner.get(f"{PAGE}rules/{rule.pk}/delete").status_code == 405


def test_send_a_test_alert_shows_the_webhooks_answer(auth_on, team, experiment, settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    receiver = Receiver()
    try:
        rule = failed_rule(experiment, webhook=receiver.url)
        owner = signed_in(team.owner)
        answer = owner.post(f"{PAGE}rules/{rule.pk}/test", follow=True)
        assert "Test alert of failures delivered: HTTP 200." in answer.content.decode()
        assert len(receiver.received) == 1
        receiver.answers = [500]
        answer = owner.post(f"{PAGE}rules/{rule.pk}/test", follow=True)
        assert "Test alert of failures not delivered: HTTP 500." in answer.content.decode()
    finally:
        receiver.close()


def test_the_page_takes_the_same_queries_for_many_alerts_and_pages_them(auth_on, team, experiment,
                                                                        django_assert_max_num_queries):  # fmt: skip
    failed_rule(experiment)
    create_rule(
        experiment=experiment, spec=RuleSpec(name="stall", kind="run_stalled", stall_minutes=5), created_by=""
    )
    for i in range(60):
        fail(experiment, f"r{i}")
    evaluate_rules()
    reader = signed_in(team.reader)
    with django_assert_max_num_queries(12):
        first = reader.get(PAGE).content.decode()
    assert first.count("data-alert=") == 50 and 'href="?page=2">Older' in first
    second = reader.get(PAGE, {"page": "2"}).content.decode()
    assert second.count("data-alert=") == 10 and 'href="?page=1">' in second
    assert reader.get(PAGE, {"page": "junk"}).status_code == 200


def test_the_experiment_page_says_how_many_rules_watch_it_and_links_here(auth_on, team, experiment):
    failed_rule(experiment)
    fail(experiment, "r1")
    evaluate_rules()
    html = signed_in(team.reader).get(f"/ws/team-a/experiments/{experiment.experiment_id}/").content.decode()
    assert f'<a href="{PAGE}" data-field="alerts">1 alert rule, 1 fired</a>' in html
    other = create_experiment(workspace=team.workspace, name="quiet")
    assert (
        'data-field="alerts"'
        not in signed_in(team.reader).get(f"/ws/team-a/experiments/{other.experiment_id}/").content.decode()
    )
