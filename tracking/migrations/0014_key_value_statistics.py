"""Statistics of which values go with which key, for PostgreSQL's planner.

Column by column, the planner multiplies how common a key is by how common a value is among all
keys, so it takes `key = 'optimizer' AND value = 'adam'` for a rare pair: 280 runs expected
where 25,000 of 100,000 match. It then reads the whole params table to start from those runs
instead of walking the experiment's runs newest first, and a filtered page of the runs table
takes 520 ms instead of 25. The most common (key, value) pairs, kept by ANALYZE, correct it.
SQLite has no such statistics; nothing is done there.
"""

from django.db import migrations

TABLES = {
    "param_key_value": "tracking_param",
    "runtag_key_value": "tracking_runtag",
    "metric_summary_key_value": "tracking_metricsummary",
}


def create(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, table in TABLES.items():
        schema_editor.execute(f"CREATE STATISTICS IF NOT EXISTS {name}_pairs (mcv) ON key, value FROM {table}")


def drop(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in TABLES:
        schema_editor.execute(f"DROP STATISTICS IF EXISTS {name}_pairs")


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0013_run_experiment_stage_id_index"),
    ]

    operations = [migrations.RunPython(create, drop)]
