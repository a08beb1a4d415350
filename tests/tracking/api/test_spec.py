"""The protocol tables the server reads are the ones the installed mlflow's descriptors give."""

from __future__ import annotations

from tracking.api import spec
from tracking.management.commands.generate_protocol_spec import build_spec


def test_the_generated_spec_matches_the_installed_mlflow():
    current = build_spec()
    assert current["rpcs"] == spec.RPCS, "run `python manage.py generate_protocol_spec`"
    assert current["messages"] == spec.MESSAGES, "run `python manage.py generate_protocol_spec`"
    assert current["enums"] == spec.ENUMS, "run `python manage.py generate_protocol_spec`"


def test_every_core_tracking_rpc_has_a_handler():
    from tracking.api.router import _HANDLERS, ROUTES

    ROUTES.match("2.0/mlflow/runs/get")  # builds the table, importing the handlers
    names = (
        "CreateExperiment GetExperiment GetExperimentByName SearchExperiments UpdateExperiment "
        "DeleteExperiment RestoreExperiment SetExperimentTag DeleteExperimentTag CreateRun GetRun "
        "UpdateRun DeleteRun RestoreRun SearchRuns LogMetric LogParam SetTag DeleteTag LogBatch "
        "LogInputs LogOutputs GetMetricHistory GetMetricHistoryBulkInterval CreateLoggedModel "
        "GetLoggedModel FinalizeLoggedModel SearchLoggedModels ListArtifacts ListLoggedModelArtifacts"
    )
    core = {f"mlflow.{name}" for name in names.split()}
    core |= {f"mlflow.artifacts.{name}" for name in ("UploadArtifact", "DownloadArtifact", "ListArtifacts")}
    assert core <= set(_HANDLERS)
