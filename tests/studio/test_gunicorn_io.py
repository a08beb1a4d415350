"""How gunicorn moves bytes (studio/gunicorn_io.py): small answers leave in one write, so a web worker
killed mid-answer leaves the client a dropped connection, which it retries, never headers without a
body; request bodies are read in large pieces, with gunicorn's own semantics."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
from gunicorn.http import body, unreader, wsgi

import studio
from studio.gunicorn_io import (
    ONE_WRITE_BYTES,
    SOCKET_READ_BYTES,
    _read_body,
    _receive,
    _write_headers_with_body,
)


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


# --- Request bodies ------------------------------------------------------------------------------


class RecordingPeer:
    """A socket whose peer sent `data`, delivered at most `per_packet` bytes per receive."""

    def __init__(self, data: bytes, per_packet: int = 1_000_000) -> None:
        self.data, self.per_packet, self.asked = data, per_packet, []

    def recv(self, size: int) -> bytes:
        self.asked.append(size)
        piece, self.data = self.data[: min(size, self.per_packet)], self.data[min(size, self.per_packet) :]
        return piece


def request_body(data: bytes, *, per_packet: int = 1_000_000, declared: int | None = None):
    peer = RecordingPeer(data, per_packet)
    source = unreader.SocketUnreader(peer)
    source.chunk = lambda: _receive(source)
    reader = body.LengthReader(source, len(data) if declared is None else declared)
    request = body.Body(reader)
    request.read = lambda size=None: _read_body(request, size)
    return request, peer


def test_a_body_is_read_in_the_sizes_asked_whatever_the_packets():
    data = bytes(range(256)) * 4000  # 1,024,000 bytes
    request, _ = request_body(data, per_packet=1460)

    pieces = [request.read(1000), request.read(100_000), request.read(1), request.read()]

    assert [len(piece) for piece in pieces] == [1000, 100_000, 1, len(data) - 101_001]
    assert b"".join(pieces) == data
    assert request.read(10) == b"" and request.read() == b""


def test_a_read_past_the_end_gives_what_is_left():
    request, _ = request_body(b"x" * 5000)

    assert request.read(4000) == b"x" * 4000
    assert request.read(1_000_000) == b"x" * 1000
    assert request.read(1) == b""


def test_readline_still_works_after_a_large_read():
    request, _ = request_body(b"first line\nsecond line\nthe rest")

    assert request.read(6) == b"first "
    assert request.readline() == b"line\n"
    assert request.readline() == b"second line\n"
    assert request.read() == b"the rest"


def test_a_megabyte_takes_a_few_large_receives_not_a_thousand_small_ones():
    data = b"z" * (1024 * 1024)
    request, peer = request_body(data)
    reads = []
    read = request.reader.read
    request.reader.read = lambda size: reads.append(size) or read(size)

    assert request.read(len(data)) == data

    assert reads == [len(data)]  # gunicorn's own asks its reader for 1 KiB at a time
    assert set(peer.asked) == {SOCKET_READ_BYTES}
    assert len(peer.asked) <= len(data) // SOCKET_READ_BYTES + 1


@pytest.fixture
def gunicorn_io():
    originals = (wsgi.Response.write, body.Body.read, unreader.SocketUnreader.chunk)
    yield
    wsgi.Response.write, body.Body.read, unreader.SocketUnreader.chunk = originals


def test_the_gunicorn_configuration_that_serve_uses_installs_both(gunicorn_io):
    runpy.run_path(str(Path(studio.__file__).parent / "gunicorn_conf.py"))

    assert wsgi.Response.write is _write_headers_with_body
    assert body.Body.read is _read_body
    assert unreader.SocketUnreader.chunk is _receive
