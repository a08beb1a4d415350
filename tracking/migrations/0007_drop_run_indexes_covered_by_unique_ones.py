"""The run_id indexes of metric points, summaries, params and tags: each table's unique index
already starts with run_id, so these only cost time on every insert (a fifth of an import's)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0006_deletion_and_storage"),
    ]

    # The state changes (db_index=False); in the database only the indexes go. Django's own
    # AlterField would rebuild each table on SQLite and re-validate the foreign keys on
    # PostgreSQL, which is long on a large metric table for nothing.
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="metric",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metrics",
                        to="tracking.run",
                    ),
                ),
                migrations.AlterField(
                    model_name="metricsummary",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metric_summaries",
                        to="tracking.run",
                    ),
                ),
                migrations.AlterField(
                    model_name="param",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="params",
                        to="tracking.run",
                    ),
                ),
                migrations.AlterField(
                    model_name="runtag",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="tags",
                        to="tracking.run",
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    f"DROP INDEX IF EXISTS {name}", reverse_sql=f"CREATE INDEX {name} ON {table} (run_id)"
                )
                for table, name in (
                    ("tracking_metric", "tracking_metric_run_id_2d7b2d89"),
                    ("tracking_metricsummary", "tracking_metricsummary_run_id_1ed119c1"),
                    ("tracking_param", "tracking_param_run_id_f1876676"),
                    ("tracking_runtag", "tracking_runtag_run_id_7c3de316"),
                )
            ],
        )
    ]
