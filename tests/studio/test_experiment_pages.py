"""The experiments list (/ws/<workspace>/) and an experiment's runs table (/ws/<workspace>/experiments/<id>/)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from studio.views.experiments import format_duration, format_number
from tracking.services.experiments import create_experiment, delete_experiment
from tracking.services.metric_points import MetricPoint
from tracking.services.runs import Batch, create_run, log_batch, log_param

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def make_run(experiment, name, *, minute=0, acc=None, lr=None, parent=None, tags=()):
    tags = [*tags, *([("mlflow.parentRunId", parent.uuid)] if parent else [])]
    run = create_run(
        experiment=experiment, run_name=name, start_time=T0 + timedelta(minutes=minute), tags=tags
    )
    metrics = [MetricPoint("acc", value, 0, step) for step, value in enumerate(acc or [])]
    log_batch(run=run, batch=Batch(metrics=metrics, params=[("lr", lr)] if lr else []))
    return run


def names_in(response, css_class: str) -> list[str]:
    """The link texts of the table's name cells, in order."""
    html = response.content.decode()
    return re.findall(rf'<td class="{css_class}">.*?<a href="[^"]+"[^>]*>([^<]+)</a>', html, re.S)


def experiment_names(response) -> list[str]:
    return names_in(response, "name")


def run_names(response) -> list[str]:
    html = response.content.decode()
    return re.findall(r'<a href="/ws/[^/]+/runs/[0-9a-f]{32}/" title="[0-9a-f]{32}">([^<]+)</a>', html)


def experiment_url(experiment, query: str = "") -> str:
    return f"/ws/{experiment.workspace.name}/experiments/{experiment.experiment_id}/{query}"


@pytest.fixture
def experiment(default_workspace):
    return create_experiment(workspace=default_workspace, name="mnist")


# --- Look-ups ----------------------------------------------------------------------------------


def test_it_returns_404_for_an_unknown_workspace(client, db):
    assert client.get("/ws/nowhere/").status_code == 404
    assert client.get("/ws/nowhere/experiments/0/").status_code == 404


@pytest.mark.parametrize("experiment_id", ["999", "abc"])
def test_it_returns_404_for_an_unknown_experiment(client, default_workspace, experiment_id):
    assert client.get(f"/ws/default/experiments/{experiment_id}/").status_code == 404


def test_it_returns_404_for_an_experiment_of_another_workspace(client, experiment, make_workspace):
    make_workspace("team-a")

    response = client.get(f"/ws/team-a/experiments/{experiment.experiment_id}/")

    assert response.status_code == 404


# --- The experiments list ----------------------------------------------------------------------


def test_the_list_shows_each_experiment_with_its_id_run_count_and_tags(client, default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="mnist", tags=[("team", "vision")])
    for minute in range(3):
        make_run(experiment, f"r{minute}", minute=minute)

    response = client.get("/ws/default/")

    assert response.status_code == 200
    html = response.content.decode()
    row = html[html.index('href="/ws/default/experiments/1/"') :]
    row = row[: row.index("</tr>")]
    assert "<code>1</code>" in row
    assert '<td class="num">3</td>' in row
    assert '<span class="k">team</span>vision' in row
    assert experiment_names(response) == ["mnist", "Default"]


def test_the_list_searches_names_by_substring_ignoring_case(client, default_workspace):
    for name in ("MNIST-cnn", "cifar", "mnist-mlp"):
        create_experiment(workspace=default_workspace, name=name)

    response = client.get("/ws/default/?q=Mnist&sort=name")

    assert experiment_names(response) == ["MNIST-cnn", "mnist-mlp"]
    assert 'value="Mnist"' in response.content.decode()


def test_the_list_says_when_no_name_matches(client, default_workspace):
    response = client.get("/ws/default/?q=zzz")

    assert "No experiment name contains “zzz”." in response.content.decode()


@pytest.mark.parametrize(("sort", "expected"), [("name", ["a", "b", "c"]), ("-name", ["c", "b", "a"])])
def test_the_list_sorts_by_name_both_ways(client, default_workspace, sort, expected):
    for name in ("b", "c", "a"):
        create_experiment(workspace=default_workspace, name=name)

    response = client.get(f"/ws/default/?q=&sort={sort}")

    assert [name for name in experiment_names(response) if name != "Default"] == expected


def test_the_list_sorts_by_last_activity_which_includes_the_runs(client, default_workspace):
    old = create_experiment(workspace=default_workspace, name="old")
    create_experiment(workspace=default_workspace, name="new")
    create_run(experiment=old, start_time=datetime.now(UTC) + timedelta(hours=1))

    newest_first = experiment_names(client.get("/ws/default/?sort=-activity"))
    oldest_first = experiment_names(client.get("/ws/default/?sort=activity"))

    assert newest_first == ["old", "new", "Default"]
    assert oldest_first == ["Default", "new", "old"]


def test_the_list_hides_deleted_experiments_unless_asked(client, default_workspace):
    gone = create_experiment(workspace=default_workspace, name="gone")
    make_run(gone, "r")
    delete_experiment(experiment=gone)
    create_experiment(workspace=default_workspace, name="kept")

    assert "gone" not in experiment_names(client.get("/ws/default/"))
    shown = client.get("/ws/default/?deleted=1&sort=name")
    assert experiment_names(shown) == ["Default", "gone", "kept"]
    html = shown.content.decode()
    assert '<span class="badge">Deleted</span>' in html
    assert '<td class="num">1</td>' in html  # the run deleted with it


def test_the_list_pages_by_fifty_and_keeps_the_search_in_the_links(client, default_workspace):
    for i in range(55):
        create_experiment(workspace=default_workspace, name=f"exp-{i:02}")

    first = client.get("/ws/default/?q=exp&sort=name")
    second = client.get("/ws/default/?q=exp&sort=name&page=2")

    assert len(experiment_names(first)) == 50
    assert experiment_names(second) == [f"exp-{i}" for i in range(50, 55)]
    assert "51–55 of 55" in second.content.decode()  # noqa: RUF001
    next_link = re.search(r'href="([^"]+)" rel="next"', first.content.decode())[1]
    assert parse_qs(urlsplit(next_link.replace("&amp;", "&")).query) == {
        "q": ["exp"],
        "sort": ["name"],
        "page": ["2"],
    }


def test_the_list_shows_names_and_tags_as_text(client, default_workspace):
    create_experiment(
        workspace=default_workspace, name="<b>bold</b>", tags=[("note", "<script>alert(1)</script>")]
    )

    html = client.get("/ws/default/").content.decode()

    assert "<b>bold</b>" not in html
    assert "&lt;b&gt;bold&lt;/b&gt;" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_costs_the_same_queries_for_3_or_30_experiments(
    client, default_workspace, count, django_assert_max_num_queries
):
    for i in range(count):
        experiment = create_experiment(workspace=default_workspace, name=f"exp{i}", tags=[("k", "v")])
        create_run(experiment=experiment)

    # workspace (and its resource group for the top bar), count, page, tags
    with django_assert_max_num_queries(5):
        response = client.get("/ws/default/?q=EXP&sort=-activity")

    assert len(experiment_names(response)) == count


# --- The runs table ----------------------------------------------------------------------------


def test_the_runs_table_shows_params_and_metrics_as_columns(client, experiment):
    make_run(experiment, "first", acc=[0.5, 0.91234], lr="0.01")

    response = client.get(experiment_url(experiment))

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-column="params.lr"' in html
    assert 'data-column="metrics.acc"' in html
    assert '<td class="param" title="0.01">0.01</td>' in html
    assert '<td class="metric" title="0.91234 (2 points)">0.91234</td>' in html
    assert run_names(response) == ["first"]
    assert re.search(r'href="/ws/default/runs/[0-9a-f]{32}/"', html)


def test_a_param_logged_a_moment_ago_is_a_column_of_the_next_page_view(client, experiment):
    run = make_run(experiment, "first", lr="0.01")
    client.get(experiment_url(experiment))

    log_param(run=run, key="depth", value="3")
    response = client.get(experiment_url(experiment))

    assert 'data-column="params.depth"' in response.content.decode()


def test_the_runs_table_shows_the_columns_the_url_names_with_min_and_max(client, experiment):
    make_run(experiment, "first", acc=[0.5, 0.9, 0.7], lr="0.01")

    html = client.get(
        experiment_url(experiment, "?col=min(metrics.acc)&col=max(metrics.acc)")
    ).content.decode()

    assert 'data-column="params.lr"' not in html
    assert '<span class="stat">min</span>' in html
    assert ">0.5</td>" in html
    assert ">0.9</td>" in html


def test_an_empty_column_choice_shows_no_param_or_metric_column(client, experiment):
    make_run(experiment, "first", acc=[0.5], lr="0.01")

    html = client.get(experiment_url(experiment, "?col=")).content.decode()

    assert "data-column=" not in html


def test_the_runs_table_sorts_by_a_metric_column_both_ways(client, experiment):
    make_run(experiment, "mid", acc=[0.5], minute=1)
    make_run(experiment, "high", acc=[0.9], minute=2)
    make_run(experiment, "low", acc=[0.1], minute=3)

    ascending = client.get(experiment_url(experiment, "?sort=metrics.acc"))
    descending = client.get(experiment_url(experiment, "?sort=-metrics.acc"))

    assert run_names(ascending) == ["low", "mid", "high"]
    assert run_names(descending) == ["high", "mid", "low"]
    # Clicking the sorted header turns the order round, keeping the rest of the URL.
    assert 'href="/ws/default/experiments/1/?sort=-metrics.acc"' in ascending.content.decode()


def test_the_runs_tables_header_links_keep_the_filter_and_columns(client, experiment):
    make_run(experiment, "r", acc=[0.5], lr="0.1")

    html = client.get(
        experiment_url(experiment, "?filter=metrics.acc+>+0&col=metrics.acc&page=1")
    ).content.decode()

    link = re.search(r'data-column="metrics.acc"[^>]*><a class="sort" href="([^"]+)"', html)[1]
    assert parse_qs(urlsplit(link.replace("&amp;", "&")).query) == {
        "filter": ["metrics.acc > 0"],
        "col": ["metrics.acc"],
        "sort": ["metrics.acc"],
    }


def test_the_runs_table_filters_with_mlflows_syntax(client, experiment):
    make_run(experiment, "hit", acc=[0.95], lr="0.01")
    make_run(experiment, "miss", acc=[0.95], lr="0.1")

    response = client.get(experiment_url(experiment), {"filter": "metrics.acc > 0.9 and params.lr = '0.01'"})

    assert run_names(response) == ["hit"]


def test_a_bad_filter_shows_mlflows_message_in_the_page(client, experiment):
    make_run(experiment, "r", acc=[0.5])

    response = client.get(experiment_url(experiment), {"filter": "metrics.acc >> 1"})

    html = response.content.decode()
    assert response.status_code == 200
    assert '<p class="error" role="alert">' in html
    assert "Expected numeric value type for metric. Found &gt;" in html
    assert "Fix the filter to see runs." in html
    assert 'value="metrics.acc &gt;&gt; 1"' in html


def test_the_runs_table_lists_child_runs_under_their_parent(client, experiment):
    parent = make_run(experiment, "sweep", minute=10)
    make_run(experiment, "trial-1", parent=parent, minute=11)
    make_run(experiment, "trial-2", parent=parent, minute=12)
    make_run(experiment, "single", minute=1)

    response = client.get(experiment_url(experiment))

    html = response.content.decode()
    assert run_names(response) == ["sweep", "trial-2", "trial-1", "single"]
    assert f'data-ancestors="{parent.uuid}" class="child"' in html
    assert '<span class="children">2 child runs</span>' in html
    assert f'data-toggle="{parent.uuid}"' in html


def test_the_runs_table_pages_by_a_hundred(client, experiment):
    for minute in range(105):
        make_run(experiment, f"r{minute:03}", minute=minute)

    first = client.get(experiment_url(experiment))
    second = client.get(experiment_url(experiment, "?page=2"))

    assert len(run_names(first)) == 100
    assert run_names(second) == [f"r{minute:03}" for minute in range(4, -1, -1)]
    assert "101–105 of 105 runs" in second.content.decode()  # noqa: RUF001


def test_the_runs_table_has_a_compare_button_for_the_workspace(client, experiment):
    make_run(experiment, "r")

    html = client.get(experiment_url(experiment)).content.decode()

    assert 'id="compare" href="/ws/default/compare/"' in html
    assert 'class="pick"' in html


def test_the_runs_table_shows_names_params_and_tags_as_text(client, default_workspace):
    experiment = create_experiment(
        workspace=default_workspace, name="<i>exp</i>", tags=[("note", "<img src=x onerror=alert(1)>")]
    )
    make_run(experiment, "<script>alert(1)</script>", lr="<b>0.1</b>")

    html = client.get(experiment_url(experiment)).content.decode()

    for raw in ("<script>alert(1)</script>", "<b>0.1</b>", "<i>exp</i>", "<img src=x onerror=alert(1)>"):
        assert raw not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;b&gt;0.1&lt;/b&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


@pytest.mark.parametrize("runs", [3, 40])
def test_the_runs_table_costs_the_same_queries_for_3_or_40_runs(
    client, experiment, runs, django_assert_max_num_queries
):
    parent = make_run(experiment, "sweep", acc=[1.0])
    for i in range(runs):
        make_run(experiment, f"r{i}", acc=[float(i), i / 2], lr=str(i), parent=parent if i % 2 else None)

    # workspace with its resource group, experiment, its tags, its keys; then the table: changes,
    # links, count, page, children, params; the alerts' badge
    with django_assert_max_num_queries(11):
        response = client.get(
            experiment_url(experiment, "?sort=-max(metrics.acc)&filter=metrics.acc+>%3D+0&col=params.lr")
        )

    assert response.status_code == 200
    assert "child run" in response.content.decode()


# --- Formatting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "NaN"),
        (3.0, "3"),
        (0.931254, "0.93125"),
        (12345.678, "12346"),
        (1.5, "1.5"),
        (0.000012345, "1.2345e-05"),
        (2.5e7, "25000000"),
        (2.5e20, "2.5000e+20"),
        (float("inf"), "∞"),
    ],
)
def test_numbers_are_shown_with_five_significant_digits(value, text):
    assert format_number(value) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.8, "0.8s"), (42, "42s"), (192, "3m 12s"), (3900, "1h 05m"), (93600, "1d 2h")],
)
def test_durations_are_short(seconds, text):
    assert format_duration(timedelta(seconds=seconds)) == text


def test_a_deleted_experiments_page_lists_the_runs_deleted_with_it(client, experiment):
    make_run(experiment, "kept")
    delete_experiment(experiment=experiment)

    response = client.get(experiment_url(experiment))

    assert response.status_code == 200
    assert "This experiment is deleted" in response.content.decode()
    assert run_names(response) == ["kept"]


# --- The workspace's runs page: runs of any or all experiments --------------------------------


@pytest.fixture
def two_experiments(default_workspace):
    mnist = create_experiment(workspace=default_workspace, name="mnist")
    cifar = create_experiment(workspace=default_workspace, name="cifar <b>10</b>")
    make_run(mnist, "m-fast", minute=1, acc=[0.9], lr="0.1")
    make_run(mnist, "m-slow", minute=2, acc=[0.5], lr="0.001")
    make_run(cifar, "c-fast", minute=3, acc=[0.95], lr="0.1")
    make_run(cifar, "c-slow", minute=4, acc=[0.4], lr="0.001")
    return mnist, cifar


def experiment_cells(response) -> list[str]:
    return re.findall(r'<td class="experiment"><a href="[^"]+">([^<]+)</a></td>', response.content.decode())


def test_the_runs_page_lists_every_experiments_runs_with_the_experiment_as_a_column(client, two_experiments):
    response = client.get("/ws/default/runs/")

    assert response.status_code == 200
    assert run_names(response) == ["c-slow", "c-fast", "m-slow", "m-fast"]
    # Names are text: the experiment named with markup is shown escaped, and links to its page.
    assert experiment_cells(response) == ["cifar &lt;b&gt;10&lt;/b&gt;"] * 2 + ["mnist"] * 2
    mnist, _ = two_experiments
    assert f'<a href="/ws/default/experiments/{mnist.experiment_id}/">mnist</a>' in response.content.decode()
    assert "<b>10</b>" not in response.content.decode()


def test_the_runs_page_filters_sorts_and_shows_columns_across_experiments(client, two_experiments):
    response = client.get(
        "/ws/default/runs/?filter=params.lr+%3D+%270.1%27+OR+metrics.acc+<+0.45&sort=-metrics.acc&col=params.lr"
    )

    assert run_names(response) == ["c-fast", "m-fast", "c-slow"]
    assert 'data-column="params.lr"' in response.content.decode()
    assert 'data-column="metrics.acc"' not in response.content.decode()


def test_the_runs_page_picks_experiments_by_id_and_keeps_them_in_its_links(client, two_experiments):
    mnist, _ = two_experiments

    response = client.get(f"/ws/default/runs/?exp={mnist.experiment_id}&filter=metrics.acc+>+0")

    assert run_names(response) == ["m-slow", "m-fast"]
    html = response.content.decode()
    assert f'name="exp" value="{mnist.experiment_id}" checked' in html
    # The sort links and the forms (filter, columns, grouping) keep the choice.
    assert f"exp={mnist.experiment_id}" in html.split('class="sort"')[1]
    assert html.count(f'<input type="hidden" name="exp" value="{mnist.experiment_id}">') == 3


def test_the_runs_page_leaves_out_deleted_experiments_and_unknown_ids(client, two_experiments):
    _, cifar = two_experiments
    delete_experiment(experiment=cifar)

    assert run_names(client.get("/ws/default/runs/")) == ["m-slow", "m-fast"]
    assert run_names(client.get(f"/ws/default/runs/?exp={cifar.experiment_id}")) == []
    assert run_names(client.get("/ws/default/runs/?exp=999&exp=abc")) == []


def test_the_runs_page_shows_a_bad_filter_in_the_page(client, two_experiments):
    response = client.get("/ws/default/runs/?filter=params.lr+%3D+%270.1%27+OR")

    assert response.status_code == 200
    assert "expected a condition after OR at position 18" in response.content.decode()


def test_the_runs_page_lists_only_its_own_workspaces_runs(client, two_experiments, make_workspace):
    other = make_workspace("team-a")
    make_run(create_experiment(workspace=other, name="theirs"), "their-run", acc=[1.0])

    assert run_names(client.get("/ws/default/runs/")) == ["c-slow", "c-fast", "m-slow", "m-fast"]
    assert run_names(client.get("/ws/team-a/runs/")) == ["their-run"]
    assert client.get("/ws/nowhere/runs/").status_code == 404


@pytest.mark.parametrize("experiments", [2, 20])
def test_the_runs_page_costs_the_same_queries_for_2_or_20_experiments(
    client, default_workspace, experiments, django_assert_max_num_queries
):
    for number in range(experiments):
        experiment = create_experiment(workspace=default_workspace, name=f"e{number}")
        make_run(experiment, f"r{number}", acc=[1.0], lr="0.1")

    # workspace (+ resource group), the experiments, their keys; then links, count, page, params, metrics
    with django_assert_max_num_queries(10):
        response = client.get("/ws/default/runs/?filter=metrics.acc+>%3D+0+OR+params.lr+%3D+%270.1%27")

    assert len(run_names(response)) == experiments


# --- Grouping the runs table by a param or a tag ------------------------------------------------


def group_cells(response) -> list[tuple[str, str]]:
    """(group label, runs) of each group row."""
    html = response.content.decode()
    return re.findall(
        r'<tr class="group"><td class="name"><a [^>]+>(.*?)</a></td><td class="num">([^<]+?)(?: <a class="chart-link" [^>]+>charts</a>)?</td>',
        html,
    )


def test_the_table_groups_runs_by_a_param_with_each_metrics_mean_and_range(client, experiment):
    make_run(experiment, "a1", acc=[0.9], lr="0.1")
    make_run(experiment, "a2", acc=[0.7], lr="0.1")
    make_run(experiment, "b1", acc=[0.2], lr="<b>0.01</b>")
    make_run(experiment, "none", acc=[0.5])

    response = client.get(experiment_url(experiment, "?group=params.lr"))

    html = response.content.decode()
    assert group_cells(response) == [
        ("0.1", "2 runs"),
        ("&lt;b&gt;0.01&lt;/b&gt;", "1 run"),
        ('<span class="muted">(none)</span>', "1 run"),
    ]
    assert "0.8" in html and '<span class="range">0.7 &ndash; 0.9</span>' in html
    assert "4 runs in 3 groups" in html
    assert '<option value="params.lr" selected>lr</option>' in html


def test_a_groups_link_lists_its_runs_keeping_the_filter(client, experiment):
    make_run(experiment, "a1", acc=[0.9], lr="0.1")
    make_run(experiment, "a2", acc=[0.3], lr="0.1")
    make_run(experiment, "b1", acc=[0.95], lr="0.01")

    response = client.get(experiment_url(experiment, "?group=params.lr&filter=metrics.acc+>+0.5"))

    links = dict(
        (label, href.replace("&amp;", "&"))
        for href, label in re.findall(
            r'<tr class="group"><td class="name"><a href="([^"]+)"[^>]*>([^<]+)</a>',
            response.content.decode(),
        )
    )
    href = links["0.1"]
    query = parse_qs(urlsplit(href).query)
    assert query["filter"] == ["(metrics.acc > 0.5) AND params.`lr` = '0.1'"]
    assert "group" not in query
    assert run_names(client.get(href)) == ["a1"]


def test_an_unknown_grouping_shows_the_runs_and_a_bad_filter_is_explained(client, experiment):
    make_run(experiment, "a1", acc=[0.9], lr="0.1")

    assert run_names(client.get(experiment_url(experiment, "?group=metrics.acc"))) == ["a1"]
    response = client.get(experiment_url(experiment, "?group=params.lr&filter=params.lr+%3D"))
    assert "expected a value after" in response.content.decode()
    assert group_cells(response) == []


def test_the_workspace_runs_page_groups_across_experiments(client, two_experiments):
    response = client.get("/ws/default/runs/?group=params.lr")

    assert group_cells(response) == [("0.001", "2 runs"), ("0.1", "2 runs")]
