"""Reading assessments: one by trace and id (in a workspace), a trace page's list."""

from __future__ import annotations

from tracking.errors import ResourceDoesNotExist
from tracking.models import Assessment, Trace, Workspace
from tracking.queries.traces import find_trace


def get_assessment(workspace: Workspace, trace_id: str, assessment_id: str) -> Assessment:
    """The assessment, or RESOURCE_DOES_NOT_EXIST worded as MLflow's server words it (the trace
    missing, or the assessment)."""
    trace = find_trace(workspace, trace_id)
    if trace is None:
        raise ResourceDoesNotExist(f"Trace with request_id '{trace_id}' not found")
    found = Assessment.objects.filter(trace=trace, assessment_id=assessment_id).first()
    if found is None:
        raise ResourceDoesNotExist(f"Assessment with ID '{assessment_id}' not found for trace '{trace_id}'")
    found.trace = trace
    return found


def trace_assessments(trace: Trace) -> list[Assessment]:
    """The trace's assessments in the order they were made, overridden ones included."""
    return list(Assessment.objects.filter(trace=trace).order_by("created_at", "id"))
