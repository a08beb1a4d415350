"""An upload's body as the artifact proxy reads it: exactly Content-Length bytes, received straight
into the store's buffers when the web server can (gunicorn's body, see studio.gunicorn_io)."""

from __future__ import annotations

import io

import pytest
from django.test import RequestFactory

from tracking.api.handlers.artifacts import _ExactLength
from tracking.artifacts.base import CHUNK_SIZE, iter_chunks
from tracking.errors import InvalidParameterValue


class ServerInput(io.RawIOBase):
    """A web server's input stream that can fill a buffer; it delivers at most 64 KiB per call."""

    def __init__(self, data: bytes):
        self.data, self.position, self.filled = data, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = min(len(buffer), 64 * 1024, len(self.data) - self.position)
        buffer[:count] = self.data[self.position : self.position + count]
        self.position += count
        self.filled += 1
        return count


def upload(sent: bytes, declared: int) -> tuple[_ExactLength, ServerInput]:
    request = RequestFactory().put("/upload", data=b"", content_type="application/octet-stream")
    server_input = ServerInput(sent)
    request.META["wsgi.input"] = server_input
    return _ExactLength(request, declared), server_input


def test_the_body_is_received_into_the_stores_buffers_through_the_servers_own_stream():
    data = bytes(range(256)) * 8192  # 2 MiB
    body, server_input = upload(data, len(data))

    chunks = list(iter_chunks(body))

    assert [len(chunk) for chunk in chunks] == [CHUNK_SIZE, CHUNK_SIZE]
    assert b"".join(chunks) == data
    assert server_input.filled == len(data) // (64 * 1024)


def test_nothing_past_the_declared_length_is_read():
    body, server_input = upload(b"0123456789" + b"the next request", 10)

    assert b"".join(iter_chunks(body)) == b"0123456789"
    assert server_input.position == 10


def test_a_body_that_ends_before_its_declared_length_is_an_error_so_nothing_is_stored():
    body, _ = upload(b"x" * 1000, 5000)

    with pytest.raises(InvalidParameterValue, match="The upload ended after 1000 of 5000 bytes"):
        list(iter_chunks(body))
