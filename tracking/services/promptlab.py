"""Prompt-engineering runs: what MLflow's UI records when someone evaluates a prompt template."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from tracking.errors import MlflowError
from tracking.models import Experiment, Run

from .artifacts import proxy_path, save_artifact
from .runs import Batch, create_run, log_batch, update_run

EVAL_RESULTS_FILE = "eval_results_table.json"
LOGGED_ARTIFACTS_TAG = "mlflow.loggedArtifacts"
RUN_SOURCE_TYPE_TAG = "mlflow.runSourceType"


def create_promptlab_run(
    *,
    experiment: Experiment,
    user_id: str,
    run_name: str = "",
    start_time: datetime | None = None,
    tags: Sequence[tuple[str, str]] = (),
    prompt_template: str,
    prompt_parameters: Sequence[tuple[str, str]],
    model_route: str,
    model_parameters: Sequence[tuple[str, str]] = (),
    model_input: str,
    model_output: str = "",
    model_output_parameters: Sequence[tuple[str, str]] = (),
) -> Run:
    """A finished run holding one evaluation of a prompt, as MLflow's server records it.

    1. Create the run with its parameters (the model's, its route, the template) and the tags
       that mark it as prompt engineering, in one transaction.
    2. Store the evaluation (parameters, prompt, output) as the run's `eval_results_table.json`,
       the table MLflow's UI shows.
    3. Finish the run, or fail it if the table could not be stored.
    """
    with transaction.atomic():
        run = create_run(
            experiment=experiment, user_id=user_id, run_name=run_name, start_time=start_time, tags=tags
        )
        log_batch(
            run=run,
            batch=Batch(
                params=[
                    *model_parameters,
                    ("model_route", model_route),
                    ("prompt_template", prompt_template),
                ],
                tags=[
                    (LOGGED_ARTIFACTS_TAG, json.dumps([{"path": EVAL_RESULTS_FILE, "type": "table"}])),
                    (RUN_SOURCE_TYPE_TAG, "PROMPT_ENGINEERING"),
                ],
            ),
        )
    table = {
        "columns": [key for key, _ in prompt_parameters]
        + ["prompt", "output"]
        + [key for key, _ in model_output_parameters],
        "data": [
            [value for _, value in prompt_parameters]
            + [model_input, model_output]
            + [value for _, value in model_output_parameters]
        ],
    }
    try:
        save_artifact(
            workspace=experiment.workspace,
            path=f"{proxy_path(run.artifact_uri)}/{EVAL_RESULTS_FILE}",
            stream=io.BytesIO(json.dumps(table).encode()),
        )
    except (MlflowError, OSError):
        return update_run(run=run, status="FAILED", end_time=timezone.now())
    return update_run(run=run, status="FINISHED", end_time=timezone.now())
