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
    core = {
        "createExperiment", "getExperiment", "getExperimentByName", "searchExperiments", "updateExperiment",
        "deleteExperiment", "restoreExperiment", "setExperimentTag", "deleteExperimentTag", "createRun",
        "getRun", "updateRun", "deleteRun", "restoreRun", "searchRuns", "logMetric", "logParam", "setTag",
        "deleteTag", "logBatch", "logInputs", "logOutputs", "getMetricHistory", "getMetricHistoryBulkInterval",
    }  # fmt: skip
    assert core <= set(_HANDLERS)
