"""Gunicorn settings for `manage.py serve` and docker-compose's web service."""

import os

workers = int(os.environ.get("STUDIO_WEB_WORKERS") or min(max(2 * (os.cpu_count() or 1), 2), 8))
# Threads let a worker overlap database and disk waits; kept-alive connections spare the MLflow
# client (a requests.Session) a TCP handshake per call. Gunicorn sets TCP_NODELAY on its socket.
worker_class = "gthread"
threads = int(os.environ.get("STUDIO_WEB_THREADS") or 4)
# The application is loaded once, by the master, and its workers are forked from it: they are all
# ready as soon as one would be (a restart serves again in about a second), and share its pages.
preload_app = True
keepalive = 30
timeout = 300
graceful_timeout = 10
accesslog = os.environ.get("STUDIO_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("STUDIO_LOG_LEVEL", "info").lower()
# Uploads and downloads stream through the workers; no request body size limit at this layer.
# MLflow's UI asks for a metric of up to 100 runs in one query string (and its server reads longer
# ones); gunicorn silently caps this setting at its own 8190 unless its ceiling is raised too.
limit_request_line = 16384

from gunicorn.http import message  # noqa: E402

message.MAX_REQUEST_LINE = limit_request_line + 1

# A worker killed mid-answer must not leave a client with headers and no body; uploads must not
# be read 1 KiB at a time (see the module).
from studio.gunicorn_io import read_bodies_in_large_pieces, send_small_answers_in_one_write  # noqa: E402

send_small_answers_in_one_write()
read_bodies_in_large_pieces()


def post_fork(server, worker):
    """Each web worker writes SQLite's WAL back from a thread, so that no request's commit does
    (studio.sqlite_checkpoints; nothing to do on PostgreSQL)."""
    from django.conf import settings

    from studio.sqlite_checkpoints import start_checkpointer

    start_checkpointer(settings.SQLITE_CHECKPOINT_SECONDS)
