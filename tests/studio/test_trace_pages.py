"""An experiment's Traces tab (/ws/<workspace>/experiments/<id>/traces/) and a trace's page
(/ws/<workspace>/experiments/<id>/traces/<trace id>/)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from studio.span_tree import format_nanoseconds, span_rows
from tracking.models import Span, Trace, TraceMetadata, TraceTag
from tracking.queries.trace_pages import PAGE_SIZE
from tracking.services.assessments import AssessmentInput, create_assessment
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 10**9


def span(
    span_id, name, *, parent=None, start_ms=0, end_ms=10, status="OK", inputs=None, outputs=None, **extra
):
    """A span as MLflow writes its JSON, with the columns the backend keeps beside it."""
    attributes = {"mlflow.spanType": json.dumps(extra.pop("span_type", "CHAIN"))}
    if inputs is not None:
        attributes["mlflow.spanInputs"] = json.dumps(inputs)
    if outputs is not None:
        attributes["mlflow.spanOutputs"] = json.dumps(outputs)
    attributes.update({key: json.dumps(value) for key, value in extra.pop("attributes", {}).items()})
    content = {
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "start_time_unix_nano": T0_NS + start_ms * 10**6,
        "end_time_unix_nano": T0_NS + end_ms * 10**6,
        "status": {"code": f"STATUS_CODE_{status}", "message": extra.pop("message", "")},
        "attributes": attributes,
        "events": extra.pop("events", []),
    }
    return Span(
        span_id=span_id,
        parent_span_id=parent,
        name=name[:500],
        span_type=json.loads(attributes["mlflow.spanType"]),
        status=status,
        start_time_ns=content["start_time_unix_nano"],
        end_time_ns=content["end_time_unix_nano"],
        content=json.dumps(content),
    )


def make_trace(
    experiment, trace_id, *, name="chat", minute=0, state="OK", duration=25, tags=(), metadata=(), spans=()
):
    trace = Trace.objects.create(
        workspace_id=experiment.workspace_id,
        experiment=experiment,
        trace_id=trace_id,
        request_time=T0 + timedelta(minutes=minute),
        execution_duration_ms=duration,
        state=state,
        request_preview=f'{{"question": "q-{trace_id}"}}',
        response_preview=f'"a-{trace_id}"',
    )
    TraceTag.objects.bulk_create(
        [TraceTag(trace=trace, key=key, value=value) for key, value in [("mlflow.traceName", name), *tags]]
    )
    TraceMetadata.objects.bulk_create([TraceMetadata(trace=trace, key=k, value=v) for k, v in metadata])
    for item in spans:
        item.trace = trace
    Span.objects.bulk_create(spans)
    return trace


def traces_url(experiment, query: str = "") -> str:
    return f"/ws/{experiment.workspace.name}/experiments/{experiment.experiment_id}/traces/{query}"


def trace_url(experiment, trace_id: str, query: str = "") -> str:
    return traces_url(experiment, f"{trace_id}/{query}")


def listed(response) -> list[str]:
    return re.findall(r'<tr data-trace="([^"]+)">', response.content.decode())


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="chatbot")


@pytest.fixture
def chat(experiment):
    """A trace of three spans: the root, a retriever under it, and an LLM call that failed."""
    return make_trace(
        experiment,
        "tr-" + "a" * 32,
        name="chat",
        state="ERROR",
        tags=[("env", "prod")],
        metadata=[("mlflow.trace.user", "ada")],
        spans=[
            span(
                "0000000000000001", "chat", start_ms=0, end_ms=100, inputs={"question": "hi"}, outputs="hello"
            ),
            span(
                "0000000000000002",
                "retrieve",
                parent="0000000000000001",
                start_ms=10,
                end_ms=40,
                span_type="RETRIEVER",
                outputs=[{"doc": "d1"}],
            ),
            span(
                "0000000000000003",
                "llm",
                parent="0000000000000001",
                start_ms=50,
                end_ms=100,
                status="ERROR",
                span_type="LLM",
                message="RuntimeError: rate limited",
                events=[
                    {
                        "name": "exception",
                        "time_unix_nano": T0_NS + 99 * 10**6,
                        "attributes": {"exception.message": "rate limited"},
                    }
                ],
            ),
        ],
    )


# --- The table ---------------------------------------------------------------------------------


def test_the_experiment_page_has_a_traces_tab(client, experiment):
    html = client.get(f"/ws/default/experiments/{experiment.experiment_id}/").content.decode()
    assert f'href="/ws/default/experiments/{experiment.experiment_id}/traces/">Traces</a>' in html


def test_the_table_lists_traces_newest_first_with_their_state_previews_and_tags(client, experiment, chat):
    make_trace(experiment, "tr-older", name="summarize", minute=-5, duration=1500)

    response = client.get(traces_url(experiment))

    assert response.status_code == 200
    assert listed(response) == [chat.trace_id, "tr-older"]
    html = response.content.decode()
    assert '<span class="badge state-ERROR">Error</span>' in html
    assert "q-tr-older" in html and "a-tr-older" in html
    assert '<span class="k">env</span>prod' in html
    assert "1.50 s" in html
    assert "2 traces" in html


def test_a_trace_of_many_tags_shows_six_chips_and_how_many_more(client, experiment):
    make_trace(experiment, "tr-tagged", tags=[(f"k{i}", "v") for i in range(9)])

    html = client.get(traces_url(experiment)).content.decode()

    assert html.count('<span class="chip"') == 6
    assert '<span class="muted more-tags">+3</span>' in html


def test_the_table_sorts_by_execution_time_both_ways(client, experiment):
    for trace_id, duration in (("tr-fast", 5), ("tr-slow", 900), ("tr-mid", 80)):
        make_trace(experiment, trace_id, duration=duration)

    assert listed(client.get(traces_url(experiment, "?sort=-duration"))) == ["tr-slow", "tr-mid", "tr-fast"]
    assert listed(client.get(traces_url(experiment, "?sort=duration"))) == ["tr-fast", "tr-mid", "tr-slow"]


def test_the_table_filters_by_state(client, experiment, chat):
    make_trace(experiment, "tr-fine", state="OK")

    assert listed(client.get(traces_url(experiment, "?state=ERROR"))) == [chat.trace_id]
    assert listed(client.get(traces_url(experiment, "?state=OK"))) == ["tr-fine"]
    # An unknown state is no filter at all.
    assert len(listed(client.get(traces_url(experiment, "?state=nope")))) == 2


def test_the_table_filters_with_mlflows_trace_grammar(client, experiment, chat):
    make_trace(experiment, "tr-dev", name="summarize", tags=[("env", "dev")], duration=900)

    assert listed(client.get(traces_url(experiment, "?filter=tags.env+%3D+%27dev%27"))) == ["tr-dev"]
    by_name = "?filter=trace.name+%3D+%27chat%27+AND+trace.execution_time_ms+<+100"
    assert listed(client.get(traces_url(experiment, by_name))) == [chat.trace_id]
    assert listed(client.get(traces_url(experiment, "?filter=span.type+%3D+%27LLM%27"))) == [chat.trace_id]


def test_a_bad_filter_is_explained_not_a_server_error(client, experiment, chat):
    response = client.get(traces_url(experiment, "?filter=trace.nope+%3D+1"))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Invalid filter." in html and "nope" in html
    assert listed(response) == []


def test_the_table_pages_by_fifty_and_counts_no_further_than_its_limit(client, experiment, settings):
    Trace.objects.bulk_create(
        Trace(
            workspace_id=experiment.workspace_id,
            experiment=experiment,
            trace_id=f"tr-{i:04}",
            request_time=T0 + timedelta(seconds=i),
            state="OK",
        )
        for i in range(PAGE_SIZE + 5)
    )

    first = client.get(traces_url(experiment))
    second = client.get(traces_url(experiment, "?page=2"))

    assert len(listed(first)) == PAGE_SIZE and listed(first)[0] == f"tr-{PAGE_SIZE + 4:04}"
    assert listed(second) == [f"tr-{i:04}" for i in range(4, -1, -1)]
    assert 'rel="next"' in first.content.decode() and 'rel="next"' not in second.content.decode()
    assert f"51\u201355 of {PAGE_SIZE + 5} traces" in second.content.decode()


def test_past_the_count_limit_the_table_says_how_many_at_least(client, experiment, monkeypatch):
    monkeypatch.setattr("tracking.queries.trace_pages.COUNT_LIMIT", 3)
    for i in range(5):
        make_trace(experiment, f"tr-{i}", minute=i)

    html = client.get(traces_url(experiment)).content.decode()

    assert "1\u20135 of 5+ traces" in html


def test_the_table_links_a_trace_to_its_run(client, experiment):
    run = create_run(experiment=experiment, run_name="eval-run")
    make_trace(experiment, "tr-linked", metadata=[("mlflow.sourceRun", run.uuid)])
    make_trace(experiment, "tr-stranger", metadata=[("mlflow.sourceRun", "f" * 32)])

    html = client.get(traces_url(experiment)).content.decode()

    assert f'<a href="/ws/default/runs/{run.uuid}/">eval-run</a>' in html
    assert f'href="/ws/default/runs/{"f" * 32}/"' not in html


def test_a_runs_tabs_link_to_the_traces_of_the_run(client, experiment):
    run = create_run(experiment=experiment, run_name="eval-run")
    make_trace(experiment, "tr-of-run", metadata=[("mlflow.sourceRun", run.uuid)])
    make_trace(experiment, "tr-other")

    html = client.get(f"/ws/default/runs/{run.uuid}/").content.decode()
    link = re.search(r'<a href="([^"]+/traces/[^"]+)"[^>]*>Traces</a>', html)[1]

    assert listed(client.get(link.replace("&amp;", "&"))) == ["tr-of-run"]


def test_a_hostile_trace_is_shown_as_text_in_the_table(client, experiment):
    make_trace(
        experiment,
        "tr-hostile",
        name="<img src=x onerror=alert(1)>",
        tags=[("<b>k</b>", "javascript:alert(1)")],
    )

    html = client.get(traces_url(experiment)).content.decode()

    assert "<img src=x" not in html and "<b>k</b>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html


def test_the_table_costs_the_same_queries_for_3_or_60_traces(
    client, experiment, django_assert_max_num_queries
):
    run = create_run(experiment=experiment, run_name="r")
    for count in (3, 60):
        Trace.objects.filter(experiment=experiment).delete()
        for i in range(count):
            make_trace(
                experiment,
                f"tr-{i}",
                minute=i,
                tags=[("env", "prod")],
                metadata=[("mlflow.sourceRun", run.uuid)],
            )
        # workspace (+ resource group), experiment, its tags, its alert counts; the count, the
        # page, its names and tags, its runs, their names. The Metrics panel is a request of its own.
        with django_assert_max_num_queries(10):
            response = client.get(traces_url(experiment, "?sort=-duration&state=OK"))
        assert len(listed(response)) == min(count, PAGE_SIZE)


def metrics_panel(client, experiment) -> dict:
    response = client.get(f"/ws/default/experiments/{experiment.experiment_id}/trace-metrics")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return response.json()


def test_the_metrics_panel_charts_traces_by_state_latency_and_tokens_per_bucket(client, experiment):
    for minute, state, duration in [(0, "OK", 10), (0, "ERROR", 30), (0, "OK", 20), (2, "OK", 40)]:
        make_trace(experiment, f"tr-{minute}-{duration}", minute=minute, state=state, duration=duration)
    Trace.objects.filter(trace_id="tr-2-40").update(total_tokens=123)

    panel = metrics_panel(client, experiment)

    charts = {chart["key"]: chart["figure"]["data"] for chart in panel["figures"]}
    assert panel["interval"] == "minute"
    count_bars = {bar["name"]: list(zip(bar["x"], bar["y"], strict=True)) for bar in charts["count"]}
    # Each bucket's value at its middle, on an axis of at least 12 buckets ending after the last.
    assert count_bars == {
        "ERROR": [("2026-01-01 00:00:30", 1.0)],
        "OK": [("2026-01-01 00:00:30", 2.0), ("2026-01-01 00:02:30", 1.0)],
    }
    assert panel["figures"][0]["figure"]["layout"]["xaxis"]["range"] == [
        "2025-12-31 23:51:00",
        "2026-01-01 00:03:00",
    ]
    p50, p95 = charts["latency"]
    assert (p50["name"], p50["y"], p95["y"]) == ("p50", [20.0, 40.0], [pytest.approx(29.0), 40.0])
    assert charts["tokens"][0]["y"] == [123.0]


def test_the_traces_page_asks_for_the_panel_only_when_there_may_be_traces(client, experiment):
    assert 'class="card trace-metrics"' not in client.get(traces_url(experiment)).content.decode()

    make_trace(experiment, "tr-1")
    html = client.get(traces_url(experiment)).content.decode()

    assert f'data-src="/ws/default/experiments/{experiment.experiment_id}/trace-metrics"' in html
    # A filter that matches nothing still leaves the experiment's traces to chart.
    assert 'class="card trace-metrics"' in client.get(traces_url(experiment, "?state=ERROR")).content.decode()


def test_without_token_usage_or_traces_there_is_less_to_chart(client, experiment):
    assert metrics_panel(client, experiment) == {"interval": None, "figures": []}

    make_trace(experiment, "tr-1")
    charts = metrics_panel(client, experiment)["figures"]

    assert [chart["key"] for chart in charts] == ["count", "latency"]


def test_the_panel_is_computed_once_while_the_traces_stay_the_same(
    client, experiment, django_assert_num_queries
):
    make_trace(experiment, "tr-1", minute=0, state="OK")
    first = metrics_panel(client, experiment)

    # the experiment, then the traces' range and number (the workspace is cached): no aggregate
    with django_assert_num_queries(2):
        assert metrics_panel(client, experiment) == first

    make_trace(experiment, "tr-2", minute=1, state="ERROR")
    after_new = metrics_panel(client, experiment)
    assert {bar["name"] for bar in after_new["figures"][0]["figure"]["data"]} == {"OK", "ERROR"}

    Trace.objects.filter(trace_id="tr-2").delete()
    assert metrics_panel(client, experiment) == first


def test_a_changed_trace_shows_in_the_panel_once_the_cache_expires(client, experiment, settings):
    make_trace(experiment, "tr-1", minute=0, state="IN_PROGRESS")
    assert metrics_panel(client, experiment)["figures"][0]["figure"]["data"][0]["name"] == "IN_PROGRESS"
    Trace.objects.filter(trace_id="tr-1").update(state="OK")

    settings.TRACE_METRICS_CACHE_SECONDS = 0

    assert metrics_panel(client, experiment)["figures"][0]["figure"]["data"][0]["name"] == "OK"


def test_the_panel_of_another_workspaces_experiment_is_not_found(client, experiment, make_workspace):
    make_trace(experiment, "tr-1")
    make_workspace("elsewhere")
    response = client.get(f"/ws/elsewhere/experiments/{experiment.experiment_id}/trace-metrics")
    assert response.status_code == 404


# --- A trace -----------------------------------------------------------------------------------


def test_the_trace_page_shows_the_span_tree_in_order_with_its_waterfall(client, experiment, chat):
    response = client.get(trace_url(experiment, chat.trace_id))

    assert response.status_code == 200
    html = response.content.decode()
    rows = re.findall(r'<div class="span-row[^"]*" role="treeitem" data-span="(\w+)" aria-level="(\d)"', html)
    assert rows == [("0000000000000001", "1"), ("0000000000000002", "2"), ("0000000000000003", "2")]
    # The retriever starts 10 ms into a trace of 100 ms and takes 30.
    assert 'style="left: 10.000%; width: 30.000%"' in html
    assert 'data-ancestors="0000000000000001"' in html


def test_the_trace_page_shows_each_spans_inputs_outputs_and_events(client, experiment, chat):
    html = client.get(trace_url(experiment, chat.trace_id)).content.decode()

    assert "{\n  &quot;question&quot;: &quot;hi&quot;\n}" in html
    assert "RuntimeError: rate limited" in html
    assert "exception" in html and "rate limited" in html
    # The root span is selected; the others' details are there, hidden.
    assert html.count('<article class="span-detail"') == 3
    assert html.count('<article class="span-detail" data-span="0000000000000001" hidden') == 0


def test_the_span_in_the_url_is_the_one_selected(client, experiment, chat):
    html = client.get(trace_url(experiment, chat.trace_id, "?span=0000000000000003")).content.decode()

    assert '<article class="span-detail" data-span="0000000000000003">' in html
    assert '<article class="span-detail" data-span="0000000000000001" hidden>' in html


def test_the_trace_page_shows_tags_metadata_and_the_run(client, experiment):
    run = create_run(experiment=experiment, run_name="eval-run")
    trace = make_trace(
        experiment,
        "tr-x",
        tags=[("env", "prod")],
        metadata=[("mlflow.sourceRun", run.uuid), ("mlflow.trace.user", "ada")],
        spans=[span("0000000000000001", "root")],
    )

    html = client.get(trace_url(experiment, trace.trace_id)).content.decode()

    assert f'<a href="/ws/default/runs/{run.uuid}/" data-field="run">eval-run</a>' in html
    assert '<td class="key">mlflow.trace.user</td><td class="value">ada</td>' in html
    assert '<td class="key">env</td><td class="value">prod</td>' in html


def test_a_hostile_span_is_shown_as_text(client, experiment):
    trace = make_trace(
        experiment,
        "tr-hostile",
        name="<script>alert(1)</script>",
        spans=[
            span(
                "0000000000000001",
                "<img src=x onerror=alert(1)>",
                inputs={"html": "<script>alert(2)</script>", "url": "javascript:alert(3)"},
                span_type="<b>LLM</b>",
                attributes={"<i>k</i>": "</pre><script>alert(4)</script>"},
            )
        ],
    )

    html = client.get(trace_url(experiment, trace.trace_id)).content.decode()

    for raw in ("<img src=x", "<script>alert", "<b>LLM</b>", "<i>k</i>", "</pre><script>"):
        assert raw not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert 'href="javascript:' not in html


def test_the_trace_page_lists_assessments_with_source_rationale_span_and_override(client, experiment, chat):
    original = create_assessment(
        trace=chat,
        item=AssessmentInput(
            name="helpful",
            assessment_type="feedback",
            value=True,
            source_type="HUMAN",
            source_id="ana",
            rationale="clear answer",
            span_id="0000000000000003",
        ),
    )
    create_assessment(
        trace=chat,
        item=AssessmentInput(
            name="helpful",
            assessment_type="feedback",
            value=False,
            source_type="LLM_JUDGE",
            overrides=original.assessment_id,
        ),
    )
    create_assessment(
        trace=chat,
        item=AssessmentInput(
            name="expected", assessment_type="expectation", value={"k": [1]}, source_type="CODE"
        ),
    )

    html = client.get(trace_url(experiment, chat.trace_id)).content.decode()
    section = html[html.index('data-field="assessments"') :]

    assert section.count('class="assessment') == 3
    assert "HUMAN · ana" in section and "clear answer" in section
    assert 'href="?span=0000000000000003"' in section and ">llm</a>" in section
    assert "Overridden" in section and f"overrides <code>{original.assessment_id}</code>" in section
    assert "{&quot;k&quot;: [1]}" in section


def test_a_hostile_assessment_is_shown_as_text(client, experiment, chat):
    create_assessment(
        trace=chat,
        item=AssessmentInput(
            name="<script>alert(1)</script>",
            assessment_type="feedback",
            value="<img src=x onerror=alert(2)>",
            source_type="HUMAN",
            source_id="<b>me</b>",
            rationale="</td><script>alert(3)</script>",
            span_id='"><script>alert(4)</script>',
        ),
    )

    html = client.get(trace_url(experiment, chat.trace_id)).content.decode()

    for raw in ("<script>alert", "<img src=x", "<b>me</b>", '"><script>'):
        assert raw not in html
    assert "&lt;img src=x onerror=alert(2)&gt;" in html


def test_the_trace_page_costs_a_fixed_number_of_queries(client, experiment, django_assert_max_num_queries):
    spans = [span("0000000000000001", "root", end_ms=1000)]
    spans += [
        span(f"{i:016x}", f"step-{i}", parent="0000000000000001", start_ms=i, end_ms=i + 5)
        for i in range(2, 80)
    ]
    trace = make_trace(experiment, "tr-many", spans=spans, metadata=[("mlflow.sourceRun", "a" * 32)])

    # workspace (+ resource group), experiment; the trace, its tags, metadata, links, runs, spans,
    # assessments
    with django_assert_max_num_queries(10):
        response = client.get(trace_url(experiment, trace.trace_id))

    assert response.content.decode().count('role="treeitem"') == 79


def test_a_trace_of_many_spans_lists_the_first_and_says_how_many_more(client, experiment, monkeypatch):
    monkeypatch.setattr("studio.views.traces.MAX_SPANS_SHOWN", 3)
    spans = [span(f"{i:016x}", f"s{i}", start_ms=i, end_ms=i + 1) for i in range(1, 6)]
    trace = make_trace(experiment, "tr-wide", spans=spans)

    html = client.get(trace_url(experiment, trace.trace_id)).content.decode()

    assert html.count('role="treeitem"') == 3
    assert "The first 3 spans are shown; 2 more are not." in html


def test_past_the_pages_budget_a_spans_details_are_a_click_away(client, experiment, monkeypatch):
    monkeypatch.setattr("studio.views.traces.MAX_DETAIL_CHARS", 7_000)
    spans = [span(f"{i:016x}", f"s{i}", start_ms=i, end_ms=i + 1, inputs="x" * 3_000) for i in range(1, 4)]
    trace = make_trace(experiment, "tr-heavy", spans=spans)

    html = client.get(trace_url(experiment, trace.trace_id, "?span=0000000000000003")).content.decode()

    # The selected span keeps its details, then the first in tree order while the budget lasts.
    assert html.count('data-field="inputs"') == 2
    assert 'href="?span=0000000000000002" data-load="full"' in html


def test_it_returns_404_for_an_unknown_trace(client, experiment, chat):
    assert client.get(trace_url(experiment, "tr-nope")).status_code == 404


def test_it_returns_404_for_a_trace_of_another_experiment(client, experiment, chat, default_workspace):
    other = create_experiment(workspace=default_workspace, name="other")
    assert client.get(trace_url(other, chat.trace_id)).status_code == 404


# --- Access ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "status"), [("reader", 200), ("outsider", 404)])
def test_a_reader_sees_the_traces_and_an_outsider_does_not(auth_on, team, persona, status):
    experiment = create_experiment(workspace=team.workspace, name="agents")
    trace = make_trace(experiment, "tr-team", spans=[span("0000000000000001", "root")])
    browser = Client()
    browser.force_login(team.user(persona))

    assert browser.get(traces_url(experiment)).status_code == status
    assert browser.get(trace_url(experiment, trace.trace_id)).status_code == status


def test_a_member_of_another_workspace_gets_404(auth_on, team):
    """The owner of team-b (and of team-a) asking for team-a's trace through team-b finds nothing."""
    experiment = create_experiment(workspace=team.workspace, name="agents")
    trace = make_trace(experiment, "tr-team", spans=[span("0000000000000001", "root")])
    browser = Client()
    browser.force_login(team.owner)

    base = f"/ws/team-b/experiments/{experiment.experiment_id}/traces/"
    assert browser.get(base).status_code == 404
    assert browser.get(f"{base}{trace.trace_id}/").status_code == 404


# --- The span tree -----------------------------------------------------------------------------


def test_a_span_whose_parent_is_missing_is_listed_at_the_top():
    rows = span_rows([span("01", "orphan", parent="99", start_ms=5), span("02", "root")])
    assert [(row.name, row.depth) for row in rows] == [("root", 0), ("orphan", 0)]


def test_a_cycle_of_parents_lists_each_span_once():
    rows = span_rows([span("01", "a", parent="02"), span("02", "b", parent="01", start_ms=1)])
    assert sorted(row.name for row in rows) == ["a", "b"]


def test_a_huge_value_is_cut_with_a_note():
    rows = span_rows([span("01", "big", inputs="x" * 50_000)])
    assert rows[0].inputs.endswith("more characters not shown)")
    assert len(rows[0].inputs) < 21_000


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (500, "500 ns"),
        (12_000, "12 µs"),
        (3_400_000, "3.4 ms"),
        (340_000_000, "340 ms"),
        (1_250_000_000, "1.25 s"),
        (125 * 10**9, "2m 05s"),
    ],
)
def test_durations_read_as_people_read_them(nanoseconds, text):
    assert format_nanoseconds(nanoseconds) == text
