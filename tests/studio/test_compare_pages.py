"""The Compare page and its chart data: runs side by side, and runs grouped by a param or tag,
each group drawn as its mean with a band; what they refuse and how many queries they cost."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.studio.test_run_pages import make_run, page
from tracking.services.experiments import create_experiment
from tracking.services.runs import create_run


@pytest.fixture(autouse=True)
def artifacts_in_tmp(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="vision <b>models</b>")


# --- Runs side by side -------------------------------------------------------------------------------


def compare_url(runs, path: str = "") -> str:
    return f"/ws/default/compare/{path}?runs=" + ",".join(run.uuid for run in runs)


@pytest.fixture
def compared(experiment):
    return [
        make_run(
            experiment,
            f"trial-{i}",
            params=[("lr", str(10**-i)), ("seed", "7"), ("optimizer", "sgd" if i else "<b>adam</b>")],
            metrics={"loss": lambda s, i=i: 1 / (1 + s + i), "accuracy": lambda s, i=i: 0.5 + i / 10},
        )
        for i in range(3)
    ]


def test_compare_shows_a_table_with_differences_marked_and_a_chart_per_metric(client, compared):
    html = page(client, compare_url(compared))

    for run in compared:
        assert f'href="/ws/default/runs/{run.uuid}/">{run.name}</a>' in html
    assert html.count('<tr class="differs">') >= 3  # lr, optimizer, loss, accuracy, started...
    assert '<th scope="row" class="row-head" title="seed">seed</th>' in html
    seed_row = html.split('title="seed"')[0].rsplit("<tr", 1)[1]
    assert 'class="same"' in seed_row
    assert html.count("data-chart ") == 2
    assert 'id="differences-only"' in html
    assert "&lt;b&gt;adam&lt;/b&gt;" in html and "<b>adam</b>" not in html


def test_compare_embeds_its_parallel_coordinates_as_json(client, compared):
    html = page(client, compare_url(compared))

    figure = json.loads(html.split('id="parcoords-figure" type="application/json">')[1].split("</script>")[0])
    labels = [dimension["label"] for dimension in figure["data"][0]["dimensions"]]
    assert labels == ["lr", "optimizer", "accuracy", "loss"]


def test_compare_data_draws_one_trace_per_run(client, compared):
    body = client.get(compare_url(compared, "data") + "&key=loss").json()

    traces = body["figure"]["data"]
    assert [trace["name"] for trace in traces] == ["trial-0", "trial-1", "trial-2"]
    assert len({trace["line"]["color"] for trace in traces}) == 3


def test_compare_returns_404_for_an_unknown_run(client, compared):
    runs = ",".join([compared[0].uuid, "0" * 32])

    page(client, f"/ws/default/compare/?runs={runs}", 404)
    assert client.get(f"/ws/default/compare/data?runs={runs}&key=loss").status_code == 404


def test_compare_without_runs_explains_how_to_pick_them(client, default_workspace):
    assert "Pick runs to compare" in page(client, "/ws/default/compare/")


def test_compare_takes_at_most_50_runs(client, experiment):
    runs = [create_run(experiment=experiment, run_name=f"r{i}") for i in range(52)]

    html = page(client, compare_url(runs))

    assert "Only the first 50 runs are compared" in html
    assert runs[49].uuid in html and runs[50].uuid not in html


@pytest.mark.parametrize("count", [3, 40])
def test_compare_costs_the_same_queries_for_3_or_40_runs(
    client, experiment, count, django_assert_max_num_queries
):
    runs = [
        make_run(
            experiment,
            f"r{i}",
            params=[("lr", str(i))],
            metrics={"loss": lambda s: 1.0, "acc": lambda s: 0.5},
        )
        for i in range(count)
    ]

    with django_assert_max_num_queries(8):
        page(client, compare_url(runs))
    with django_assert_max_num_queries(5):
        body = client.get(compare_url(runs, "data") + "&key=loss").json()
    assert len(body["figure"]["data"]) == count


# --- Runs grouped by a param or tag: a mean and a band per group ----------------------------


@pytest.fixture
def sweep(experiment):
    """Five runs over two learning rates (and one without it), loss falling with the step."""
    runs = []
    for i, lr in enumerate(["0.1", "0.1", "0.01", "0.01", None]):
        runs.append(
            make_run(
                experiment,
                f"trial-{i}",
                params=[("lr", lr)] if lr else [],
                tags=[("team", "<img src=x onerror=alert(1)>")],
                metrics={"loss": lambda s, i=i: 10.0 - s + i},
                steps=4,
            )
        )
    return runs


def grouped_data(client, query: str, key: str = "loss") -> dict:
    response = client.get(f"/ws/default/compare/data?{query}&key={key}")
    assert response.status_code == 200, response.content[:300]
    return response.json()


def test_grouped_data_draws_each_groups_bands_and_mean_then_every_run(client, sweep):
    runs = ",".join(run.uuid for run in sweep)

    traces = grouped_data(client, f"runs={runs}&group=params.lr")["figure"]["data"]

    means = [trace for trace in traces if trace.get("meta", {}).get("mean")]
    assert [trace["name"] for trace in means] == [
        "lr = 0.01 · mean of 2",
        "lr = 0.1 · mean of 2",
        "lr not set · mean of 1",
    ]
    # 0.01 holds trials 2 and 3: losses 12 - s and 13 - s, so a mean of 12.5 - s.
    assert means[0]["y"] == [12.5, 11.5, 10.5, 9.5]
    assert [pair[0] for pair in means[0]["customdata"]] == [0.5] * 4  # the standard deviation
    bands = [trace for trace in traces if trace.get("meta", {}).get("band")]
    assert len(bands) == 3 * 4  # per group: low and high, for min-max and for one standard deviation
    assert {trace["meta"]["spread"]: trace["visible"] for trace in bands} == {"range": True, "std": False}
    first_group = bands[:4]
    assert [trace["y"] for trace in first_group] == [
        [12.0, 11.0, 10.0, 9.0],
        [13.0, 12.0, 11.0, 10.0],
        [12.0, 11.0, 10.0, 9.0],
        [13.0, 12.0, 11.0, 10.0],
    ]
    assert [trace.get("fill") for trace in first_group] == [None, "tonexty", None, "tonexty"]
    run_lines = [trace for trace in traces if "run_id" in trace.get("meta", {})]
    assert [trace["meta"]["run_id"] for trace in run_lines] == [run.uuid for run in sweep]


def test_a_groups_runs_share_its_colour(client, sweep):
    runs = ",".join(run.uuid for run in sweep)

    traces = grouped_data(client, f"runs={runs}&group=params.lr")["figure"]["data"]

    colour = {
        trace["meta"]["run_id"]: trace["line"]["color"] for trace in traces if "run_id" in trace["meta"]
    }
    assert colour[sweep[0].uuid] == colour[sweep[1].uuid] != colour[sweep[2].uuid] == colour[sweep[3].uuid]


def test_groups_by_a_tag_with_its_value_shown_as_text(client, sweep):
    runs = ",".join(run.uuid for run in sweep)

    traces = grouped_data(client, f"runs={runs}&group=tags.team")["figure"]["data"]

    (mean,) = [trace for trace in traces if trace["meta"].get("mean")]
    assert mean["name"] == "team = &lt;img src=x onerror=alert(1)&gt; · mean of 5"


def test_the_runs_of_an_experiment_matching_a_filter_are_charted_by_scope(client, experiment, sweep):
    query = f"exp={experiment.experiment_id}&filter=params.lr+%3D+%270.1%27&group=params.lr"

    traces = grouped_data(client, query)["figure"]["data"]

    run_ids = {trace["meta"]["run_id"] for trace in traces if "run_id" in trace["meta"]}
    assert run_ids == {sweep[0].uuid, sweep[1].uuid}
    html = page(client, f"/ws/default/compare/?{query}")
    assert "Runs matching <code>params.lr = &#x27;0.1&#x27;</code>" in html
    assert f"/ws/default/compare/data?exp={experiment.experiment_id}&amp;filter=params.lr" in html
    assert '<option value="params.lr" selected>param lr</option>' in html


def test_every_active_experiment_is_charted_with_exp_all(client, default_workspace, sweep):
    other = create_experiment(workspace=default_workspace, name="other")
    elsewhere = make_run(other, "elsewhere", params=[("lr", "0.1")])

    traces = grouped_data(client, "exp=all&group=params.lr")["figure"]["data"]

    run_ids = {trace["meta"]["run_id"] for trace in traces if "run_id" in trace["meta"]}
    assert run_ids == {run.uuid for run in sweep} | {elsewhere.uuid}


def test_the_page_lists_the_groups_with_their_colours_and_offers_both_bands(client, sweep):
    runs = ",".join(run.uuid for run in sweep)

    html = page(client, f"/ws/default/compare/?runs={runs}&group=params.lr")

    legend = html.split('aria-label="Groups"')[1].split("</ul>")[0]
    assert (
        legend.index("<strong>0.01</strong>") < legend.index("<strong>0.1</strong>") < legend.index("not set")
    )
    assert 'name="band" value="range" checked' in html and 'name="band" value="std"' in html
    assert f'<input type="hidden" name="runs" value="{runs}">' in html
    assert f"compare/data?runs={runs.replace(',', '%2C')}&amp;group=params.lr&amp;key=loss" in html


def test_an_ungrouped_page_offers_grouping_but_no_band_toggle(client, sweep):
    html = page(client, "/ws/default/compare/?runs=" + ",".join(run.uuid for run in sweep))

    assert '<option value="tags.team">tag team</option>' in html
    assert 'name="band"' not in html and 'aria-label="Groups"' not in html


def test_a_filter_mlflow_would_refuse_is_explained_not_raised(client, experiment, sweep):
    query = f"exp={experiment.experiment_id}&filter=params.lr+%3D%3D&group=params.lr"

    assert (
        client.get(f"/ws/default/compare/data?{query}&key=loss").json()["error_code"]
        == "INVALID_PARAMETER_VALUE"
    )
    html = page(client, f"/ws/default/compare/?{query}", 400)
    assert 'class="flash-error flash-inline" role="alert"' in html


def test_an_unknown_or_foreign_experiment_is_a_404(client, default_workspace, make_workspace):
    foreign = create_experiment(workspace=make_workspace("theirs"), name="theirs")

    for experiment_id in ["999999", "not-a-number", foreign.experiment_id]:
        assert client.get(f"/ws/default/compare/data?exp={experiment_id}&key=loss").status_code == 404
        page(client, f"/ws/default/compare/?exp={experiment_id}", 404)


def test_at_most_200_of_the_latest_runs_are_charted_by_scope(client, experiment, monkeypatch):
    monkeypatch.setattr("studio.views.compare.MAX_GROUP_CHARTED", 3)
    start = timezone.now()
    runs = [
        create_run(experiment=experiment, run_name=f"r{i}", start_time=start + timedelta(seconds=i))
        for i in range(5)
    ]

    html = page(client, f"/ws/default/compare/?exp={experiment.experiment_id}&group=params.lr")

    assert "Only the latest 3 matching runs are compared." in html
    assert runs[4].uuid in html and runs[2].uuid in html and runs[1].uuid not in html


@pytest.mark.parametrize("count", [4, 60])
def test_grouped_charts_cost_the_same_queries_for_4_or_60_runs(
    client, experiment, count, django_assert_max_num_queries
):
    for i in range(count):
        make_run(experiment, f"r{i}", params=[("lr", str(i % 3))], metrics={"loss": lambda s: 1.0})
    query = f"exp={experiment.experiment_id}&group=params.lr"

    with django_assert_max_num_queries(10):
        page(client, f"/ws/default/compare/?{query}")
    with django_assert_max_num_queries(7):
        traces = grouped_data(client, query)["figure"]["data"]
    assert sum(1 for trace in traces if trace["meta"].get("mean")) == 3


def test_system_metrics_get_a_section_of_their_own_and_stay_out_of_parallel_coordinates(client, experiment):
    runs = [
        make_run(
            experiment,
            f"r{i}",
            params=[("lr", str(i))],
            metrics={"loss": lambda s: 1.0, "system/cpu_utilization_percentage": lambda s: 50.0},
        )
        for i in range(2)
    ]

    html = page(client, "/ws/default/compare/?runs=" + ",".join(run.uuid for run in runs))

    metrics, system = html.split('<h3 class="section-title metric-section">')[1:3]
    assert metrics.startswith("Metrics") and 'data-key="loss"' in metrics
    assert system.startswith("System metrics") and 'data-key="system/cpu_utilization_percentage"' in system
    figure = json.loads(html.split('id="parcoords-figure" type="application/json">')[1].split("</script>")[0])
    assert [dimension["label"] for dimension in figure["data"][0]["dimensions"]] == ["lr", "loss"]
