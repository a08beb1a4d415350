"""`manage.py import_mlruns PATH`: bring an MLflow file store into a workspace.

PATH is an `mlruns/` folder (or a folder holding one), or a .zip/.tar.gz of one. The import is
a row that a Celery worker carries out; this command creates it, then follows it with a progress
bar until it ends (`--no-wait` returns at once; `--in-process` does the work here, with no
worker). The exit status is 0 when the import succeeded, 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tracking.errors import MlflowError, ResourceDoesNotExist
from tracking.ingest.importer import run_import, worker_name
from tracking.ingest.report import ordered_counts
from tracking.management.following import Follower
from tracking.models import Import, ResourceGroup, Workspace
from tracking.models.work import SUCCEEDED
from tracking.services.imports import create_import
from tracking.services.workspaces import create_resource_group, create_workspace
from tracking.workspaces import resolve_workspace

SHOWN_PROBLEMS = 20


class Command(BaseCommand):
    help = "Imports an MLflow file store (an mlruns/ folder, or a .zip/.tar.gz of one) into a workspace."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", help="an mlruns/ folder, a folder holding one, or a .zip/.tar.gz archive")
        parser.add_argument(
            "--workspace", default="default", help="the workspace to import into (default: default)"
        )
        parser.add_argument(
            "--create-workspace",
            action="store_true",
            help="create the workspace first when it does not exist (in --resource-group)",
        )
        parser.add_argument(
            "--resource-group",
            default="default",
            help="the resource group of a workspace made by --create-workspace (made too when missing; "
            "default: default)",
        )
        parser.add_argument("--no-wait", action="store_true", help="queue the import and return at once")
        parser.add_argument("--in-process", action="store_true", help="import here instead of in a worker")

    def handle(
        self,
        *args,
        path: str,
        workspace: str,
        create_workspace: bool,
        resource_group: str,
        no_wait: bool,
        in_process: bool,
        **options,
    ) -> None:
        source = Path(path).expanduser().absolute()
        if not source.exists():
            raise CommandError(f"{source} does not exist.")
        target = self._workspace(workspace, create=create_workspace, resource_group=resource_group)
        kind = Import.FOLDER if source.is_dir() else Import.ARCHIVE
        row = create_import(
            workspace=target,
            source_kind=kind,
            source_path=str(source),
            source_name=str(source),
            enqueue=not in_process,
        )
        self.stdout.write(f"Import {row.pk}: {source} into workspace '{target.name}'.")
        follower = Follower(
            self,
            no_worker_hint="Start one (`manage.py serve`, or `serve --only worker`), or import with --in-process.",
        )
        if in_process:
            run_import(row.pk, worker=worker_name("cli"), on_progress=follower.show)
            follower.end_line()
            row.refresh_from_db()
        elif no_wait:
            self.stdout.write(
                f"Queued; follow it with GET /api/studio/v1/workspaces/{target.name}/imports/{row.pk}"
            )
            return
        else:
            row = follower.follow(Import, row.pk)
        self._summary(row)
        if row.status != SUCCEEDED:
            raise CommandError(f"Import {row.pk} {row.status.lower()}: {row.error or 'see above'}")

    def _workspace(self, name: str, *, create: bool, resource_group: str) -> Workspace:
        try:
            return resolve_workspace(name)
        except ResourceDoesNotExist as error:
            if not create:
                raise CommandError(
                    f"{error.message} Add --create-workspace to create it "
                    f"(in resource group '{resource_group}'; --resource-group to choose another)."
                ) from None
        try:
            group = ResourceGroup.objects.filter(name=resource_group).first() or create_resource_group(
                name=resource_group
            )
            made = create_workspace(resource_group=group, name=name)
        except MlflowError as error:
            raise CommandError(error.message) from None
        self.stdout.write(f"Created workspace '{made.name}' in resource group '{group.name}'.")
        return made

    # The report

    def _summary(self, row: Import) -> None:
        self.stdout.write(f"\nImport {row.pk}: {row.status}")
        rows = ordered_counts(row.counts)
        if rows:
            self.stdout.write(f"  {'':<22}{'read':>12}{'written':>12}")
            for kind, read, written in rows:
                self.stdout.write(f"  {kind:<22}{read:>12}{written:>12}")
        renumbered = {old: new for old, new in row.experiment_numbers.items() if str(old) != str(new)}
        if renumbered:
            self.stdout.write("  Experiments with another id here:")
            for old, new in renumbered.items():
                self.stdout.write(f"    {old} -> {new}")
        if row.problem_count:
            self.stdout.write(f"  {row.problem_count} problems:")
            for problem in row.problems[:SHOWN_PROBLEMS]:
                self.stdout.write(f"    {problem['file']}: {problem['message']}")
            if row.problem_count > SHOWN_PROBLEMS:
                self.stdout.write(
                    f"    ... and {row.problem_count - SHOWN_PROBLEMS} more (all kept on the import)."
                )
        if row.error:
            self.stderr.write(f"  Error: {row.error}")
