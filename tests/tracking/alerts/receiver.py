"""A webhook receiver for tests: a real HTTP server on a thread, answering what a test tells it
and keeping what it was sent."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    def __init__(self) -> None:
        self.received: list[dict] = []
        self.paths: list[str] = []
        self.answers: list[int] = []  # statuses to answer, in turn; then 200
        self.redirect_to = ""
        self.delay = 0.0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.delay:
                    time.sleep(receiver.delay)
                receiver.paths.append(self.path)
                receiver.received.append(json.loads(body))
                status = receiver.answers.pop(0) if receiver.answers else 200
                if receiver.redirect_to:
                    status = 302
                self.send_response(status)
                if receiver.redirect_to:
                    self.send_header("Location", receiver.redirect_to)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/secret"

    def texts(self) -> list[str]:
        return [message["text"] for message in self.received]

    def headlines(self) -> list[str]:
        """Each message's first block: what fired, without the link, whose host is the server
        that delivered it (any server of a shared database may deliver a retry)."""
        return [message["blocks"][0]["text"]["text"] for message in self.received]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
