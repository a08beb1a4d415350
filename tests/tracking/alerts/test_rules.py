"""Alert rules as the domain checks them, whatever interface sent them: every field of the kind
required and sane, nothing else kept, and a rule watching from its creation."""

from __future__ import annotations

import pytest

from tracking.alerts.rules import RuleSpec, checked_spec, create_rule, set_rule_enabled
from tracking.errors import InvalidParameterValue
from tracking.services.experiments import create_experiment, delete_experiment


def test_it_keeps_only_the_fields_of_the_rule_s_kind():
    fields = checked_spec(RuleSpec(name="  stalls ", kind="run_stalled", metric_key="loss", comparison=">",
                                   threshold=3, stall_minutes="15"))  # fmt: skip
    assert fields == {"name": "stalls", "kind": "run_stalled", "metric_key": "", "comparison": "",
                      "threshold": None, "stall_minutes": 15, "webhook_url": ""}  # fmt: skip
    assert checked_spec(RuleSpec(name="t", kind="metric_threshold", metric_key="acc", comparison="<",
                                 threshold=" -0.5 "))["threshold"] == -0.5  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            RuleSpec(name="t", kind="metric_threshold", metric_key="m", comparison=">", threshold=10**400),
            "finite",
        ),
        (
            RuleSpec(name="t", kind="metric_threshold", metric_key="m", comparison=">", threshold="9" * 5000),
            "finite",
        ),
        (
            RuleSpec(name="t", kind="metric_threshold", metric_key="m", comparison=">", threshold=1e301),
            "finite",
        ),
        (
            RuleSpec(name="t", kind="metric_threshold", metric_key="m", comparison=[">"], threshold=1),
            "comparison",
        ),
        (RuleSpec(name="t", kind="run_stalled", stall_minutes="9" * 5000), "whole number"),
        (RuleSpec(name="t", kind="run_stalled", stall_minutes=True), "whole number"),
        (RuleSpec(name="t", kind="run_stalled"), "whole number"),
        (RuleSpec(name=None, kind="run_failed"), "'name' is required"),
        (RuleSpec(name="t", kind="run_failed", webhook_url=42), "'webhook_url' must be a string"),
        (
            RuleSpec(name="t", kind="run_failed", webhook_url="https://hooks.example/\nX-Injected: 1"),
            "control",
        ),
    ],
)
def test_it_refuses_what_is_not_a_rule(spec, message):
    with pytest.raises(InvalidParameterValue, match=message):
        checked_spec(spec)


def test_a_rule_of_a_deleted_experiment_is_refused(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="gone")
    delete_experiment(experiment=experiment)
    experiment.refresh_from_db()
    with pytest.raises(InvalidParameterValue, match="is deleted"):
        create_rule(experiment=experiment, spec=RuleSpec(name="t", kind="run_failed"), created_by="")


def test_enabling_again_moves_the_watch_forward_and_disabling_twice_changes_nothing(default_workspace):
    experiment = create_experiment(workspace=default_workspace, name="e")
    rule = create_rule(experiment=experiment, spec=RuleSpec(name="t", kind="run_failed"), created_by="me")
    first = rule.watch_from
    set_rule_enabled(rule=rule, enabled=False)
    set_rule_enabled(rule=rule, enabled=False)
    set_rule_enabled(rule=rule, enabled=True)
    rule.refresh_from_db()
    assert rule.enabled and rule.watch_from > first and rule.created_by == "me"
