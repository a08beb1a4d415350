"""Alerts: rules per experiment (a metric crosses a threshold, a run ends FAILED or KILLED, a
running run logs nothing for N minutes), evaluated by a worker's periodic pass, each fired once
per (rule, run), shown on the studio's Alerts page and delivered to the rule's webhook.

- `rules`: creating and changing rules, checked (services).
- `evaluation`: the periodic pass, set-based, with a watermark per rule.
- `delivery`: claiming, sending and retrying webhook deliveries; the test alert.
- `webhooks`: posting JSON to a URL a user chose, refusing what it must not reach (SSRF).
- `queries`: what the pages and the API list.
"""

from __future__ import annotations


def run_pass() -> tuple[int, int]:
    """Evaluates every enabled rule, then delivers what is due: (alerts fired, alerts delivered)."""
    from .delivery import deliver_due
    from .evaluation import evaluate_rules

    return evaluate_rules(), deliver_due()
