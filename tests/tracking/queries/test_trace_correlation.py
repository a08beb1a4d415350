"""The correlation of two trace filters (NPMI), against answers worked out by hand."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from tracking.models import Trace, TraceTag
from tracking.queries.trace_correlation import npmi_from_counts, trace_filter_correlation
from tracking.services.assessments import AssessmentInput, create_assessment
from tracking.services.experiments import create_experiment


@pytest.mark.parametrize(
    ("joint", "first", "second", "total", "expected"),
    [
        # P(x,y) = 3/12, P(x) P(y) = 3/12 * 6/12: PMI = log 2, over -log(3/12) = log 4.
        (3, 3, 6, 12, 0.5),
        # P(x,y) = 2/12 = 4/12 * 6/12: independent.
        (2, 4, 6, 12, 0.0),
        # Always together (and sometimes neither): PMI = log 3 = -log(4/12).
        (4, 4, 4, 12, 1.0),
        # Never together.
        (0, 3, 6, 12, -1.0),
    ],
)
def test_npmi_is_the_normalized_pointwise_mutual_information(joint, first, second, total, expected):
    assert npmi_from_counts(joint, first, second, total)[0] == pytest.approx(expected, abs=1e-12)


def test_the_smoothed_npmi_adds_half_an_observation_to_each_cell():
    # Cells 3, 0, 3, 6 become 3.5, 0.5, 3.5, 6.5 of 14: PMI = log(3.5 * 14 / (4 * 7)).
    expected = math.log(3.5 * 14 / (4 * 7)) / -math.log(3.5 / 14)
    assert npmi_from_counts(3, 3, 6, 12)[1] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("joint", "first", "second", "total"), [(0, 0, 5, 10), (0, 3, 0, 10), (0, 0, 0, 0)])
def test_a_filter_that_matches_nothing_leaves_npmi_undefined(joint, first, second, total):
    assert all(math.isnan(value) for value in npmi_from_counts(joint, first, second, total))


@pytest.fixture
def experiment(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="correlated")
    traces = Trace.objects.bulk_create(
        [
            Trace(
                workspace=default_workspace,
                experiment=experiment,
                trace_id=f"tr-{number:032x}",
                request_time=datetime(2026, 1, 1, tzinfo=UTC),
                state="ERROR" if number % 3 == 0 else "OK",
            )
            for number in range(12)
        ]
    )
    TraceTag.objects.bulk_create(
        [TraceTag(trace=trace, key="mlflow.traceName", value=f"t{i % 2}") for i, trace in enumerate(traces)]
    )
    for trace in traces[::4]:
        create_assessment(
            trace=trace,
            item=AssessmentInput(name="good", assessment_type="feedback", value=True, source_type="HUMAN"),
        )
    return experiment


@pytest.mark.django_db
def test_the_counts_come_from_one_query(experiment, django_assert_max_num_queries):
    with django_assert_max_num_queries(2):  # the experiments, then the four counts
        result = trace_filter_correlation(
            experiment.workspace,
            [experiment.experiment_id],
            "feedback.good = 'true'",
            "tags.`mlflow.traceName` = 't0'",
        )

    assert (result.filter1_count, result.filter2_count, result.joint_count, result.total_count) == (
        3,
        6,
        3,
        12,
    )
    assert result.npmi == pytest.approx(0.5)


@pytest.mark.django_db
def test_a_base_filter_is_the_population(experiment):
    result = trace_filter_correlation(
        experiment.workspace,
        [experiment.experiment_id],
        "trace.status = 'OK'",
        "tags.`mlflow.traceName` = 't1'",
        base_filter="trace.status = 'OK'",
    )

    assert (result.filter1_count, result.filter2_count, result.joint_count, result.total_count) == (
        8,
        4,
        4,
        8,
    )


@pytest.mark.django_db
def test_another_workspace_counts_none_of_the_traces(experiment, make_workspace):
    result = trace_filter_correlation(
        make_workspace("elsewhere"),
        [experiment.experiment_id],
        "trace.status = 'OK'",
        "trace.status = 'ERROR'",
    )

    assert result.total_count == 0 and math.isnan(result.npmi)
