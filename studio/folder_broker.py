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


def install() -> None:
    """`filesystem://` means this transport in every process that loads the Celery app (a
    setting naming the class would work too, but URIs and the worker's banner would then
    spell the class's path instead of `filesystem://`)."""
    transport.TRANSPORT_ALIASES["filesystem"] = f"{__name__}:Transport"
