"""The studio's list of registered models: a page with latest versions, tags and aliases, in two queries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import CharField, IntegerField, OuterRef, Subquery, Value
from django.db.models.functions import Cast

from registry.models import ModelVersion, RegisteredModel, RegisteredModelAlias, RegisteredModelTag
from registry.validation import PROMPT_TAG
from tracking.models import Workspace

MODEL_ORDERS = {"name": ("name", "pk"), "updated": ("-updated_at", "name")}


@dataclass
class ModelRow:
    pk: int
    name: str
    description: str
    updated_at: datetime
    latest_version: int | None
    tags: list[tuple[str, str]] = field(default_factory=list)
    aliases: list[tuple[str, int]] = field(default_factory=list)


def list_models(
    workspace: Workspace, *, name_contains: str, order: str, offset: int, limit: int
) -> list[ModelRow]:
    """A page of the workspace's registered models (prompts left out), in two queries.

    1. The models whose name contains `name_contains` (any case), with their highest version.
    2. Their tags and aliases, as one UNION.
    """
    latest = (
        ModelVersion.objects.filter(registered_model=OuterRef("pk")).order_by("-version").values("version")
    )
    prompts = RegisteredModelTag.objects.filter(key=PROMPT_TAG, value__iexact="true").values("model_id")
    models = (
        RegisteredModel.objects.filter(workspace=workspace)
        .exclude(pk__in=prompts)
        .annotate(latest_version=Subquery(latest[:1]))
        .order_by(*MODEL_ORDERS[order])
    )
    if name_contains:
        models = models.filter(name__icontains=name_contains)
    rows = [
        ModelRow(*values)
        for values in models.values_list("pk", "name", "description", "updated_at", "latest_version")[
            offset : offset + limit
        ]
    ]
    by_pk = {row.pk: row for row in rows}
    if not by_pk:
        return rows
    tags = RegisteredModelTag.objects.filter(model_id__in=by_pk).values_list(
        "model_id", Value(0, output_field=IntegerField()), "key", "value"
    )
    aliases = RegisteredModelAlias.objects.filter(model_id__in=by_pk).values_list(
        "model_id", Value(1, output_field=IntegerField()), "alias", Cast("version__version", CharField())
    )
    for model_pk, kind, key, value in sorted(tags.union(aliases, all=True)):
        if kind == 0:
            by_pk[model_pk].tags.append((key, value))
        else:
            by_pk[model_pk].aliases.append((key, int(value)))
    return rows
