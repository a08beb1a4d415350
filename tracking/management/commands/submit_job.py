"""`manage.py submit_job FOLDER --experiment NAME -- python train.py --alpha 0.5`: run a job.

The folder is zipped (what its .gitignore files exclude is left out) into the job's snapshot;
the command after `--` is what the worker runs in it (or `--entry-point` names an entry point of
the folder's MLproject file, with `-P name=value` parameters). The job's run is created at once;
a Celery worker runs the command. The command then follows the job, printing its output as it
comes, until it ends (`--no-wait` returns at once). The exit status is 0 when the job succeeded.
"""

from __future__ import annotations

import secrets
import shlex
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from studio_sdk.snapshots import SnapshotTooLarge, zip_folder

from tracking.errors import MlflowError
from tracking.management.following import NO_WORKER_WARNING_SECONDS, POLL_SECONDS, worker_alive
from tracking.models import Job
from tracking.models.work import SUCCEEDED
from tracking.queries.jobs import read_output
from tracking.services.jobs import resolve_experiment, submit_job
from tracking.workspaces import resolve_workspace


class Command(BaseCommand):
    help = "Submits a folder and a command (or an MLproject entry point) as a job, and follows its output."

    def add_arguments(self, parser) -> None:
        parser.add_argument("folder", help="the source folder; its .gitignore files are honoured")
        parser.add_argument("--experiment", required=True, help="the experiment's name (created if new)")
        parser.add_argument("--workspace", default="default", help="the workspace (default: default)")
        parser.add_argument("--entry-point", default="", help="an entry point of the folder's MLproject file")
        parser.add_argument(
            "-P",
            "--param",
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="an entry point parameter",
        )
        parser.add_argument("--run-name", default="", help="the run's name (a generated one otherwise)")
        parser.add_argument("--time-limit", type=int, default=None, help="seconds the job may run")
        parser.add_argument("--compute", default="", help="the compute target to run on (default: default)")
        parser.add_argument("--no-wait", action="store_true", help="submit and return at once")

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        """Everything after `--` is the command, options of its own included (argparse would
        take `--alpha` for an option of ours, or give all after FOLDER to a remainder)."""
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.usage = "%(prog)s FOLDER --experiment NAME [options] [-- COMMAND ...]"
        parse = parser.parse_args

        def parse_args(args=None, namespace=None):
            args = list(sys.argv[2:] if args is None else args)
            words: list[str] = []
            if "--" in args:
                split = args.index("--")
                args, words = args[:split], args[split + 1 :]
            parsed = parse(args, namespace)
            parsed.command = words
            return parsed

        parser.parse_args = parse_args
        return parser

    def handle(self, *args, folder: str, experiment: str, workspace: str, entry_point: str, param: list[str],
               run_name: str, time_limit: int | None, compute: str, no_wait: bool, command: list[str],
               **options) -> None:  # fmt: skip
        source = Path(folder).expanduser().absolute()
        if not source.is_dir():
            raise CommandError(f"{source} is not a folder.")
        parameters = {}
        for item in param:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"-P {item}: write parameters as NAME=VALUE.")
            parameters[name] = value
        try:
            target = resolve_workspace(workspace)
        except MlflowError as error:
            raise CommandError(error.message) from None
        snapshot = self._zip(source)
        try:
            job = submit_job(
                workspace=target,
                experiment=resolve_experiment(workspace=target, experiment_name=experiment),
                snapshot=snapshot,
                source_name=str(source),
                command=shlex.join(command),
                entry_point=entry_point,
                parameters=parameters,
                time_limit_seconds=time_limit,
                compute_target=compute,
                run_name=run_name,
            )
        except MlflowError as error:
            snapshot.unlink(missing_ok=True)
            raise CommandError(error.message) from None
        self.stdout.write(
            f"Job {job.pk}: run {job.run.uuid} in experiment '{experiment}' of workspace '{target.name}'.\n"
            f"  {settings.SERVER_URL}/ws/{target.name}/jobs/{job.pk}/"
        )
        if no_wait:
            self.stdout.write(
                f"Queued; follow it with GET /api/studio/v1/workspaces/{target.name}/jobs/{job.pk}"
            )
            return
        try:
            job = self._follow(job.pk)
        except KeyboardInterrupt:
            self.stderr.write(
                f"\nStopped following; job {job.pk} goes on. Cancel it with "
                f"POST /api/studio/v1/workspaces/{target.name}/jobs/{job.pk}/cancel"
            )
            sys.exit(130)
        self.stdout.write(
            f"\nJob {job.pk}: {job.status} (run {job.run.status if job.run else 'deleted'}"
            f"{f', exit code {job.exit_code}' if job.exit_code is not None else ''})"
        )
        if job.status != SUCCEEDED:
            raise CommandError(job.error or f"Job {job.pk} {job.status.lower()}.")

    def _zip(self, source: Path) -> Path:
        folder = Path(settings.JOBS_DIR) / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        snapshot = folder / f"{secrets.token_hex(16)}.zip"
        try:
            files = zip_folder(source, snapshot, max_bytes=settings.JOB_MAX_SNAPSHOT_BYTES)
        except SnapshotTooLarge as error:
            snapshot.unlink(missing_ok=True)
            raise CommandError(str(error)) from None
        self.stdout.write(f"Snapshot: {len(files)} files, {snapshot.stat().st_size} bytes zipped.")
        return snapshot

    def _follow(self, pk: int) -> Job:
        offset, started, warned = 0, time.monotonic(), False
        while True:
            job = Job.objects.select_related("workspace", "run").get(pk=pk)
            data, _ = read_output(job, offset)
            while data:
                self.stdout.write(data.decode("utf-8", "replace"), ending="")
                self.stdout.flush()
                offset += len(data)
                data, _ = read_output(job, offset)
            if not job.is_active:
                return job
            if (
                not warned
                and job.status == "QUEUED"
                and time.monotonic() - started > NO_WORKER_WARNING_SECONDS
            ):
                if not worker_alive():
                    self.stderr.write("No worker seems to be running. Start one (`manage.py serve`).")
                warned = True
            time.sleep(POLL_SECONDS)
