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
    _read_body_into,
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

    def recv_into(self, buffer: memoryview, size: int) -> int:
        piece = self.recv(size)
        buffer[: len(piece)] = piece
        return len(piece)


def request_body(data: bytes, *, per_packet: int = 1_000_000, declared: int | None = None):
    peer = RecordingPeer(data, per_packet)
    source = unreader.SocketUnreader(peer)
    source.chunk = lambda: _receive(source)
    reader = body.LengthReader(source, len(data) if declared is None else declared)
    request = body.Body(reader)
    request.read = lambda size=None: _read_body(request, size)
    request.readinto = lambda buffer: _read_body_into(request, buffer)
    return request, peer


def receive_all(request, buffer_size: int) -> tuple[bytes, list[int]]:
    """The body as readinto delivers it, and how many bytes each call gave."""
    buffer, pieces, counts = bytearray(buffer_size), [], []
    while count := request.readinto(buffer):
        pieces.append(bytes(buffer[:count]))
        counts.append(count)
    return b"".join(pieces), counts


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


def test_an_upload_is_received_straight_into_the_callers_buffer_one_receive_per_call():
    data = bytes(range(256)) * 4096  # 1 MiB
    request, _ = request_body(data, per_packet=60_000)

    received, counts = receive_all(request, 256 * 1024)

    assert received == data
    assert counts == [60_000] * (len(data) // 60_000) + [len(data) % 60_000]
    assert request.reader.length == 0 and request.readinto(bytearray(10)) == 0


def test_bytes_the_parser_read_beyond_the_headers_come_first():
    request, _ = request_body(b"body-from-the-socket", declared=len(b"already-read;body-from-the-socket"))
    request.reader.unreader.unread(b"already-read;")

    received, _ = receive_all(request, 8)

    assert received == b"already-read;body-from-the-socket"


def test_a_body_is_received_no_further_than_its_declared_length():
    request, peer = request_body(b"0123456789next request", declared=10)

    received, _ = receive_all(request, 1024)

    assert received == b"0123456789"
    assert peer.data == b"next request"  # left on the socket for the next request on the connection


def test_readinto_after_a_read_continues_where_the_read_stopped():
    data = b"a" * 3000 + b"b" * 3000
    request, _ = request_body(data, per_packet=4096)

    first = request.read(1000)  # the reader took a whole packet; the rest is kept
    received, _ = receive_all(request, 1024)

    assert first + received == data


def test_a_client_gone_mid_upload_gives_zero_as_the_end_of_the_body():
    request, _ = request_body(b"short", declared=100)

    received, _ = receive_all(request, 64)

    assert received == b"short" and request.reader.length == 95  # the handler sees the shortfall


@pytest.fixture
def gunicorn_io():
    originals = (wsgi.Response.write, body.Body.read, unreader.SocketUnreader.chunk)
    yield
    wsgi.Response.write, body.Body.read, unreader.SocketUnreader.chunk = originals
    if hasattr(body.Body, "readinto"):
        del body.Body.readinto


def test_the_gunicorn_configuration_that_serve_uses_installs_both(gunicorn_io):
    runpy.run_path(str(Path(studio.__file__).parent / "gunicorn_conf.py"))

    assert wsgi.Response.write is _write_headers_with_body
    assert body.Body.read is _read_body
    assert body.Body.readinto is _read_body_into
    assert unreader.SocketUnreader.chunk is _receive
