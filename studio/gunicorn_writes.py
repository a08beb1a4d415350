"""Small answers leave gunicorn in one write.

Gunicorn sends a response's headers and its body with two `sendall` calls. A worker killed between
the two (SIGKILL, the OOM killer, a crash) leaves the client holding a status line and a
Content-Length with no body: `requests` raises `IncompleteRead`, which MLflow's client does not
retry, so a training script loses a call that the server had committed. Sent in one write, an
answer that fits the socket's buffer arrives whole or not at all; "not at all" is a dropped
connection, which the client retries (and batches are idempotent: points are stored once).
"""

from __future__ import annotations

from gunicorn import util
from gunicorn.http import wsgi

# Linux's smallest default send buffer: a write this size is copied to the socket in one go.
ONE_WRITE_BYTES = 16 * 1024

_write_in_two = wsgi.Response.write


def _write_headers_with_body(response: wsgi.Response, data: bytes) -> None:
    if (
        response.headers_sent
        or response.chunked
        or not isinstance(data, bytes)
        or len(data) > ONE_WRITE_BYTES
    ):
        _write_in_two(response, data)
        return
    if response.response_length is not None:
        data = data[: max(response.response_length - response.sent, 0)]
    lines = response.default_headers()
    lines.extend(f"{name}: {value}\r\n" for name, value in response.headers)
    head = util.to_bytestring("{}\r\n".format("".join(lines)), "latin-1")
    response.headers_sent = True
    response.sent += len(data)
    response.sock.sendall(head + data)


def send_small_answers_in_one_write() -> None:
    wsgi.Response.write = _write_headers_with_body
