"""An index of the child runs' parent links (tag `mlflow.parentRunId`), by parent run id.

The runs table lists each parent's first children (`run_table._child_rows`) and the children
filter asks for `tags.mlflow.parentRunId = '<run id>'`: without this index both read every tag
of the database (110 ms at 600,000 tags). It holds only the parent links, a few per cent of the
tags. A hash index on PostgreSQL: a B-tree refuses values over about 2,700 bytes, and a tag
value may be 8,000 characters; SQLite's B-trees have no such limit. Created here rather than in
the model's Meta, which cannot say "hash on one database, B-tree on the other".
"""

from django.db import migrations

NAME = "runtag_parent_run_id"
PARENT_TAG = "mlflow.parentRunId"


def create(apps, schema_editor) -> None:
    method = "USING hash " if schema_editor.connection.vendor == "postgresql" else ""
    # The tag key is written out: SQLite takes no parameters in an index's WHERE.
    schema_editor.execute(f"CREATE INDEX {NAME} ON tracking_runtag {method}(value) WHERE key = '{PARENT_TAG}'")


def drop(apps, schema_editor) -> None:
    schema_editor.execute(f"DROP INDEX {NAME}")


class Migration(migrations.Migration):
    dependencies = [
        ("tracking", "0011_experiment_runs_changed_at"),
    ]

    operations = [migrations.RunPython(create, drop)]
