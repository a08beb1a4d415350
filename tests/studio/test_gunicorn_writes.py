"""Small answers leave gunicorn in one write (studio/gunicorn_writes.py), so a web worker killed
mid-answer leaves the client a dropped connection, which it retries, never headers without a body."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from gunicorn.http import wsgi

import studio
from studio.gunicorn_writes import ONE_WRITE_BYTES, _write_headers_with_body


class RecordingSocket:
    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def sendall(self, data: bytes) -> None:
        self.writes.append(bytes(data))


class Request:
    version = (1, 1)
    method = "POST"

    def should_close(self) -> bool:
        return False


def answer(body: bytes, *, content_length: int | None = None) -> RecordingSocket:
    socket = RecordingSocket()
    response = wsgi.Response(Request(), socket, cfg=None)
    headers = [("Content-Type", "application/json")]
    if content_length is not None:
        headers.append(("Content-Length", str(content_length)))
    response.start_response("200 OK", headers)
    _write_headers_with_body(response, body)
    return socket


def test_a_small_answer_leaves_in_one_write_headers_and_body_together():
    socket = answer(b"{}", content_length=2)

    assert len(socket.writes) == 1
    head, _, body = socket.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"Content-Length: 2" in head
    assert b"Connection: keep-alive" in head
    assert body == b"{}"


def test_the_body_is_cut_at_the_declared_length_as_gunicorn_does():
    socket = answer(b"{}extra", content_length=2)

    assert socket.writes[0].endswith(b"\r\n\r\n{}")


def test_a_large_answer_keeps_gunicorn_own_writes():
    body = b"x" * (ONE_WRITE_BYTES + 1)

    socket = answer(body, content_length=len(body))

    assert len(socket.writes) == 2 and socket.writes[1] == body


def test_a_chunked_answer_keeps_gunicorn_own_writes():
    socket = answer(b"{}")  # no Content-Length on HTTP/1.1: gunicorn chunks it

    assert b"Transfer-Encoding: chunked" in socket.writes[0] and socket.writes[0].endswith(b"\r\n\r\n")
    assert socket.writes[1] == b"2\r\n{}\r\n"


@pytest.fixture
def gunicorn_write():
    original = wsgi.Response.write
    yield
    wsgi.Response.write = original


def test_the_gunicorn_configuration_that_serve_uses_installs_it(gunicorn_write):
    runpy.run_path(str(Path(studio.__file__).parent / "gunicorn_conf.py"))

    assert wsgi.Response.write is _write_headers_with_body
