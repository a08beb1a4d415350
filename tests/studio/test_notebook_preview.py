"""Notebooks as a read-only page: cells, outputs, limits, and nothing a notebook holds becomes active."""

from __future__ import annotations

import base64
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from studio import notebook_preview
from studio.notebook_preview import MAX_CELLS, MAX_TEXT_CHARS, NotebookError, parse_notebook, strip_ansi
from tests.artifact_samples import (
    code,
    display,
    error,
    hostile_notebook,
    markdown,
    notebook,
    png,
    stream,
    training_notebook,
)
from tests.hostile import FUZZ, JSON, TEXT

needs_markdown = pytest.mark.skipif(
    not notebook_preview.MARKDOWN_INSTALLED, reason="markdown-it-py is not installed (a server dependency)"
)


def test_it_reads_cells_in_order_with_their_kinds_counts_and_language():
    parsed = parse_notebook(training_notebook())
    assert [cell.kind for cell in parsed.cells] == ["markdown", "code", "code", "markdown", "code", "code"]
    assert [cell.execution_count for cell in parsed.cells if cell.kind == "code"] == [1, 2, 3, 4]
    assert parsed.cells[1].source.startswith("import pandas as pd\n")
    assert parsed.language == "python"
    assert parsed.cells_left_out == 0


def test_it_shows_stream_text_tables_images_and_errors():
    parsed = parse_notebook(training_notebook())
    printed, table, chart, failed = (parsed.cells[i].outputs[0] for i in (1, 2, 4, 5))
    assert (printed.kind, printed.text, printed.name) == ("text", "(150, 4)\n", "stdout")
    assert table.kind == "frame" and "<td>forest</td>" in table.srcdoc and table.height > 60
    assert chart.kind == "image" and chart.src == "data:image/png;base64," + base64.b64encode(png()).decode()
    assert failed.kind == "error" and failed.name == "KeyError"
    assert "\x1b" not in failed.text and "KeyError: 'svm'" in failed.text


@needs_markdown
def test_markdown_is_rendered_with_tables_and_links():
    html = parse_notebook(training_notebook()).cells[0].html
    assert "<h1>Training report</h1>" in html and "<strong>iris</strong>" in html
    assert '<a href="https://example.com/runs/1" rel="noopener noreferrer nofollow">the run</a>' in html
    assert "<table>" in html and "<td>load and split</td>" in html


@needs_markdown
def test_markdown_html_scripts_and_javascript_links_stay_text():
    html = parse_notebook(hostile_notebook()).cells[0].html
    assert "<script" not in html and "&lt;script&gt;" in html
    assert "<img" not in html and "&lt;img" in html  # raw HTML is text, so its onerror is too
    assert 'href="javascript' not in html.lower() and "<a " not in html
    assert "tracker.example" not in html.replace('title="https://tracker.example/pixel.png"', "")
    assert '<span class="md-image-omitted"' in html  # a remote image is not fetched by the reader


@needs_markdown
def test_markdown_images_embedded_as_data_or_attachments_are_shown():
    encoded = base64.b64encode(png()).decode()
    cell = markdown("![inline](data:image/png;base64," + encoded + ") ![attached](attachment:plot.png)")
    cell["attachments"] = {"plot.png": {"image/png": encoded}}
    html = parse_notebook(notebook([cell])).cells[0].html
    assert html.count(f'<img src="data:image/png;base64,{encoded}"') == 2


def test_without_markdown_it_markdown_shows_as_escaped_source(monkeypatch):
    monkeypatch.setattr(notebook_preview, "_markdown", None)
    parsed = parse_notebook(hostile_notebook())
    assert parsed.markdown_rendered is False
    html = parsed.cells[0].html
    assert html.startswith('<pre class="md-source">') and "<script" not in html and "&lt;script&gt;" in html


def test_html_and_svg_outputs_go_to_a_sandboxed_frame_that_may_fetch_nothing():
    html_output, svg_output, *_ = parse_notebook(hostile_notebook()).cells[1].outputs
    for output in (html_output, svg_output):
        assert output.kind == "frame"
        head = output.srcdoc.split("<body>")[0]
        assert "Content-Security-Policy" in head and "default-src 'none'" in head
    assert html_output.name == "text/html" and svg_output.name == "image/svg+xml"


def test_javascript_outputs_are_text_and_bad_image_data_is_left_out():
    outputs = parse_notebook(hostile_notebook()).cells[1].outputs
    javascript, bad_image, printed = outputs[2], outputs[3], outputs[4]
    assert (javascript.kind, javascript.text) == ("text", "window.__pwned = 'javascript output'")
    assert bad_image.kind == "omitted" and bad_image.src == ""
    assert printed.kind == "text" and printed.text.startswith("<script>")  # escaped by the template


def test_the_richest_inert_kind_of_an_output_wins():
    outputs = [
        display({"text/plain": "plain", "image/png": base64.b64encode(png()).decode()}),
        display({"text/plain": "plain", "application/javascript": "alert(1)"}),
        display({"application/json": {"a": [1, 2]}}),
        display({"application/vnd.custom+json": {}}),
    ]
    image, plain, data, unknown = parse_notebook(notebook([code("x", outputs)])).cells[0].outputs
    assert image.kind == "image"
    assert (plain.kind, plain.text) == ("text", "plain")
    assert data.kind == "text" and json.loads(data.text) == {"a": [1, 2]}
    assert unknown.kind == "omitted" and unknown.name == "application/vnd.custom+json"


def test_an_empty_notebook_has_no_cells():
    assert parse_notebook(notebook([])).cells == []


def test_cells_without_outputs_counts_or_sources_are_fine():
    cells = [
        {"cell_type": "code"},
        {"cell_type": "code", "outputs": None, "source": 5},
        {"cell_type": "raw", "source": "r"},
    ]
    parsed = parse_notebook(notebook(cells))
    assert [(cell.kind, cell.source, cell.execution_count, cell.outputs) for cell in parsed.cells] == [
        ("code", "", None, []),
        ("code", "", None, []),
        ("raw", "r", None, []),
    ]


def test_a_huge_cell_and_a_huge_output_are_cut():
    big = "x" * (MAX_TEXT_CHARS * 3)
    cell = parse_notebook(notebook([code(big, [stream(big)])])).cells[0]
    assert len(cell.source) == MAX_TEXT_CHARS and cell.truncated
    assert len(cell.outputs[0].text) == MAX_TEXT_CHARS and cell.outputs[0].truncated


def test_cells_past_the_limit_are_counted_not_rendered():
    parsed = parse_notebook(notebook([code(str(i)) for i in range(MAX_CELLS + 7)]))
    assert len(parsed.cells) == MAX_CELLS and parsed.cells_left_out == 7


def test_a_traceback_loses_its_terminal_colours():
    assert (
        strip_ansi("\x1b[0;31mValueError\x1b[0m: x\x1b]8;;http://a\x07link\x1b]8;;\x07")
        == "ValueError: xlink"
    )
    failed = parse_notebook(notebook([code("1/0", [error("ZeroDivisionError", "division by zero", [])])]))
    assert failed.cells[0].outputs[0].text == "ZeroDivisionError: division by zero"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "not a Jupyter notebook"),
        (b'{"cells": {"a": 1}, "nbformat": 4}', "not a Jupyter notebook"),
        (b'{"nbformat": 3, "worksheets": [{"cells": []}]}', "format 3"),
        (b'{"nbformat": 4}', "format 4"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_files_that_are_not_format_4_notebooks_are_refused_with_a_reason(data, message):
    with pytest.raises(NotebookError, match=message):
        parse_notebook(data)


def any_cell():
    """A cell whose every field may be of the wrong type, outputs included."""
    output = st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"output_type": st.sampled_from(["stream", "error", "display_data", "execute_result", "other"])},
            optional={
                "text": JSON,
                "name": JSON,
                "traceback": JSON,
                "ename": JSON,
                "evalue": JSON,
                "data": JSON,
            },
        ),
        st.fixed_dictionaries(
            {"output_type": st.just("display_data"), "data": st.dictionaries(st.sampled_from(MIMES), JSON)}
        ),
    )
    return st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"cell_type": st.sampled_from(["code", "markdown", "raw", "heading"])},
            optional={
                "source": st.one_of(TEXT, st.lists(TEXT, max_size=3), JSON),
                "execution_count": JSON,
                "outputs": st.one_of(st.lists(output, max_size=4), JSON),
                "attachments": JSON,
            },
        ),
    )


MIMES = [
    "image/png",
    "image/jpeg",
    "text/html",
    "image/svg+xml",
    "text/markdown",
    "application/json",
    "text/plain",
]


@FUZZ
@given(cells=st.lists(any_cell(), max_size=5), metadata=JSON)
def test_any_format_4_notebook_renders_or_is_refused_with_a_reason(cells, metadata):
    data = json.dumps({"nbformat": 4, "metadata": metadata, "cells": cells}).encode()
    parsed = parse_notebook(data)
    assert len(parsed.cells) == len(cells)
    for cell in parsed.cells:
        assert cell.kind in ("code", "markdown", "raw")
        assert "<script" not in (cell.html or "")
