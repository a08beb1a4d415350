"""`manage.py serve`: the web server and a Celery worker, started and stopped together.

This is what `make run` and docker-compose run. It checks the configuration first (a bad
setting stops it here, with the message), makes the broker folders the embedded broker needs,
then starts gunicorn and/or the worker as child processes, prints the tracking URI, and stops
them all on Ctrl-C or when one of them dies.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from studio.celery import make_broker_folders
from tracking.models.compute import DEFAULT_TARGET, queue_of

STOP_GRACE_SECONDS = 10
WEB_FIRST_SECONDS = 10
_TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _wait_for_port(host: str, port: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    address = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host.strip("[]")
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)


class Command(BaseCommand):
    help = "Serves the studio and the MLflow API with gunicorn, and runs a Celery worker beside it."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--only", choices=["web", "worker"], help="start just one of the two")
        parser.add_argument("--host", default=settings.STUDIO_HOST)
        parser.add_argument("--port", type=int, default=settings.STUDIO_PORT)
        parser.add_argument(
            "--queues",
            default="",
            help="compute targets whose jobs the worker takes, comma-separated (e.g. gpu-a100); without "
            "it, the worker serves the target 'default' and the server's own work",
        )
        parser.add_argument(
            "--concurrency", type=int, default=None, help="jobs and tasks the worker runs at once (default 4)"
        )
        parser.add_argument(
            "--no-beat",
            action="store_true",
            help="do not run the periodic tasks (sweeps, alerts, statistics) in this worker: with several "
            "machines, one default worker runs them and the others take work only",
        )

    def handle(
        self,
        *args,
        only: str | None,
        host: str,
        port: int,
        queues: str,
        concurrency: int | None,
        no_beat: bool = False,
        **options,
    ) -> None:
        targets = [name.strip() for name in queues.split(",") if name.strip()]
        bad = [name for name in targets if not _TARGET_NAME.fullmatch(name)]
        if bad:
            raise CommandError(
                f"Compute target names are lowercase letters, digits and dashes: {', '.join(bad)}."
            )
        make_broker_folders()
        children: list[subprocess.Popen] = []
        if only in (None, "web"):
            # The web processes decide between local mode and required authentication by the
            # address they listen on (settings.STUDIO_REQUIRE_AUTH), so they must know it.
            os.environ["STUDIO_HOST"] = host
            children.append(self._start(self.web_command(host, port)))
            if only is None:
                # The worker's start-up is heavy: let the web server load first (on two cores,
                # starting both at once delays the first answer by seconds).
                _wait_for_port(host, port, WEB_FIRST_SECONDS)
        if only in (None, "worker"):
            children.append(
                self._start(
                    self.worker_command(targets, concurrency, beat=not no_beat),
                    self.worker_environment(targets, concurrency),
                )
            )
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

    def worker_command(self, targets: list[str], concurrency: int | None, *, beat: bool = True) -> list[str]:
        """The default worker takes the server's own work and the target "default", and runs the
        periodic tasks (beat) unless told not to; a worker of named targets takes only those
        targets' jobs."""
        slots = str(concurrency or os.environ.get("STUDIO_WORKER_CONCURRENCY") or 4)
        name = f"{'+'.join(targets) or 'default'}.{os.getpid()}@%h"
        command = [
            sys.executable, "-m", "celery", "-A", "studio", "worker", "-n", name,
            "--pool", "threads", "--concurrency", slots, "--loglevel", "INFO",
            "--without-gossip", "--without-mingle",
        ]  # fmt: skip
        if targets:
            return [*command, "-Q", ",".join(queue_of(target) for target in targets)]
        if not beat:
            return command
        return [*command, "--beat", "--schedule", settings.CELERY_BEAT_SCHEDULE_FILENAME]

    def worker_environment(self, targets: list[str], concurrency: int | None) -> dict[str, str]:
        """What the worker says of itself in its heartbeats (studio.celery), and its patience."""
        return {
            "STUDIO_SQLITE_BUSY_SECONDS": "30",  # imports and deletions may wait for the lock
            **os.environ,
            "STUDIO_WORKER_TARGETS": ",".join(targets or [DEFAULT_TARGET]),
            "STUDIO_WORKER_GENERAL": "false" if targets else "true",
            "STUDIO_WORKER_CONCURRENCY": str(concurrency or os.environ.get("STUDIO_WORKER_CONCURRENCY") or 4),
        }

    def _start(self, command: list[str], environment: dict[str, str] | None = None) -> subprocess.Popen:
        # Own process group each, so Ctrl-C reaches them only through us, in order; and on
        # Linux they are told to stop if we die without getting to stop them.
        return subprocess.Popen(command, env=environment, start_new_session=True, preexec_fn=_die_with_parent)

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
