"""The seed document's tracking snippets, verbatim but for the tracking URI, against our server."""

from __future__ import annotations


def test_the_seed_snippet_logs_a_metric_to_a_new_experiment(fluent, client):
    mlflow = fluent
    experiment_name = "experiment_with_mlflow"
    mlflow.set_experiment(experiment_name)

    with mlflow.start_run():
        mlflow.log_metric("alpha", 0.03)

    experiment = client.get_experiment_by_name("experiment_with_mlflow")
    [run] = client.search_runs([experiment.experiment_id])
    assert run.data.metrics == {"alpha": 0.03}
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.runName"] == run.info.run_name


def test_the_remote_run_snippet_logs_to_the_default_experiment(fluent, client):
    mlflow = fluent
    with mlflow.start_run():
        mlflow.log_metric("example", 1.23)

    [run] = client.search_runs(["0"])
    assert run.data.metrics == {"example": 1.23}
    assert client.get_experiment("0").name == "Default"
