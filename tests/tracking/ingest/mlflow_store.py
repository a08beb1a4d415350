"""Builds a small MLflow file store with the real `mlflow` client: `python -m ... <folder>`.

Run in a child process by the tests' fixture, so that MLflow's global state (tracking URI,
active runs, environment) never leaks into other tests. Prints a JSON description of what it
made (run ids by name, experiment ids, model ids), which the tests compare against.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def build(folder: Path) -> dict:
    os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import mlflow
    import pandas as pd
    from mlflow import MlflowClient
    from sklearn.linear_model import LinearRegression

    uri = f"file://{folder}/mlruns"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(uri, uri)
    made: dict = {"runs": {}, "experiments": {}, "models": {}}
    files = folder / "files"
    (files / "deep" / "er").mkdir(parents=True)
    (files / "hello.txt").write_text("hello\n")
    (files / "deep" / "er" / "data.json").write_text('{"a": 1}')

    experiment_a = mlflow.set_experiment("exp-a")
    made["experiments"]["exp-a"] = experiment_a.experiment_id
    client.set_experiment_tag(experiment_a.experiment_id, "team", "vision")
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_params({"lr": "0.1", "batch": "32"})
        for step, value in enumerate([1.0, 0.5, float("nan"), float("inf"), float("-inf"), 0.25]):
            mlflow.log_metric("loss", value, step=step, timestamp=1_700_000_000_000 + step * 1000)
        mlflow.log_metric("train/acc", 0.9, step=3)
        mlflow.set_tags({"team": "vision", "note": "two\nlines"})
        mlflow.log_artifact(str(files / "hello.txt"))
        mlflow.log_artifacts(str(files / "deep"), artifact_path="nested")
        dataset = mlflow.data.from_pandas(pd.DataFrame({"x": [1, 2, 3]}), name="train-set")
        mlflow.log_input(dataset, context="training")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("x", 2.0, step=1)
        model_info = mlflow.sklearn.log_model(LinearRegression().fit([[1], [2]], [1, 2]), name="model")
    made["runs"]["parent"] = parent.info.run_id
    made["runs"]["child"] = child.info.run_id
    made["models"]["logged"] = model_info.model_id

    with mlflow.start_run(run_name="failing") as failing:
        mlflow.log_metric("m", 3.0)
    client.set_terminated(failing.info.run_id, status="FAILED")
    made["runs"]["failing"] = failing.info.run_id
    with mlflow.start_run(run_name="removed") as removed:
        mlflow.log_param("p", "v")
    client.delete_run(removed.info.run_id)
    made["runs"]["removed"] = removed.info.run_id

    experiment_b = mlflow.set_experiment("exp-b")
    made["experiments"]["exp-b"] = experiment_b.experiment_id
    with mlflow.start_run(run_name="in-trash") as trashed:
        mlflow.log_metric("y", 1.0)
    made["runs"]["in-trash"] = trashed.info.run_id
    client.delete_experiment(experiment_b.experiment_id)

    # The registry: versions from a logged model and from a run's folder; one deleted, so the
    # next number skips it; tags, an alias, a stage.
    client.create_registered_model("classifier", tags={"owner": "ana"}, description="the good one")
    v1 = client.create_model_version(
        "classifier", model_info.model_uri, run_id=parent.info.run_id, tags={"check": "passed"}
    )
    v2 = client.create_model_version(
        "classifier", f"{parent.info.artifact_uri}/nested", run_id=parent.info.run_id
    )
    v3 = client.create_model_version("classifier", model_info.model_uri, run_id=parent.info.run_id)
    client.delete_model_version("classifier", v2.version)
    client.set_registered_model_alias("classifier", "champion", v1.version)
    client.transition_model_version_stage("classifier", v3.version, "Staging")
    client.create_registered_model("empty-model")
    made["models"]["versions"] = [v1.version, v3.version]
    return made


if __name__ == "__main__":
    print(json.dumps(build(Path(sys.argv[1]))))
