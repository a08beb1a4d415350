"""Registering scorers (MLflow 3 GenAI): each registration of a name adds its next version.

The server stores the serialized scorer as the client sent it and never runs it, so an
`@scorer` function's source is data here, not code (MLflow's own server refuses those unless
told to execute them; there is nothing to execute here).
"""

from __future__ import annotations

import uuid

import orjson
from django.db import transaction
from django.db.models import Max

from tracking.errors import InvalidParameterValue, ResourceDoesNotExist
from tracking.models import Experiment, Scorer, ScorerVersion
from tracking.times import now_to_the_ms

MAX_NAME_LENGTH = 256


def check_experiment_is_active(experiment: Experiment) -> None:
    if not experiment.is_active:
        raise InvalidParameterValue(
            f"The experiment {experiment.experiment_id} must be in the 'active' state. Current state is deleted."
        )


def register_scorer(*, experiment: Experiment, name: str, serialized_scorer: str) -> ScorerVersion:
    if not name.strip():
        raise InvalidParameterValue("Scorer name cannot be empty or contain only whitespace.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(
            f"Scorer name has {len(name)} characters; at most {MAX_NAME_LENGTH} are accepted."
        )
    try:
        serialized = orjson.loads(serialized_scorer)
    except orjson.JSONDecodeError:
        raise InvalidParameterValue("serialized_scorer must be valid JSON") from None
    if not isinstance(serialized, dict):
        raise InvalidParameterValue("serialized_scorer must be a JSON object.")
    check_experiment_is_active(experiment)
    with transaction.atomic():
        scorer, _ = Scorer.objects.get_or_create(
            experiment=experiment, name=name, defaults={"scorer_id": str(uuid.uuid4())}
        )
        # The lock orders concurrent registrations of one name, so each gets its own number.
        Scorer.objects.select_for_update().filter(pk=scorer.pk).first()
        latest = ScorerVersion.objects.filter(scorer=scorer).aggregate(latest=Max("version"))["latest"]
        version = ScorerVersion.objects.create(
            scorer=scorer,
            version=(latest or 0) + 1,
            serialized_scorer=serialized_scorer,
            created_at=now_to_the_ms(),
        )
    version.scorer = scorer
    return version


def delete_scorer(*, experiment: Experiment, name: str, version: int | None = None) -> None:
    """One version, or with `version` None all of them; a name left without versions goes too."""
    check_experiment_is_active(experiment)
    with transaction.atomic():
        scorer = Scorer.objects.select_for_update().filter(experiment=experiment, name=name).first()
        if scorer is None:
            raise ResourceDoesNotExist(
                f"Scorer with name '{name}' not found for experiment {experiment.experiment_id}."
            )
        if version is None:
            scorer.delete()
            return
        deleted, _ = ScorerVersion.objects.filter(scorer=scorer, version=version).delete()
        if not deleted:
            raise ResourceDoesNotExist(
                f"Scorer with name '{name}' and version {version} not found for experiment {experiment.experiment_id}."
            )
        if not ScorerVersion.objects.filter(scorer=scorer).exists():
            scorer.delete()
