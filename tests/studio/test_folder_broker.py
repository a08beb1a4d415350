"""The laptop's folder broker: a message appears whole or not at all, so a worker never takes
a file still being written (kombu's own transport let it, and the worker died decoding it)."""

from __future__ import annotations

import os
import threading
import time
from queue import Empty

import pytest
from celery.worker import state as worker_state
from django.conf import settings
from kombu import Connection, Consumer, Queue
from kombu.exceptions import ChannelError

from studio import folder_broker
from studio.celery import app


@pytest.fixture
def connection(tmp_path):
    folder = tmp_path / "queue"
    folder.mkdir()
    options = {"data_folder_in": str(folder), "data_folder_out": str(folder), "store_processed": False}
    connection = Connection(
        "filesystem://localhost/", transport=folder_broker.Transport, transport_options=options
    )
    yield connection
    connection.release()


@pytest.fixture
def channel(connection):
    return connection.channel()


@pytest.fixture
def received(connection):
    """What a consumer of the queue "celery" on `connection` got, as a worker consumes it."""
    bodies = []
    consumer = Consumer(
        connection,
        queues=[Queue("celery")],
        callbacks=[lambda body, message: (bodies.append(body), message.ack())],
    )
    consumer.consume()
    yield bodies
    consumer.cancel()


def test_a_message_being_written_is_invisible_to_readers(channel, monkeypatch):
    seen_while_writing = {}
    rename = folder_broker.move_into_place

    def rename_after_a_look(source, target):
        seen_while_writing["files"] = sorted(os.listdir(channel.data_folder_in))
        with pytest.raises(Empty):
            channel._get("celery")
        rename(source, target)

    monkeypatch.setattr(folder_broker, "move_into_place", rename_after_a_look)
    channel._put("celery", {"body": "x" * 100_000})

    [written] = seen_while_writing["files"]
    assert written.endswith(".celery.msg" + folder_broker.WRITING_SUFFIX)
    assert channel._get("celery") == {"body": "x" * 100_000}


def test_a_reader_racing_a_writer_decodes_every_message(channel):
    count, received, failures = 300, [], []

    def write():
        for number in range(count):
            channel._put("celery", {"number": number, "padding": "y" * 50_000})

    writer = threading.Thread(target=write)
    writer.start()
    while len(received) < count and (writer.is_alive() or os.listdir(channel.data_folder_in)):
        try:
            received.append(channel._get("celery")["number"])
        except Empty:
            continue
        except Exception as error:  # kombu's own transport fails here: a half-written file
            failures.append(error)
            break
    writer.join()

    assert failures == []
    assert sorted(received) == list(range(count))


def test_a_failed_write_leaves_no_partial_file(channel, monkeypatch):
    def refuse(source, target):
        raise OSError("disk full")

    monkeypatch.setattr(folder_broker, "move_into_place", refuse)
    with pytest.raises(ChannelError):
        channel._put("celery", {"body": "x"})
    assert os.listdir(channel.data_folder_in) == []


@pytest.mark.skipif(not settings.CELERY_BROKER_URL.startswith("filesystem://"), reason="Redis broker")
def test_the_celery_app_sends_through_it_on_a_folder_broker():
    with app.connection_for_write() as connection:
        assert isinstance(connection.transport, folder_broker.Transport)


def test_a_message_sent_while_a_worker_waits_reaches_it_within_a_tenth_of_a_second(connection, received):
    sent = {}

    def send_later():
        time.sleep(0.3)
        sent["at"] = time.monotonic()
        connection.channel()._put("celery", {"body": '"job"', "content-type": "application/json",
                                             "content-encoding": "utf-8", "headers": {},
                                             "properties": {"delivery_tag": "1", "delivery_info": {}}})  # fmt: skip

    sender = threading.Thread(target=send_later)
    sender.start()
    connection.drain_events(timeout=5)
    waited = time.monotonic() - sent["at"]
    sender.join()

    assert received == ["job"]
    assert waited < folder_broker.POLLING_SECONDS + 0.1


def test_a_worker_with_nothing_to_take_waits_as_long_as_it_asked(connection, received):
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        connection.drain_events(timeout=0.6)
    assert time.monotonic() - started >= 0.6
    assert received == []


@pytest.mark.parametrize("flag", ["should_stop", "should_terminate"])
def test_a_worker_asked_to_stop_stops_waiting_for_messages(connection, received, monkeypatch, flag):
    # Celery's loop asks for 2 s of messages at a time and looks at its stop flag in between;
    # the flag holds the exit code, 0 for a Ctrl-C.
    monkeypatch.setattr(worker_state, flag, 0)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        connection.drain_events(timeout=2.0)
    assert time.monotonic() - started < folder_broker.STOP_CHECK_SECONDS + 0.2
