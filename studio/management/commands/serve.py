"""`manage.py serve`: the web server and a Celery worker, started and stopped together.

This is what `make run` and docker-compose run. It checks the configuration first (a bad
setting stops it here, with the message), makes the broker folders the embedded broker needs,
then starts gunicorn and/or the worker as child processes, prints the tracking URI, and stops
them all on Ctrl-C or when one of them dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from studio.celery import make_broker_folders

STOP_GRACE_SECONDS = 10


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


class Command(BaseCommand):
    help = "Serves the studio and the MLflow API with gunicorn, and runs a Celery worker beside it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--only", choices=["web", "worker"], help="start just one of the two")
        parser.add_argument("--host", default=settings.STUDIO_HOST)
        parser.add_argument("--port", type=int, default=settings.STUDIO_PORT)

    def handle(self, *args, only: str | None, host: str, port: int, **options) -> None:
        make_broker_folders()
        children: list[subprocess.Popen] = []
        if only in (None, "web"):
            # The web processes decide between local mode and required authentication by the
            # address they listen on (settings.STUDIO_REQUIRE_AUTH), so they must know it.
            os.environ["STUDIO_HOST"] = host
            children.append(self._start(self.web_command(host, port)))
        if only in (None, "worker"):
            children.append(self._start(self.worker_command()))
        if only in (None, "web"):
            self._banner(host, port)
        self._supervise(children)

    def web_command(self, host: str, port: int) -> list[str]:
        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        config = Path(__file__).resolve().parents[2] / "gunicorn_conf.py"
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "studio.wsgi:application",
            "-c",
            str(config),
            "--bind",
            bind,
        ]

    def worker_command(self) -> list[str]:
        concurrency = os.environ.get("STUDIO_WORKER_CONCURRENCY", "4")
        return [
            sys.executable, "-m", "celery", "-A", "studio", "worker", "--beat",
            "--pool", "threads", "--concurrency", concurrency, "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
            "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME,
        ]  # fmt: skip

    def _start(self, command: list[str]) -> subprocess.Popen:
        # Own process group each, so Ctrl-C reaches them only through us, in order; and on
        # Linux they are told to stop if we die without getting to stop them.
        return subprocess.Popen(command, start_new_session=True, preexec_fn=_die_with_parent)

    def _banner(self, host: str, port: int) -> None:
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        uri = f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"
        self.stdout.write(
            "\n"
            f"  Studio:        {uri}/\n"
            f"  Tracking URI:  {uri}\n"
            f'      import mlflow; mlflow.set_tracking_uri("{uri}")\n'
            f"  A workspace:   {uri}/ws/<workspace>\n"
            f"  Data:          {settings.DATA_DIR}\n"
            "  Ctrl-C stops the server and the worker.\n"
        )
        self.stdout.flush()

    def _supervise(self, children: list[subprocess.Popen]) -> None:
        stopping = False

        def stop(signum, frame) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for child in children:
                code = child.poll()
                if code is not None:
                    self.stderr.write(f"{child.args[2]} exited with status {code}; stopping everything.")
                    exit_code = code or 1
                    stopping = True
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        if exit_code:
            sys.exit(exit_code)
