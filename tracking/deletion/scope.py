"""What a deletion covers: the rows and the artifact folders under a resource group, a
workspace, an experiment or a run.

Artifact folders are removed only where they are certainly the target's own: a workspace's
whole prefix, an experiment's folder when it is the one the server gave it, and each run's and
logged model's folder (named by their ids). An experiment created with an artifact location of
its own choosing may share a folder with another; its runs' and models' folders still go.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from registry.models import ModelVersion, RegisteredModel
from registry.queries.storage import describe, versions_using
from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import (
    Deletion,
    EvaluationDataset,
    Experiment,
    Issue,
    LabelSchema,
    LoggedModel,
    ResourceGroup,
    ReviewQueue,
    Run,
    Scorer,
    Trace,
    Workspace,
)
from tracking.models.workspaces import DEFAULT_WORKSPACE
from tracking.services.artifacts import proxy_path, workspace_prefix
from tracking.services.experiments import artifact_location_for
from tracking.workspaces import resolve_workspace

DEFAULT_EXPERIMENT_NUMBER = 0


@dataclass
class Scope:
    kind: str
    target: ResourceGroup | Workspace | Experiment | Run
    workspaces: list[Workspace] = field(default_factory=list)

    @property
    def name(self) -> str:
        if isinstance(self.target, Run):
            return self.target.uuid
        return self.target.name

    @property
    def whole_workspaces(self) -> bool:
        """Whether whole workspaces go (their folders are then removed in one piece, at the end)."""
        return self.kind in (Deletion.RESOURCE_GROUP, Deletion.WORKSPACE)

    def runs(self) -> QuerySet[Run]:
        if self.kind == Deletion.RUN:
            return Run.objects.filter(pk=self.target.pk)
        if self.kind == Deletion.EXPERIMENT:
            return Run.objects.filter(experiment_id=self.target.pk)
        return Run.objects.filter(experiment__workspace__in=self.workspaces)

    def experiments(self) -> QuerySet[Experiment]:
        if self.kind == Deletion.RUN:
            return Experiment.objects.none()
        if self.kind == Deletion.EXPERIMENT:
            return Experiment.objects.filter(pk=self.target.pk)
        return Experiment.objects.filter(workspace__in=self.workspaces)

    def traces(self) -> QuerySet[Trace]:
        return Trace.objects.filter(experiment__in=self.experiments())

    def logged_models(self) -> QuerySet[LoggedModel]:
        return LoggedModel.objects.filter(experiment__in=self.experiments())

    def scorers(self) -> QuerySet[Scorer]:
        return Scorer.objects.filter(experiment__in=self.experiments())

    def issues(self) -> QuerySet[Issue]:
        return Issue.objects.filter(experiment__in=self.experiments())

    def label_schemas(self) -> QuerySet[LabelSchema]:
        return LabelSchema.objects.filter(experiment__in=self.experiments())

    def review_queues(self) -> QuerySet[ReviewQueue]:
        return ReviewQueue.objects.filter(experiment__in=self.experiments())

    def evaluation_datasets(self) -> QuerySet[EvaluationDataset]:
        """A dataset belongs to its workspace, not to the experiments it is associated with."""
        if not self.whole_workspaces:
            return EvaluationDataset.objects.none()
        return EvaluationDataset.objects.filter(workspace__in=self.workspaces)

    def registered_models(self) -> QuerySet[RegisteredModel]:
        if not self.whole_workspaces:
            return RegisteredModel.objects.none()
        return RegisteredModel.objects.filter(workspace__in=self.workspaces)

    def blockers(self) -> list[str]:
        """Why this deletion may not go ahead; empty when it may."""
        if self.whole_workspaces:
            defaults = [w.name for w in self.workspaces if w.name == DEFAULT_WORKSPACE]
            if defaults:
                return [
                    "The default workspace serves the tracking URI without /ws/<name>/ and is kept; "
                    "delete its experiments instead."
                ]
            return []
        if self.kind == Deletion.EXPERIMENT:
            if self.target.number == DEFAULT_EXPERIMENT_NUMBER:
                return [
                    "The Default experiment (id 0) is where runs go when none is named; delete its runs instead."
                ]
            versions = versions_stored_in(self.target)
            if versions:
                return [_kept_by(versions, "this experiment")]
        if self.kind == Deletion.RUN:
            folder = run_folder(self.target)
            versions = versions_using(self.workspaces[0].pk, folder) if folder else []
            if versions:
                return [_kept_by(versions, "this run's artifacts")]
        return []


def _kept_by(versions: list[tuple[str, int]], where: str) -> str:
    names = ", ".join(sorted({name for name, _ in versions}))
    return f"{describe(versions)} keep their files in {where}. Delete those versions of {names} first."


def run_folder(run: Run) -> str | None:
    """The run's own folder as an artifact proxy path ("1/<run id>"), if we serve its artifacts."""
    path = proxy_path(run.artifact_uri or "")
    if not path or run.uuid not in path.split("/"):
        return None
    head, _, tail = path.rpartition("/")
    return head if tail == "artifacts" else path


def versions_stored_in(experiment: Experiment) -> list[tuple[str, int]]:
    """(model name, version) of the registered versions whose files live in the experiment."""
    location = experiment.artifact_location.rstrip("/") + "/"
    return list(
        ModelVersion.objects.filter(
            registered_model__workspace_id=experiment.workspace_id, storage_location__startswith=location
        )
        .order_by("registered_model__name", "version")
        .values_list("registered_model__name", "version")
    )


def resolve(kind: str, target_id: int) -> Scope | None:
    """The scope of a deletion, or None when its target no longer exists (it is done)."""
    if kind == Deletion.RESOURCE_GROUP:
        group = ResourceGroup.objects.filter(pk=target_id).first()
        return group and Scope(
            kind, group, list(Workspace.objects.filter(resource_group=group).order_by("pk"))
        )
    if kind == Deletion.WORKSPACE:
        workspace = Workspace.objects.filter(pk=target_id).first()
        return workspace and Scope(kind, workspace, [workspace])
    if kind == Deletion.EXPERIMENT:
        experiment = Experiment.objects.select_related("workspace").filter(pk=target_id).first()
        return experiment and Scope(kind, experiment, [experiment.workspace])
    if kind == Deletion.RUN:
        run = Run.objects.select_related("experiment__workspace").filter(pk=target_id).first()
        return run and Scope(kind, run, [run.experiment.workspace])
    raise ValueError(f"Unknown kind of deletion {kind!r}")


# --- Artifact folders --------------------------------------------------------------------------


def own_folder(workspace_pk: int, uri: str, own_id: str) -> str | None:
    """The store path of a run's or a logged model's folder (the one named by its id), if `uri`
    is served by us and names it; None otherwise (files elsewhere are not ours to delete)."""
    path = proxy_path(uri or "")
    if not path or own_id not in path.split("/"):
        return None
    path = f"workspaces/{workspace_pk}/{path}"
    # `.../<id>/artifacts`: the folder to remove is the one named by the id.
    head, _, tail = path.rpartition("/")
    return head if tail == "artifacts" and head.endswith(own_id) else path


def experiment_folder(experiment: Experiment) -> str | None:
    """The experiment's folder when it is the one the server chose (so no other shares it)."""
    if experiment.artifact_location != artifact_location_for(experiment.number):
        return None
    path = proxy_path(experiment.artifact_location)
    return f"workspaces/{experiment.workspace_id}/{path}" if path else None


def workspace_folder(workspace: Workspace) -> str:
    return workspace_prefix(workspace)


def find_scope(kind: str, name: str, workspace_name: str | None = None) -> Scope:
    """The scope of a target named as people name it: a resource group or a workspace by name,
    an experiment by name or id and a run by id, inside `workspace_name` (the default one when
    none is given). RESOURCE_DOES_NOT_EXIST when there is no such thing."""
    if kind == Deletion.RESOURCE_GROUP:
        group = ResourceGroup.objects.filter(name=name).first()
        if group is None:
            raise ResourceDoesNotExist(f"Resource group '{name}' does not exist.")
        return Scope(kind, group, list(Workspace.objects.filter(resource_group=group).order_by("pk")))
    if kind == Deletion.WORKSPACE:
        workspace = resolve_workspace(name)
        return Scope(kind, workspace, [workspace])
    workspace = resolve_workspace(workspace_name)
    if kind == Deletion.EXPERIMENT:
        experiments = Experiment.objects.filter(workspace=workspace)
        found = experiments.filter(name=name).first()
        if found is None and name.isdigit():
            found = experiments.filter(number=int(name)).first()
        if found is None:
            raise ResourceDoesNotExist(f"No experiment '{name}' in workspace '{workspace.name}'.")
        return Scope(kind, found, [workspace])
    if kind == Deletion.RUN:
        run = Run.objects.filter(uuid=name, experiment__workspace=workspace).first()
        if run is None:
            raise ResourceDoesNotExist(f"No run '{name}' in workspace '{workspace.name}'.")
        return Scope(kind, run, [workspace])
    raise InvalidParameterValue(
        f"Unknown kind {kind!r}: use one of {', '.join(k for k, _ in Deletion.KINDS)}."
    )
