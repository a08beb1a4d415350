"""The sweeper of long work: it sends a message again for rows nobody is moving, once, and gives
up on a row whose worker died too many times."""

from __future__ import annotations

from django.utils import timezone

from tracking.models import Deletion
from tracking.services.work import MAX_ATTEMPTS, resend_stalled


def make_row(**fields) -> Deletion:
    return Deletion.objects.create(kind=Deletion.RUN, target_id=1, target_name="r", **fields)


def long_ago():
    return timezone.now() - Deletion.stale_after() * 3


def test_a_queued_row_whose_message_was_lost_is_sent_again_once(db):
    lost = make_row(enqueued_at=long_ago())
    fresh = make_row(enqueued_at=timezone.now())
    sent: list[int] = []
    assert resend_stalled(Deletion, sent.append) == [lost.pk]
    assert sent == [lost.pk]
    # The message just sent counts as fresh: a second sweep sends nothing.
    assert resend_stalled(Deletion, sent.append) == []
    assert fresh.pk not in sent


def test_a_running_row_whose_worker_went_silent_is_sent_again(db):
    silent = make_row(status="RUNNING", heartbeat_at=long_ago(), enqueued_at=long_ago(), attempts=1)
    busy = make_row(status="RUNNING", heartbeat_at=timezone.now(), enqueued_at=long_ago(), attempts=1)
    sent: list[int] = []
    resend_stalled(Deletion, sent.append)
    assert sent == [silent.pk] and busy.pk not in sent


def test_a_row_whose_worker_died_too_often_is_failed_not_sent(db):
    doomed = make_row(status="RUNNING", heartbeat_at=long_ago(), attempts=MAX_ATTEMPTS)
    sent: list[int] = []
    assert resend_stalled(Deletion, sent.append) == []
    doomed.refresh_from_db()
    assert doomed.status == "FAILED" and f"after {MAX_ATTEMPTS} attempts" in doomed.error
