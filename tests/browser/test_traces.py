"""An experiment's traces in a real browser: traces logged by the real mlflow client (nested spans,
one failing), the Traces tab filtered, a trace's span tree folded and unfolded, its waterfall and
its spans' inputs and outputs, and a hostile span shown as text without running anything."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

HOSTILE = '<img src=x onerror="window.pwned = 1">'
SCRIPT = "<script>window.pwned = 2</script>"


@pytest.fixture
def logged(tracing):
    """Traces of a small support agent, logged in an evaluation run: questions answered
    (retrieval, then an LLM call), one whose tool call raised, and a hostile one."""
    experiment_id = tracing.set_experiment("support-agent").experiment_id

    def answer(question: str, *, tier: str, fail: bool = False) -> None:
        with tracing.start_span("agent", span_type="AGENT") as root:
            root.set_inputs({"question": question})
            tracing.update_current_trace(tags={"env": "prod", "tier": tier})
            with tracing.start_span("retrieve_docs", span_type="RETRIEVER") as retrieve:
                retrieve.set_inputs({"query": question, "k": 2})
                time.sleep(0.02)
                retrieve.set_outputs(
                    [{"doc": "refunds.md", "score": 0.91}, {"doc": "billing.md", "score": 0.77}]
                )
            with tracing.start_span("plan", span_type="CHAIN") as plan:
                plan.set_inputs({"question": question})
                with tracing.start_span("call_llm", span_type="LLM") as llm:
                    llm.set_inputs({"messages": [{"role": "user", "content": question}]})
                    llm.set_attribute("model", "gpt-4o-mini")
                    time.sleep(0.06)
                    llm.set_outputs({"content": "Refunds take 5 days."})
                plan.set_outputs("lookup_order" if fail else "answer")
            if fail:
                with tracing.start_span("lookup_order", span_type="TOOL") as tool:
                    tool.set_inputs({"order": "A-17"})
                    time.sleep(0.03)
                    raise RuntimeError("order service unavailable")
            root.set_outputs({"answer": "Refunds take 5 days."})

    with tracing.start_run(run_name="eval-support-agent"):
        answer("How long do refunds take?", tier="gold")
        answer("Can I get a refund after 30 days?", tier="silver")
        with pytest.raises(RuntimeError):
            answer("Where is my order A-17?", tier="gold", fail=True)
    with tracing.start_span(HOSTILE) as hostile:
        hostile.set_inputs({"html": SCRIPT, "link": "javascript:alert(1)"})
        hostile.set_attribute(SCRIPT, HOSTILE)
    tracing.flush_trace_async_logging()
    return experiment_id


def test_the_traces_tab_lists_filters_and_opens_a_trace(page, deployed, logged, screenshot):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{deployed.url}/ws/default/experiments/{logged}/traces/")

    rows = page.locator("#traces tbody tr[data-trace]")
    expect(rows).to_have_count(4)
    expect(rows.nth(0).locator("td.name a")).to_have_text(HOSTILE)  # newest first, as text
    expect(page.locator("#traces .badge.state-ERROR")).to_have_count(1)
    expect(rows.nth(3)).to_contain_text("How long do refunds take?")
    expect(rows.nth(3).locator("td.run a")).to_have_text("eval-support-agent")
    expect(rows.nth(3).locator("td.tags .chip[title='tier: gold']")).to_be_visible()
    screenshot(page, "traces-table", width=1440)

    page.select_option("select[name=state]", "ERROR")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("A-17")
    page.fill("input[name=filter]", "tags.tier = 'gold' AND trace.name = 'agent'")
    page.select_option("select[name=state]", "")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="Execution time").click()
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Execution time")
    times = [
        int(ms) for ms in rows.locator("td[data-ms]").evaluate_all("cells => cells.map(c => c.dataset.ms)")
    ]
    assert len(times) == 2 and times == sorted(times, reverse=True)
    expect(page.locator("input[name=filter]")).to_have_value("tags.tier = 'gold' AND trace.name = 'agent'")
    page.fill("input[name=filter]", "trace.nope = 1")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator(".error[role=alert]")).to_contain_text("Invalid filter")

    page.goto(f"{deployed.url}/ws/default/experiments/{logged}/traces/?state=ERROR")
    page.locator("#traces td.name a").first.click()
    expect(page.locator("h1 .badge")).to_have_text("Error")
    expect(page.locator("[data-field=run]")).to_have_text("eval-support-agent")
    spans = page.locator("#spans .span-row")
    expect(spans.locator(".span-link")).to_have_text(
        ["agent", "retrieve_docs", "plan", "call_llm", "lookup_order"]
    )

    # The waterfall: the root spans the whole trace, each child starts within it.
    root_bar = spans.nth(0).locator(".bar")
    assert float(root_bar.get_attribute("data-offset")) == 0
    assert float(root_bar.get_attribute("data-width")) == pytest.approx(100, abs=0.01)
    for index in range(1, 5):
        offset = float(spans.nth(index).locator(".bar").get_attribute("data-offset"))
        width = float(spans.nth(index).locator(".bar").get_attribute("data-width"))
        assert offset >= 0 and offset + width <= 100.01

    # The failed tool call: its status, its exception event.
    failed = page.locator("#spans .span-row", has=page.locator(".span-link", has_text="lookup_order"))
    expect(failed.locator(".error-mark")).to_be_visible()
    failed.locator(".span-link").click()
    detail = page.locator(".span-detail:not([hidden])")
    expect(detail.locator(".span-title")).to_have_text("lookup_order")
    expect(detail.locator("[data-field=inputs]")).to_contain_text('"order": "A-17"')
    expect(detail.locator(".events")).to_contain_text("order service unavailable")
    assert "span=" in page.url

    # Folding "plan" hides the LLM call under it; unfolding shows it again.
    llm = page.locator("#spans .span-row", has=page.locator(".span-link", has_text="call_llm"))
    plan = page.locator("#spans .span-row", has=page.locator(".span-link", has_text="plan"))
    plan.locator("button.fold").click()
    expect(llm).to_be_hidden()
    expect(plan).to_have_attribute("aria-expanded", "false")
    plan.locator("button.fold").click()
    expect(llm).to_be_visible()
    page.get_by_role("button", name="Collapse all").click()
    expect(page.locator("#spans .span-row:visible")).to_have_count(1)
    page.get_by_role("button", name="Expand all").click()
    expect(page.locator("#spans .span-row:visible")).to_have_count(5)

    llm.locator(".span-link").click()
    expect(detail.locator("[data-field=outputs]")).to_contain_text('"content": "Refunds take 5 days."')
    expect(detail.locator(".attributes")).to_contain_text("gpt-4o-mini")
    screenshot(page, "trace-view")
    # The arrow keys walk the spans in view.
    page.keyboard.press("ArrowDown")
    expect(detail.locator(".span-title")).to_have_text("lookup_order")
    page.keyboard.press("ArrowUp")
    expect(detail.locator(".span-title")).to_have_text("call_llm")
    assert dialogs == []


def test_a_hostile_span_is_text_and_runs_nothing(page, deployed, logged):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{deployed.url}/ws/default/experiments/{logged}/traces/")
    page.locator("#traces td.name a", has_text="<img").click()

    expect(page.locator("h1 .trace-name")).to_have_text(HOSTILE)
    expect(page.locator("#spans .span-link")).to_have_text(HOSTILE)
    expect(page.locator(".span-detail:not([hidden]) [data-field=inputs]")).to_contain_text(
        "javascript:alert(1)"
    )
    assert page.locator("main img").count() == 0
    assert page.locator("main a[href^='javascript:']").count() == 0
    expect(page.locator(".span-detail:not([hidden]) [data-field=inputs]")).to_contain_text(SCRIPT)
    expect(page.locator(".span-detail:not([hidden]) .attributes")).to_contain_text(HOSTILE)
    page.locator("#spans .span-link").click()
    assert page.title().startswith(HOSTILE)  # the page's title says it, as text
    assert page.evaluate("() => window.pwned") is None
    assert dialogs == []


@pytest.fixture
def busy_agent(tracing, deployed):
    """Three hours of an agent's traces, logged by the client with their own times: more calls and
    slower ones in the second hour, a few failures, token usage on each call."""
    from mlflow import MlflowClient

    experiment_id = tracing.set_experiment("busy-agent").experiment_id
    client = MlflowClient(deployed.url)
    now_ns = time.time_ns()
    start_ns = now_ns - 3 * 3600 * 10**9
    for number in range(72):
        minute = number * 2.5
        slow = 60 <= minute < 120
        begin = start_ns + int(minute * 60 * 10**9)
        length_ms = (400 if slow else 120) + (number * 37) % 180
        root = client.start_trace(
            "answer",
            span_type="LLM",
            experiment_id=experiment_id,
            start_time_ns=begin,
            attributes={
                "mlflow.chat.tokenUsage": {
                    "input_tokens": 200 + number * 7 % 90,
                    "output_tokens": 60 + number % 40,
                    "total_tokens": 260 + number * 7 % 90 + number % 40,
                }
            },
        )
        client.end_trace(
            root.trace_id, status="ERROR" if number % 9 == 4 else "OK", end_time_ns=begin + length_ms * 10**6
        )
    tracing.flush_trace_async_logging()
    return experiment_id


def test_the_metrics_panel_charts_the_experiments_traces_over_time(page, deployed, busy_agent, screenshot):
    page.set_viewport_size({"width": 1440, "height": 900})
    page.goto(f"{deployed.url}/ws/default/experiments/{busy_agent}/traces/")

    panel = page.locator("section.trace-metrics")
    expect(panel.locator("h2")).to_contain_text("per 5 minutes")
    expect(panel.locator("figure.trace-metric")).to_have_count(3)
    for key in ("count", "latency", "tokens"):
        expect(panel.locator(f"#trace-metric-{key} .main-svg").first).to_be_visible()
    # The stacked bars hold every trace: 72, of which 8 failed.
    counts = page.evaluate(
        "() => document.getElementById('trace-metric-count').data"
        ".map(bar => [bar.name, bar.y.reduce((a, b) => a + b, 0)])"
    )
    assert sorted(counts) == [["ERROR", 8], ["OK", 64]]
    screenshot(page, "trace-metrics")
