"""`manage.py delete KIND NAME`: deleting a resource group, a workspace, an experiment or a run
for good, rows and files.

It prints the dry run (what will go, and how many bytes), asks for the name to be typed back
(`--yes` skips that, for scripts), then queues the deletion for a Celery worker and follows it
with a progress bar until it ends. `--dry-run` stops after the plan, `--no-wait` returns once it
is queued, and `--in-process` does the work here, with no worker.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from tracking.deletion.plan import LABELS, make_plan
from tracking.deletion.purge import carry_out
from tracking.deletion.scope import Scope, find_scope
from tracking.errors import InvalidParameterValue, MlflowError
from tracking.management.following import Follower
from tracking.models import Deletion
from tracking.models.work import SUCCEEDED
from tracking.services.deletions import request_deletion

KINDS = {
    "resource-group": Deletion.RESOURCE_GROUP,
    "workspace": Deletion.WORKSPACE,
    "experiment": Deletion.EXPERIMENT,
    "run": Deletion.RUN,
}


class Command(BaseCommand):
    help = "Deletes a resource group, a workspace, an experiment or a run for good (rows and files)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("kind", choices=sorted(KINDS))
        parser.add_argument("name", help="its name (an experiment's name or id; a run's id)")
        parser.add_argument("--workspace", default="default", help="where the experiment or run is")
        parser.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
        parser.add_argument("--yes", action="store_true", help="do not ask to type the name back")
        parser.add_argument("--no-wait", action="store_true", help="return once the deletion is queued")
        parser.add_argument("--in-process", action="store_true", help="delete here instead of on a worker")

    def handle(self, *args, kind: str, name: str, workspace: str, **options) -> None:
        try:
            scope = find_scope(KINDS[kind], name, workspace)
        except MlflowError as missing:
            raise CommandError(missing.message) from None
        plan = make_plan(scope)
        self._show_plan(kind, scope, plan)
        if plan["blockers"]:
            raise CommandError(" ".join(plan["blockers"]))
        if options["dry_run"]:
            return
        typed = scope.name if options["yes"] else input(f"Type {scope.name} to delete it for good: ")
        try:
            row = request_deletion(scope, confirmation=typed, enqueue=not options["in_process"])
        except InvalidParameterValue as refused:
            raise CommandError(refused.message) from None
        self.stdout.write(f"Deletion {row.pk} queued.")
        if options["no_wait"] and not options["in_process"]:
            return
        follower = Follower(
            self, no_worker_hint="Start one (`manage.py serve`), or delete with --in-process."
        )
        if options["in_process"]:
            carry_out(row.pk, worker="cli")
        row = follower.follow(Deletion, row.pk)
        self._show_counts(row)
        if row.status != SUCCEEDED:
            raise CommandError(f"Deletion {row.pk} {row.status.lower()}: {row.error or 'see above'}")

    def _show_plan(self, kind: str, scope: Scope, plan: dict) -> None:
        self.stdout.write(f"Deleting the {kind} {scope.name} removes, for good:")
        for key, label in LABELS.items():
            if plan.get(key):
                self.stdout.write(f"  {label:<22}{plan[key]:>14,}")

    def _show_counts(self, row: Deletion) -> None:
        self.stdout.write(f"Deletion {row.pk}: {row.status}")
        for key, label in LABELS.items():
            if row.counts.get(key):
                self.stdout.write(f"  {label:<22}{row.counts[key]:>14,}")
