"""Webhook deliveries against a real HTTP server: Slack's JSON, each alert delivered once, retries
with back-off up to a bound, timeouts, the test alert; and what a webhook may not reach (SSRF)."""

from __future__ import annotations

import socket

import pytest
from django.utils import timezone

from tracking.alerts.delivery import deliver_due, send_test_alert
from tracking.alerts.evaluation import evaluate_rules
from tracking.alerts.rules import RuleSpec, create_rule
from tracking.alerts.webhooks import address_refusal, check_url, masked, post_json
from tracking.errors import InvalidParameterValue
from tracking.models import Alert
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run, update_run


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="watched <b>")


def failing_run(experiment, name="r1"):
    run = create_run(experiment=experiment, run_name=name)
    update_run(run=run, status="FAILED", end_time=timezone.now())
    return run


def rule_with(experiment, url: str, name: str = "failures"):
    spec = RuleSpec(name=name, kind="run_failed", webhook_url=url)
    return create_rule(experiment=experiment, spec=spec, created_by="tester")


def test_it_delivers_each_alert_once_as_slack_json_with_the_run_link(experiment, receiver, private_webhooks):
    rule_with(experiment, receiver.url)
    run = failing_run(experiment)
    evaluate_rules()
    assert deliver_due() == 1
    assert deliver_due() == 0
    evaluate_rules()
    assert deliver_due() == 0
    assert receiver.paths == ["/hooks/T000/secret"]
    message = receiver.received[0]
    link = f"https://studio.example/ws/default/runs/{run.uuid}/"
    assert message["text"].startswith(":x: *failures*: run r1 ended FAILED")
    assert f"<{link}|Open the run>" in message["text"]
    assert message["blocks"][0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": ":x: *failures*: run r1 ended FAILED"},
    }
    assert message["blocks"][2]["elements"][0]["url"] == link
    alert = Alert.objects.get()
    assert (alert.delivery_status, alert.attempts, alert.last_error) == ("delivered", 1, "")
    assert alert.delivered_at is not None


def test_user_content_cannot_mention_everyone_or_forge_a_link(experiment, receiver, private_webhooks):
    rule_with(experiment, receiver.url, name="<!channel> <https://evil.example|click>")
    failing_run(experiment, name="<@U123>&")
    evaluate_rules()
    deliver_due()
    text = receiver.received[0]["text"]
    assert "<!channel>" not in text and "<@U123>" not in text and "<https://evil" not in text
    assert "&lt;!channel&gt;" in text and "&lt;@U123&gt;&amp;" in text
    assert "watched &lt;b&gt;" in text


def test_it_retries_a_5xx_with_back_off_then_delivers(experiment, receiver, private_webhooks):
    receiver.answers = [500, 503]
    rule_with(experiment, receiver.url)
    failing_run(experiment)
    evaluate_rules()
    assert deliver_due() == 0
    alert = Alert.objects.get()
    assert (alert.delivery_status, alert.attempts, alert.last_error) == ("pending", 1, "HTTP 500")
    assert deliver_due() == 0
    assert deliver_due() == 1
    assert Alert.objects.get().attempts == 3 and len(receiver.received) == 3


def test_it_waits_longer_after_each_failure(experiment, receiver, private_webhooks):
    private_webhooks.ALERTS_WEBHOOK_RETRY_SECONDS = 60
    receiver.answers = [500, 500]
    rule_with(experiment, receiver.url)
    failing_run(experiment)
    evaluate_rules()
    deliver_due()
    first_wait = Alert.objects.get().next_attempt_at - timezone.now()
    assert 50 < first_wait.total_seconds() <= 60
    assert deliver_due() == 0 and len(receiver.received) == 1  # not due yet
    deliver_due(now=timezone.now() + first_wait)
    second_wait = Alert.objects.get().next_attempt_at - timezone.now()
    assert 110 < second_wait.total_seconds() <= 120


def test_it_gives_up_after_the_attempts_and_at_once_on_a_4xx(experiment, receiver, private_webhooks):
    private_webhooks.ALERTS_WEBHOOK_ATTEMPTS = 2
    receiver.answers = [500, 500, 500]
    rule_with(experiment, receiver.url)
    failing_run(experiment)
    evaluate_rules()
    deliver_due()
    deliver_due()
    deliver_due()
    alert = Alert.objects.get()
    assert (alert.delivery_status, alert.attempts, len(receiver.received)) == ("failed", 2, 2)
    receiver.answers = [404]
    failing_run(experiment, name="r2")
    evaluate_rules()
    deliver_due()
    deliver_due()
    assert Alert.objects.get(run__name="r2").delivery_status == "failed"
    assert len(receiver.received) == 3


def test_a_webhook_that_does_not_answer_in_time_is_a_timeout_to_retry(experiment, receiver, private_webhooks):
    receiver.delay = 1.5
    rule_with(experiment, receiver.url)
    failing_run(experiment)
    evaluate_rules()
    deliver_due()
    alert = Alert.objects.get()
    assert (alert.delivery_status, alert.last_error) == ("pending", "timed out after 1 s")


def test_redirects_are_not_followed(experiment, receiver, private_webhooks):
    receiver.redirect_to = "http://169.254.169.254/latest/meta-data/"
    outcome = post_json(receiver.url, {"text": "hi"})
    assert (outcome.delivered, outcome.status, outcome.retry) == (
        False,
        "HTTP 302: redirects are not followed",
        False,
    )
    assert len(receiver.received) == 1


def test_an_alert_claimed_by_another_worker_is_not_sent_again(experiment, receiver, private_webhooks):
    rule_with(experiment, receiver.url)
    failing_run(experiment)
    evaluate_rules()
    later = timezone.now() + timezone.timedelta(seconds=1)
    Alert.objects.update(delivery_status="sending", next_attempt_at=later)
    assert deliver_due() == 0 and receiver.received == []
    # ... unless that worker died: its lease runs out and the alert is due again.
    assert deliver_due(now=later) == 1


def test_rules_without_a_webhook_fire_for_the_page_only(experiment):
    rule_with(experiment, "")
    failing_run(experiment)
    evaluate_rules()
    assert Alert.objects.get().delivery_status == "none"
    assert deliver_due() == 0


def test_the_test_alert_is_sent_at_once_and_its_outcome_kept(experiment, receiver, private_webhooks):
    rule = rule_with(experiment, receiver.url)
    outcome = send_test_alert(rule=rule)
    assert (outcome.delivered, outcome.status) == (True, "HTTP 200")
    assert "a test alert" in receiver.received[0]["text"]
    assert "https://studio.example/ws/default/alerts/" in receiver.received[0]["text"]
    rule.refresh_from_db()
    assert rule.test_outcome == "HTTP 200" and rule.tested_at is not None
    receiver.answers = [500]
    assert send_test_alert(rule=rule).status == "HTTP 500"
    assert len(receiver.received) == 2  # a test is never retried


# --- What a webhook may not reach ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[64:ff9b::a9fe:a9fe]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "ftp://example.com/",
        "http://user:pass@example.com/hook",
        "http:///no-host",
        "http://example.com:99999/",
        "http://exa mple.com/",
        "javascript:alert(1)",
        "x" * 3000,
    ],
)
def test_it_refuses_urls_that_are_not_public_http(url, settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = False
    with pytest.raises(InvalidParameterValue, match="The webhook URL is refused"):
        check_url(url)
    assert post_json(url, {"text": "x"}).status.startswith("refused")


def test_a_name_that_resolves_to_a_private_address_is_refused_when_sending(settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = False
    assert check_url("http://localhost/hook") == "http://localhost/hook"  # a name is checked when used
    outcome = post_json("http://localhost/hook", {"text": "x"})
    assert not outcome.delivered and "is not a public address" in outcome.status and not outcome.retry


def test_it_connects_to_the_address_it_checked(monkeypatch, receiver, settings):
    """DNS rebinding: the name is looked up once; a second answer cannot change where we connect."""
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    port = receiver.server.server_address[1]
    real = socket.getaddrinfo
    answers = iter(["127.0.0.1", "203.0.113.9"])  # the second answer would go elsewhere
    lookups = []

    def getaddrinfo(host, *args, **kwargs):
        if host != "hooks.example":
            return real(host, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers), port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    outcome = post_json(f"http://hooks.example:{port}/x", {"text": "pinned"})
    assert outcome.delivered and receiver.texts() == ["pinned"] and lookups == ["hooks.example"]


def test_the_operator_may_allow_private_but_never_link_local_or_multicast(settings):
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    assert address_refusal("10.0.0.5") == "" and address_refusal("127.0.0.1") == ""
    assert address_refusal("169.254.169.254") and address_refusal("fe80::1") and address_refusal("239.1.1.1")
    assert address_refusal("0.0.0.0")
    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = False
    assert address_refusal("8.8.8.8") == "" and address_refusal("2606:4700::1111") == ""
    assert address_refusal("100.64.0.1")  # carrier-grade NAT is not public either


def test_a_masked_url_shows_only_scheme_and_host():
    assert masked("https://hooks.slack.com/services/T0/B0/SECRET") == "https://hooks.slack.com/…"
    assert masked("") == ""


def test_a_webhook_that_answers_a_byte_at_a_time_is_cut_off(settings):
    """Each read gets a byte within the timeout, so only the delivery's overall deadline ends it."""
    import threading
    import time

    settings.ALERTS_ALLOW_PRIVATE_WEBHOOKS = True
    settings.ALERTS_WEBHOOK_TIMEOUT_SECONDS = 0.5
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(b"HTTP/1.1 200 OK\r\n")
        while not stop.is_set():
            try:
                connection.sendall(b"X")
            except OSError:
                break
            time.sleep(0.1)
        connection.close()

    thread = threading.Thread(target=drip, daemon=True)
    thread.start()
    started = time.monotonic()
    try:
        outcome = post_json(f"http://127.0.0.1:{listener.getsockname()[1]}/hook", {"text": "x"})
    finally:
        stop.set()
        listener.close()
    assert time.monotonic() - started < 3
    assert (outcome.delivered, outcome.status, outcome.retry) == (
        False,
        "took longer than 1.5 s in all",
        True,
    )
