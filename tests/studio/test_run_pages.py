"""A run's tabs and its metric data: what they show, what they refuse, and how many queries they
cost. (The Compare page: test_compare_pages.py.)"""

from __future__ import annotations

import gzip
import io
import json
import math

import pytest
from django.test import Client

from tracking.models import RunTag
from tracking.services.artifacts import proxy_path, save_artifact
from tracking.services.experiments import create_experiment
from tracking.services.logged_models import create_logged_model, finalize_logged_model
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, DatasetSpec, create_run, log_batch, log_inputs, log_outputs

T0 = 1_700_000_000_000


@pytest.fixture(autouse=True)
def artifacts_in_tmp(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="vision <b>models</b>")


def make_run(experiment, name="run", *, metrics=None, params=(), tags=(), steps=5):
    run = create_run(experiment=experiment, run_name=name, user_id="ada", tags=tags)
    points = [
        MetricPoint(key, value(i), T0 + i * 1000, i)
        for key, value in (metrics or {"loss": lambda i: 1 / (1 + i)}).items()
        for i in range(steps)
    ]
    for start in range(0, max(len(points), 1), 1000):
        log_batch(
            run=run,
            batch=Batch(metrics=points[start : start + 1000], params=list(params) if not start else []),
        )
    return run


@pytest.fixture
def run(experiment):
    return make_run(
        experiment,
        "<script>alert('name')</script>",
        metrics={"loss": lambda i: 2.0 - i / 10, "accuracy": lambda i: 0.5 + i / 20},
        params=[("lr", "0.01"), ("optimizer", "<i>adam</i>")],
        tags=[
            ("team", "<img src=x onerror=alert(1)>"),
            ("mlflow.source.name", "train.py"),
            ("mlflow.source.type", "LOCAL"),
            ("mlflow.source.git.commit", "0123456789abcdef0123456789abcdef01234567"),
        ],
    )


def page(client: Client, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.content[:500]
    return response.content.decode()


def url(run, tab: str = "") -> str:
    return f"/ws/default/runs/{run.uuid}/{tab}"


# --- Overview ------------------------------------------------------------------------------


def test_the_overview_shows_properties_params_tags_and_metrics_with_min_and_max(client, run):
    html = page(client, url(run))

    assert "RUNNING" in html and "ada" in html and "train.py" in html and "0123456789ab" in html
    assert 'id="params-table"' in html and "lr" in html and "0.01" in html
    assert "&lt;i&gt;adam&lt;/i&gt;" in html
    # loss went 2.0 -> 1.6 over five steps: latest 1.6, min 1.6, max 2.0
    assert "<strong>1.6</strong>" in html and ">2</td>" in html
    assert '<details class="system-tags">' in html and "mlflow.source.name" in html
    assert f'href="/ws/default/experiments/{run.experiment.number}/"' in html


def test_names_and_tags_with_html_are_shown_as_text(client, run):
    html = page(client, url(run))

    assert "<script>alert('name')</script>" not in html
    assert "&lt;script&gt;alert(&#x27;name&#x27;)&lt;/script&gt;" in html
    assert "<img src=x" not in html
    assert "vision &lt;b&gt;models&lt;/b&gt;" in html


def test_every_tab_shows_the_same_tab_bar_with_the_current_tab_marked(client, run):
    for tab, label in [
        ("", "Overview"),
        ("metrics/", "Metrics"),
        ("outputs/", "Outputs + logs"),
        ("children/", "Child runs"),
        ("models/", "Models"),
    ]:
        html = page(client, url(run, tab))
        assert f'<a href="/ws/default/runs/{run.uuid}/{tab}" aria-current="page">{label}</a>' in html
        assert f'href="/ws/default/runs/{run.uuid}/artifacts/"' in html


def test_the_overview_links_the_parent_run_and_lists_datasets(client, experiment):
    parent = make_run(experiment, "the-parent")
    child = make_run(experiment, "the-child", tags=[("mlflow.parentRunId", parent.uuid)])
    log_inputs(
        run=child,
        datasets=[
            DatasetSpec(
                "mnist", "abc123", "local", "/data/mnist", tags=(("mlflow.data.context", "training"),)
            )
        ],
    )

    html = page(client, url(child))

    assert f'<a href="/ws/default/runs/{parent.uuid}/">the-parent</a>' in html
    assert "mnist" in html and "abc123" in html and "training" in html


def test_the_overview_does_not_load_plotly(client, run):
    assert "plotly" not in page(client, url(run))


def test_it_returns_404_for_an_unknown_run_or_workspace(client, run):
    page(client, "/ws/default/runs/0123456789abcdef0123456789abcdef/", 404)
    page(client, f"/ws/nowhere/runs/{run.uuid}/", 404)
    page(client, f"/ws/default/runs/{'f' * 32}/metrics/", 404)


def test_a_run_is_not_found_through_another_workspace(client, run, make_workspace):
    make_workspace("team-b")

    page(client, f"/ws/team-b/runs/{run.uuid}/", 404)
    page(client, f"/ws/team-b/runs/{run.uuid}/metrics/data?key=loss", 404)


def test_the_overview_costs_a_fixed_number_of_queries(client, run, django_assert_max_num_queries):
    with django_assert_max_num_queries(10):
        page(client, url(run))


# --- Description ---------------------------------------------------------------------------


def test_editing_the_description_sets_mlflows_note_tag(client, run):
    response = client.post(url(run, "description"), {"description": "First try.\r\n<b>Second</b> line."})

    assert response.status_code == 302 and response["Location"] == url(run)
    assert RunTag.objects.get(run=run, key="mlflow.note.content").value == "First try.\n<b>Second</b> line."
    html = page(client, url(run))
    assert "First try.<br>&lt;b&gt;Second&lt;/b&gt; line." in html
    assert "Description saved." in html


def test_the_description_form_carries_a_csrf_token_and_needs_it(run):
    client = Client(enforce_csrf_checks=True)
    html = page(client, url(run))
    assert 'name="csrfmiddlewaretoken"' in html

    response = client.post(url(run, "description"), {"description": "sneaky"})

    assert response.status_code == 403
    assert not RunTag.objects.filter(run=run, key="mlflow.note.content").exists()


def test_the_description_of_a_deleted_run_is_not_changed(client, run):
    from tracking.services.runs import delete_run

    delete_run(run=run)
    client.post(url(run, "description"), {"description": "too late"})

    assert not RunTag.objects.filter(run=run, key="mlflow.note.content").exists()
    assert "The description was not saved" in page(client, url(run))


def test_the_description_is_only_changed_by_post(client, run):
    assert client.get(url(run, "description")).status_code == 405


# --- Metrics -------------------------------------------------------------------------------


def test_the_metrics_tab_has_one_chart_per_key_and_loads_plotly_from_our_static_files(client, run):
    html = page(client, url(run, "metrics/"))

    assert html.count("data-chart ") == 2
    assert f'data-url="/ws/default/runs/{run.uuid}/metrics/data?key=accuracy"' in html
    # Line charts need plotly.js's basic bundle only: a quarter of the full one to download and compile.
    assert '<script defer src="/static/vendor/plotly-basic.min.js"></script>' in html
    assert 'id="chart-config"' in html and "cdn" not in html.lower()


def test_a_run_without_metrics_says_so(client, experiment):
    run = create_run(experiment=experiment)

    html = page(client, url(run, "metrics/"))

    assert "No metrics yet" in html and "plotly" not in html.split("</head>")[1].split("<script")[0]


def test_the_metric_data_is_a_plotly_figure(client, run):
    response = client.get(url(run, "metrics/data"), {"key": "loss"})

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert body["key"] == "loss" and body["x"] == "step" and body["status"] == "RUNNING"
    (line,) = body["figure"]["data"]
    assert line["x"] == [0, 1, 2, 3, 4]
    assert line["y"] == pytest.approx([2.0, 1.9, 1.8, 1.7, 1.6])
    assert body["series"][0]["total"] == 5 and not body["series"][0]["sampled"]


def test_a_long_history_is_downsampled_with_its_spikes(client, experiment):
    run = make_run(experiment, metrics={"loss": lambda i: 100.0 if i == 4321 else 1.0}, steps=6000)

    body = client.get(url(run, "metrics/data"), {"key": "loss", "points": 200}).json()

    _, high, _ = body["figure"]["data"]
    assert max(high["y"]) == 100.0
    assert body["series"][0]["sampled"] and body["series"][0]["buckets"] == 200


def test_the_metric_data_by_relative_time_is_in_seconds_and_can_be_zoomed(client, run):
    body = client.get(url(run, "metrics/data"), {"key": "loss", "x": "time", "from": "1", "to": "3"}).json()

    assert body["figure"]["data"][0]["x"] == [1.0, 2.0, 3.0]
    assert body["figure"]["layout"]["xaxis"]["title"]["text"] == "Relative time (s)"


def test_nan_and_infinite_points_are_counted_not_drawn(client, experiment):
    values = [1.0, math.nan, math.inf, 2.0]
    run = make_run(experiment, metrics={"loss": lambda i: values[i]}, steps=4)

    response = client.get(url(run, "metrics/data"), {"key": "loss"})

    body = json.loads(response.content)  # valid JSON: no NaN, no Infinity
    assert body["figure"]["data"][0]["y"] == [1.0, 2.0]
    assert (body["series"][0]["nans"], body["series"][0]["infs"]) == (1, 1)


@pytest.mark.parametrize(
    "query",
    [{}, {"key": "loss", "x": "wall"}, {"key": "loss", "points": "many"}, {"key": "loss", "from": "soon"}],
)
def test_the_metric_data_refuses_bad_arguments(client, run, query):
    response = client.get(url(run, "metrics/data"), query)

    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_an_unknown_metric_key_is_a_json_404(client, run):
    response = client.get(url(run, "metrics/data"), {"key": "nope"})

    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_the_metric_data_is_gzipped_for_browsers(client, experiment):
    run = make_run(experiment, steps=3000)

    response = client.get(url(run, "metrics/data"), {"key": "loss"}, HTTP_ACCEPT_ENCODING="gzip")

    assert response["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(response.content))["key"] == "loss"


def test_the_metrics_tab_and_its_data_cost_a_fixed_number_of_queries(
    client, experiment, django_assert_max_num_queries
):
    run = make_run(experiment, metrics={f"m{k}": lambda i: float(i) for k in range(12)}, steps=2000)
    page(client, url(run, "metrics/"))  # the workspace and its resource group are cached now

    with django_assert_max_num_queries(4):
        page(client, url(run, "metrics/"))
    with django_assert_max_num_queries(5):
        assert client.get(url(run, "metrics/data"), {"key": "m3"}).status_code == 200


# --- Outputs + logs ------------------------------------------------------------------------


def test_outputs_list_the_runs_log_files_and_show_the_selected_one(client, run):
    root = proxy_path(run.artifact_uri)
    save_artifact(
        workspace=run.experiment.workspace,
        path=f"{root}/logs/std_log.txt",
        stream=io.BytesIO(b"epoch 1 <b>ok</b>\n"),
    )
    save_artifact(
        workspace=run.experiment.workspace,
        path=f"{root}/outputs/metrics.json",
        stream=io.BytesIO(b'{"a": 1}'),
    )
    save_artifact(
        workspace=run.experiment.workspace, path=f"{root}/model/MLmodel", stream=io.BytesIO(b"flavors: {}")
    )

    html = page(client, url(run, "outputs/"))

    assert "logs/std_log.txt" in html and "outputs/metrics.json" in html and "MLmodel" not in html
    assert "epoch 1 &lt;b&gt;ok&lt;/b&gt;" in html
    html = page(client, url(run, "outputs/") + "?file=outputs/metrics.json")
    assert "{&quot;a&quot;: 1}" in html
    page(client, url(run, "outputs/") + "?file=model/MLmodel", 404)
    page(client, url(run, "outputs/") + "?file=../../etc/passwd", 404)


def test_outputs_say_jobs_will_show_their_output_when_there_is_none(client, run):
    html = page(client, url(run, "outputs/"))

    assert (
        'id="outputs-empty"' in html
        and "Jobs submitted to this workspace will show their output here" in html
    )


# --- Child runs ----------------------------------------------------------------------------


def test_child_runs_are_the_runs_tagged_with_this_parent(
    client, experiment, run, django_assert_max_num_queries
):
    children = [
        make_run(
            experiment,
            f"trial-{i}",
            tags=[("mlflow.parentRunId", run.uuid)],
            metrics={"score": lambda s, i=i: i + s / 100},
        )
        for i in range(3)
    ]
    make_run(experiment, "unrelated")

    with django_assert_max_num_queries(8):
        html = page(client, url(run, "children/"))

    assert html.count('<span class="badge RUNNING">') == 4  # the header's and three children's
    for child in children:
        assert f'href="/ws/default/runs/{child.uuid}/">{child.name}</a>' in html
    assert "unrelated" not in html
    assert "2.04" in html  # trial-2's latest score
    assert "/ws/default/compare/?runs=" + ",".join(child.uuid for child in children) in html


def test_a_run_without_children_says_how_to_make_them(client, run):
    assert 'id="children-empty"' in page(client, url(run, "children/"))


# --- Models --------------------------------------------------------------------------------


def test_the_models_tab_lists_the_models_the_run_logged(client, experiment, run):
    model = create_logged_model(
        experiment=experiment, name="classifier", model_type="sklearn", source_run_id=run.uuid
    )
    finalize_logged_model(model=model, status="LOGGED_MODEL_READY")
    log_outputs(run=run, models=[(model.model_id, 4)])
    create_logged_model(experiment=experiment, name="someone-elses", source_run_id="f" * 32)

    html = page(client, url(run, "models/"))

    assert "classifier" in html and model.model_id in html and "Ready" in html and "sklearn" in html
    assert f'href="/ws/default/runs/{run.uuid}/artifacts/?model={model.model_id}"' in html
    assert "someone-elses" not in html


def test_a_run_without_models_says_so(client, run):
    assert 'id="models-empty"' in page(client, url(run, "models/"))


def test_system_metrics_get_a_section_of_their_own_after_the_runs_metrics(client, experiment):
    run = make_run(
        experiment,
        metrics={
            "system/gpu_0_utilization_percentage": lambda i: 90.0,
            "zeta": lambda i: 1.0,
            "acc": lambda i: 0.5,
        },
    )

    html = page(client, url(run, "metrics/"))

    metrics, system = html.split('<h2 class="section-title metric-section"')[1:3]
    assert metrics.startswith(' id="metrics">Metrics <span class="count">2</span>')
    assert metrics.index('data-key="acc"') < metrics.index('data-key="zeta"')
    assert system.startswith(' id="system-metrics">System metrics <span class="count">1</span>')
    assert 'data-key="system/gpu_0_utilization_percentage"' in system


def test_a_run_with_only_its_own_metrics_shows_no_section_titles(client, run):
    assert "metric-section" not in page(client, url(run, "metrics/"))
