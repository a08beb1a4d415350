"""The folder broker of a laptop (`filesystem://`), with messages that appear whole.

kombu's folder transport creates a message's file under its final name and then writes into it;
a worker that lists the folder in between takes an empty or half-written file, fails to decode
it and stops (`JSONDecodeError: Expecting value`), taking `manage.py serve` down with it. Beat
sends a message every few seconds, so on a laptop this happened within minutes. Here a message
is written under a name the readers skip and renamed into place, which is atomic on one file
system: a reader sees the whole message or nothing.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from time import monotonic

from kombu import transport
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# Readers take `<time>_<uuid>.<queue>.msg`; the suffix keeps a file being written out of that.
WRITING_SUFFIX = ".writing"
# Atomic on one file system (a name of its own so that tests can look in between).
move_into_place = os.rename
# How often an idle worker lists the folder. kombu's default (a second) kept every task, a job's
# start included, waiting half a second on average; a look is one listdir of a small folder.
POLLING_SECONDS = 0.1
# How often a worker waiting for messages looks whether it was asked to stop (see drain_events).
STOP_CHECK_SECONDS = 0.2


class Channel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + WRITING_SUFFIX
        try:
            with open(partial, "wb", buffering=0) as out:
                out.write(str_to_bytes(dumps(payload)))
            move_into_place(partial, final)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class Transport(filesystem.Transport):
    Channel = Channel
    polling_interval = POLLING_SECONDS

    def drain_events(self, connection, timeout=None):
        """Waits up to `timeout` for a message, as kombu's does, but gives up early once the
        Celery worker of this process is stopping: its loop asks for 2 s at a time and looks at
        its stop flag only in between, so a Ctrl-C of `make run` waited out those 2 s."""
        deadline = None if timeout is None else monotonic() + timeout
        while True:
            left = STOP_CHECK_SECONDS if deadline is None else min(STOP_CHECK_SECONDS, deadline - monotonic())
            try:
                return super().drain_events(connection, timeout=max(left, 0.001))
            except TimeoutError:  # what kombu raises (socket.timeout)
                if _worker_stopping() or (deadline is not None and monotonic() >= deadline):
                    raise


def _worker_stopping() -> bool:
    from celery.worker import state

    # As celery.worker.state.maybe_shutdown reads them: a flag holds the exit code, 0 included.
    return any(flag is not None and flag is not False for flag in (state.should_stop, state.should_terminate))


def install() -> None:
    """`filesystem://` means this transport in every process that loads the Celery app (a
    setting naming the class would work too, but URIs and the worker's banner would then
    spell the class's path instead of `filesystem://`)."""
    transport.TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
