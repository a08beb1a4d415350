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
from tracking.models import Experiment, OnlineScoringConfig, Scorer, ScorerVersion
from tracking.search.traces import parse_trace_filter
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


def _locked_scorer(experiment: Experiment, name: str) -> Scorer:
    """The scorer, locked until the transaction ends; RESOURCE_DOES_NOT_EXIST when there is none."""
    scorer = Scorer.objects.select_for_update().filter(experiment=experiment, name=name).first()
    if scorer is None:
        raise ResourceDoesNotExist(
            f"Scorer with name '{name}' not found for experiment {experiment.experiment_id}."
        )
    return scorer


def delete_scorer(*, experiment: Experiment, name: str, version: int | None = None) -> None:
    """One version, or with `version` None all of them; a name left without versions goes too."""
    check_experiment_is_active(experiment)
    with transaction.atomic():
        scorer = _locked_scorer(experiment, name)
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


# Where a serialized scorer names the judge model it calls (MLflow's judge, built-in scorer,
# memory-augmented judge and third-party scorer forms).
_MODEL_HOLDERS = (
    "instructions_judge_pydantic_data",
    "builtin_scorer_pydantic_data",
    "third_party_scorer_data",
)
GATEWAY_MODEL_PREFIX = "gateway:/"


def _judge_model(serialized: dict) -> str | None:
    for holder in _MODEL_HOLDERS:
        if isinstance(data := serialized.get(holder), dict) and data:
            model = data.get("model")
            return model if isinstance(model, str) else None
    memory = serialized.get("memory_augmented_judge_data")
    if isinstance(memory, dict) and isinstance(memory.get("base_judge"), dict):
        return _judge_model(memory["base_judge"])
    return None


def upsert_online_scoring_config(
    *, experiment: Experiment, name: str, sample_rate: float, filter_string: str | None
) -> OnlineScoringConfig:
    """Sets how the scorer `name` judges the experiment's traces as they arrive, replacing what
    was set before. Sampling any traces needs a judge behind the AI gateway (the server calls it,
    with the gateway's secrets), as MLflow requires."""
    if not 0.0 <= sample_rate <= 1.0:
        raise InvalidParameterValue(f"sample_rate must be between 0.0 and 1.0, got {sample_rate}")
    if filter_string:
        parse_trace_filter(filter_string)  # refused now rather than when traces arrive
    check_experiment_is_active(experiment)
    with transaction.atomic():
        scorer = _locked_scorer(experiment, name)
        latest = ScorerVersion.objects.filter(scorer=scorer).order_by("-version").first()
        if latest is not None and sample_rate > 0:
            model = _judge_model(orjson.loads(latest.serialized_scorer))
            if not (model and model.startswith(GATEWAY_MODEL_PREFIX) and model != GATEWAY_MODEL_PREFIX):
                raise InvalidParameterValue(
                    f"Scorer '{name}' does not use a gateway model. Automatic evaluation is only "
                    "supported for scorers that use gateway models."
                )
        config, _ = OnlineScoringConfig.objects.update_or_create(
            scorer=scorer,
            defaults={
                "online_scoring_config_id": uuid.uuid4().hex,
                "sample_rate": sample_rate,
                "filter_string": filter_string,
            },
        )
    config.scorer = scorer
    return config
