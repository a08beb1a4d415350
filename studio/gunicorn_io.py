"""Two changes to how gunicorn moves bytes, installed by `gunicorn_conf.py`.

**Small answers leave in one write.** Gunicorn sends a response's headers and its body with two `sendall` calls. A worker killed between
the two (SIGKILL, the OOM killer, a crash) leaves the client holding a status line and a
Content-Length with no body: `requests` raises `IncompleteRead`, which MLflow's client does not
retry, so a training script loses a call that the server had committed. Sent in one write, an
answer that fits the socket's buffer arrives whole or not at all; "not at all" is a dropped
connection, which the client retries (and batches are idempotent: points are stored once).

**Request bodies are read in large pieces.** Gunicorn's `Body.read(n)` gathers `n` bytes 1 KiB at
a time from a socket read 8 KiB at a time, each piece passing through a BytesIO: an artifact
upload spent most of its time there, slower than MLflow's own server. Here a body read asks its
reader for everything still missing at once, and the socket is read 64 KiB at a time.

**An upload is received straight into its buffer.** Even read in large pieces, every byte of a
body was copied three times in Python (into the reader's BytesIO, out of it, and sliced) besides
the kernel's copy. `Body.readinto(buffer)` (which `tracking.artifacts.iter_chunks` uses) fills
the caller's buffer with `recv_into` for a body of known length: only the kernel copies.
"""

from __future__ import annotations

import io

from gunicorn import util
from gunicorn.http import body, unreader, wsgi

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


# Below the allocator's mmap threshold (128 KiB): a larger receive buffer would cost a system
# call to map and unmap it on every read, small API calls included.
SOCKET_READ_BYTES = 64 * 1024


def _read_body(request_body: body.Body, size: int | None = None) -> bytes:
    wanted = request_body.getsize(size)
    if wanted == 0:
        return b""
    kept = request_body.buf.getvalue()  # what an earlier read took beyond its size
    pieces = [kept] if kept else []
    have = len(kept)
    while have < wanted:
        piece = request_body.reader.read(wanted - have)
        if not piece:
            break
        pieces.append(piece)
        have += len(piece)
    data = b"".join(pieces)  # one piece comes back as it is, without a copy
    request_body.buf = io.BytesIO()
    request_body.buf.write(data[wanted:])
    return data[:wanted] if have > wanted else data


def _receive(socket_unreader: unreader.SocketUnreader) -> bytes:
    return socket_unreader.sock.recv(max(socket_unreader.mxchunk, SOCKET_READ_BYTES))


def _read_body_into(request_body: body.Body, buffer) -> int:
    """Fills `buffer` with the next bytes of the body; 0 at its end (or when the client is gone)."""
    view = memoryview(buffer).cast("B")
    reader = request_body.reader
    kept = request_body.buf.getvalue()  # what an earlier read() took beyond its size
    if kept or not isinstance(reader, body.LengthReader) or not hasattr(reader.unreader, "sock"):
        # Chunked bodies, and the rare read after read(): through read(), with its copies.
        data = _read_body(request_body, len(view))
        view[: len(data)] = data
        return len(data)
    room = min(len(view), reader.length)
    if room <= 0:
        return 0
    # Bytes the request's parser read beyond the headers come first.
    ahead = reader.unreader.buf.getvalue()
    if ahead:
        taken = min(len(ahead), room)
        view[:taken] = ahead[:taken]
        reader.unreader.buf = io.BytesIO()
        reader.unreader.buf.write(ahead[taken:])
    else:
        taken = reader.unreader.sock.recv_into(view, room)
    reader.length -= taken
    return taken


def read_bodies_in_large_pieces() -> None:
    body.Body.read = _read_body
    body.Body.readinto = _read_body_into
    unreader.SocketUnreader.chunk = _receive
