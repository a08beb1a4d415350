"""MLflow 3 evaluation datasets: creating, tagging, associating with experiments, upserting records.

Every change of a dataset's records moves its `updated_at` and so its digest, as in MLflow.
Records are upserted in bulk: one look-up of the inputs already there, one INSERT of the new
records and one UPDATE of the existing ones per call, whatever the number of records.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, transaction

from tracking.errors import InvalidParameterValue
from tracking.models import (
    EvaluationDataset,
    EvaluationDatasetExperiment,
    EvaluationDatasetRecord,
    EvaluationDatasetTag,
    Experiment,
    Workspace,
)
from tracking.times import datetime_to_ms, now_to_the_ms

MLFLOW_USER = "mlflow.user"
MAX_NAME_LENGTH = 255
MAX_TAG_KEY_LENGTH = 255
MAX_TAG_VALUE_LENGTH = 5000
MAX_USER_LENGTH = 255
MAX_SOURCE_ID_LENGTH = 255
SOURCE_TYPES = ("UNSPECIFIED", "TRACE", "HUMAN", "DOCUMENT", "CODE")
_RECORD_FIELDS = frozenset({"inputs", "outputs", "expectations", "tags", "source"})


def dataset_digest(name: str, updated_at: datetime) -> str:
    """MLflow's digest: the first 8 hex digits of sha256("<name>:<last update ms>")."""
    return hashlib.sha256(f"{name}:{datetime_to_ms(updated_at)}".encode()).hexdigest()[:8]


def _checked_tags(tags: Any, field: str) -> dict[str, str]:
    """A JSON object of tags; values become strings as in MLflow, a null value is skipped."""
    if not isinstance(tags, dict):
        raise InvalidParameterValue(f"'{field}' must be a JSON object of tag keys to values.")
    checked: dict[str, str] = {}
    for key, value in tags.items():
        if not key or len(key) > MAX_TAG_KEY_LENGTH:
            raise InvalidParameterValue(
                f"Invalid tag key {key[:300]!r} in '{field}': it must have 1 to {MAX_TAG_KEY_LENGTH} characters."
            )
        if value is None:
            continue
        text = value if isinstance(value, str) else str(value)
        if len(text) > MAX_TAG_VALUE_LENGTH:
            raise InvalidParameterValue(
                f"The value of tag '{key}' has {len(text)} characters; at most {MAX_TAG_VALUE_LENGTH} are accepted."
            )
        checked[key] = text
    return checked


def _user(value: Any) -> str | None:
    return value[:MAX_USER_LENGTH] if isinstance(value, str) and value else None


def create_evaluation_dataset(
    *,
    workspace: Workspace,
    name: str,
    tags: Mapping[str, Any] | None = None,
    experiments: Iterable[Experiment] = (),
) -> EvaluationDataset:
    if not name.strip():
        raise InvalidParameterValue("The dataset name must not be empty.")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidParameterValue(
            f"The dataset name has {len(name)} characters; at most {MAX_NAME_LENGTH} are accepted."
        )
    checked_tags = _checked_tags(tags or {}, "tags")
    now = now_to_the_ms()
    creator = _user(checked_tags.get(MLFLOW_USER))
    with transaction.atomic():
        dataset = EvaluationDataset.objects.create(
            dataset_id=f"d-{uuid.uuid4().hex}",
            workspace=workspace,
            name=name,
            digest=dataset_digest(name, now),
            created_at=now,
            updated_at=now,
            created_by=creator,
            last_updated_by=creator,
        )
        EvaluationDatasetTag.objects.bulk_create(
            EvaluationDatasetTag(dataset=dataset, key=key, value=value) for key, value in checked_tags.items()
        )
        _link(dataset, experiments, now)
    return dataset


def delete_evaluation_dataset(*, dataset: EvaluationDataset) -> None:
    """For good, with its records, tags and experiment associations (MLflow keeps no copy either)."""
    EvaluationDataset.objects.filter(pk=dataset.pk).delete()


def set_evaluation_dataset_tags(*, dataset: EvaluationDataset, tags: Any) -> None:
    checked = _checked_tags(tags, "tags")
    EvaluationDatasetTag.objects.bulk_create(
        [EvaluationDatasetTag(dataset=dataset, key=key, value=value) for key, value in checked.items()],
        update_conflicts=True,
        unique_fields=["dataset", "key"],
        update_fields=["value"],
    )


def delete_evaluation_dataset_tag(*, dataset: EvaluationDataset, key: str) -> None:
    EvaluationDatasetTag.objects.filter(dataset=dataset, key=key).delete()


def _link(dataset: EvaluationDataset, experiments: Iterable[Experiment], now: datetime) -> None:
    for experiment in experiments:
        # The caller looked them up in the dataset's workspace; this keeps it true for any caller.
        if experiment.workspace_id != dataset.workspace_id:
            raise InvalidParameterValue(
                "A dataset can only be associated with experiments of its own workspace."
            )
    EvaluationDatasetExperiment.objects.bulk_create(
        [EvaluationDatasetExperiment(dataset=dataset, experiment=e, created_at=now) for e in experiments],
        ignore_conflicts=True,
    )


def _touch(dataset: EvaluationDataset, now: datetime, **changes: Any) -> None:
    changes |= {"updated_at": now, "digest": dataset_digest(dataset.name, now)}
    EvaluationDataset.objects.filter(pk=dataset.pk).update(**changes)
    for field, value in changes.items():
        setattr(dataset, field, value)


def add_dataset_to_experiments(*, dataset: EvaluationDataset, experiments: list[Experiment]) -> None:
    now = now_to_the_ms()
    with transaction.atomic():
        _link(dataset, experiments, now)
        _touch(dataset, now)


def remove_dataset_from_experiments(*, dataset: EvaluationDataset, experiments: list[Experiment]) -> None:
    """Idempotent, as in MLflow: an experiment the dataset is not associated with is passed over."""
    now = now_to_the_ms()
    with transaction.atomic():
        removed, _ = EvaluationDatasetExperiment.objects.filter(
            dataset=dataset, experiment__in=[e.pk for e in experiments]
        ).delete()
        if removed:
            _touch(dataset, now)


# --- Records -------------------------------------------------------------------------------------


def _json_size_check(value: Any, what: str) -> bytes:
    """The canonical JSON of a value (sorted keys), or a clear error for what JSON cannot carry."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as error:
        raise InvalidParameterValue(f"Invalid {what}: {error}.") from None


def _checked_source(source: Any, index: int) -> dict[str, Any] | None:
    if source is None:
        return None
    if not isinstance(source, dict) or not set(source) <= {"source_type", "source_data"}:
        raise InvalidParameterValue(
            f"records[{index}].source must be a JSON object with 'source_type' and 'source_data'."
        )
    source_type = source.get("source_type")
    if not isinstance(source_type, str) or source_type.upper() not in SOURCE_TYPES:
        raise InvalidParameterValue(
            f"Invalid dataset record source type {source_type!r} in records[{index}]. "
            f"Valid source types: {list(SOURCE_TYPES)}"
        )
    data = source.get("source_data")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InvalidParameterValue(f"records[{index}].source.source_data must be a JSON object.")
    return {"source_type": source_type.upper(), "source_data": data}


def _source_id(source: dict[str, Any] | None) -> str | None:
    if source is None:
        return None
    key = "trace_id" if source["source_type"] == "TRACE" else "source_id"
    found = source["source_data"].get(key)
    if found is None:
        return None
    text = found if isinstance(found, str) else str(found)
    if len(text) > MAX_SOURCE_ID_LENGTH:
        raise InvalidParameterValue(
            f"The record source's {key} is longer than {MAX_SOURCE_ID_LENGTH} characters."
        )
    return text


def _checked_record(raw: Any, index: int) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidParameterValue(f"records[{index}] must be a JSON object with 'inputs'.")
    # Other fields (a record id, times, as in a to_df() merged back) are ignored, as in MLflow.
    record = {field: value for field, value in raw.items() if field in _RECORD_FIELDS}
    inputs = record.get("inputs")
    record["inputs"] = {} if inputs is None else inputs
    if not isinstance(record["inputs"], dict):
        raise InvalidParameterValue(f"records[{index}].inputs must be a JSON object.")
    for field in ("expectations", "tags"):
        if record.get(field) is not None and not isinstance(record[field], dict):
            raise InvalidParameterValue(f"records[{index}].{field} must be a JSON object.")
    record["source"] = _checked_source(record.get("source"), index)
    for field in _RECORD_FIELDS & set(record):
        _json_size_check(record[field], f"records[{index}].{field}")
    return record


def _input_hash(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(_json_size_check(inputs, "inputs")).hexdigest()


def _merge(record: EvaluationDatasetRecord, new: dict[str, Any], now: datetime) -> None:
    """MLflow's merge: outputs replaced when given, expectations and tags merged key by key."""
    if "outputs" in new:
        record.outputs = new["outputs"]
    if new.get("expectations"):
        record.expectations = {**(record.expectations or {}), **new["expectations"]}
    if new.get("tags"):
        record.tags = {**(record.tags or {}), **new["tags"]}
        record.last_updated_by = _user(new["tags"].get(MLFLOW_USER)) or record.last_updated_by
    record.updated_at = now


def _infer_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "float"), (str, "string")):
        if isinstance(value, kind):
            return name
    return "array" if isinstance(value, list) else "object" if isinstance(value, dict) else "unknown"


def _merged_schema(schema_text: str | None, records: list[dict[str, Any]]) -> str:
    """The fields seen so far in inputs, outputs and expectations, with their inferred types."""
    schema = json.loads(schema_text) if schema_text else {}
    schema = {"inputs": {}, "outputs": {}, "expectations": {}, "version": "1.0", **schema}
    for record in records:
        for part in ("inputs", "expectations"):
            for key, value in (record.get(part) or {}).items():
                schema[part].setdefault(key, _infer_type(value))
        outputs = record.get("outputs")
        if isinstance(outputs, dict) and isinstance(schema["outputs"], dict):
            for key, value in outputs.items():
                schema["outputs"].setdefault(key, _infer_type(value))
        elif outputs is not None and not schema["outputs"]:
            schema["outputs"] = _infer_type(outputs)
    return json.dumps(schema)


def _update_merged(rows: list[EvaluationDatasetRecord], now: datetime) -> None:
    """One UPDATE for all the merged records, their new values passed as one JSON document.

    (Django's bulk_update writes a CASE with a branch per row, which the database walks for
    every row: 10,000 records took over a minute on PostgreSQL.)
    """
    if not rows:
        return
    table = connection.ops.quote_name(EvaluationDatasetRecord._meta.db_table)
    if connection.vendor == "postgresql":
        values = [
            {"pk": r.pk, "outputs": r.outputs, "expectations": r.expectations, "tags": r.tags,
             "by": r.last_updated_by}
            for r in rows
        ]  # fmt: skip
        sql = (
            f"UPDATE {table} AS t SET outputs = v.outputs, expectations = v.expectations, tags = v.tags, "
            "last_updated_by = v.by, updated_at = %s "
            "FROM jsonb_to_recordset(%s::jsonb) AS v(pk bigint, outputs jsonb, expectations jsonb, tags jsonb, by text) "
            "WHERE t.id = v.pk"
        )
    else:
        # SQLite keeps JSON as text: each value goes as its JSON text, NULL for None, as Django stores it.
        def text(value: Any) -> str | None:
            return None if value is None else json.dumps(value)

        values = [
            {"pk": r.pk, "outputs": text(r.outputs), "expectations": text(r.expectations), "tags": text(r.tags),
             "by": r.last_updated_by}
            for r in rows
        ]  # fmt: skip
        sql = (
            f"UPDATE {table} SET outputs = json_extract(v.value, '$.outputs'), "
            "expectations = json_extract(v.value, '$.expectations'), tags = json_extract(v.value, '$.tags'), "
            "last_updated_by = json_extract(v.value, '$.by'), updated_at = %s "
            f"FROM json_each(%s) AS v WHERE {table}.id = json_extract(v.value, '$.pk')"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(now), json.dumps(values)])


def upsert_dataset_records(*, dataset: EvaluationDataset, records: Any) -> tuple[int, int]:
    """(inserted, updated): a record whose inputs the dataset already holds is merged into it.

    1. Check every record (shape, JSON, the per-call cap) before touching anything.
    2. Read the records already there with the same inputs, in one query.
    3. Insert the new ones in one INSERT, update the others in one UPDATE; a second record with
       the same inputs in the same call merges into the first, as in MLflow.
    4. Refresh the dataset's schema, profile, digest and last update.
    """
    if not isinstance(records, list):
        raise InvalidParameterValue("'records' must be a JSON list of record objects.")
    limit = settings.DATASET_MAX_RECORDS_PER_UPSERT
    if len(records) > limit:
        raise InvalidParameterValue(
            f"An upsert may carry at most {limit} records; this one has {len(records)}. "
            "Send them in several calls (merge_records() with smaller lists)."
        )
    checked = [_checked_record(raw, index) for index, raw in enumerate(records)]
    hashes = [_input_hash(record["inputs"]) for record in checked]
    now = now_to_the_ms()
    with transaction.atomic():
        # Lock the dataset row: two upserts of the same inputs must not both insert them.
        dataset = EvaluationDataset.objects.select_for_update().get(pk=dataset.pk)
        existing = {
            row.input_hash: row
            for row in EvaluationDatasetRecord.objects.filter(dataset=dataset, input_hash__in=set(hashes))
        }
        new: dict[str, EvaluationDatasetRecord] = {}
        changed: dict[str, EvaluationDatasetRecord] = {}
        updated_by = None
        inserted = updated = 0
        for record, input_hash in zip(checked, hashes, strict=True):
            user = _user((record.get("tags") or {}).get(MLFLOW_USER))
            updated_by = user or updated_by
            row = existing.get(input_hash) or new.get(input_hash)
            if row is not None:
                _merge(row, record, now)
                if input_hash in existing:
                    changed[input_hash] = row
                updated += 1
                continue
            source = record["source"]
            new[input_hash] = EvaluationDatasetRecord(
                record_id=f"dr-{uuid.uuid4().hex}",
                dataset=dataset,
                input_hash=input_hash,
                inputs=record["inputs"],
                # As MLflow stores it: a record added without outputs has empty ones.
                outputs=record.get("outputs", {}),
                expectations=record.get("expectations"),
                tags=record.get("tags") or None,
                source=source,
                source_id=_source_id(source),
                source_type=source["source_type"] if source else None,
                created_at=now,
                updated_at=now,
                created_by=user,
                last_updated_by=user,
            )
            inserted += 1
        EvaluationDatasetRecord.objects.bulk_create(new.values())
        _update_merged(list(changed.values()), now)
        count = EvaluationDatasetRecord.objects.filter(dataset=dataset).count()
        touched: dict[str, Any] = {
            "schema": _merged_schema(dataset.schema, checked),
            "profile": json.dumps({"num_records": count}) if count else None,
        }
        if updated_by:
            touched["last_updated_by"] = updated_by
        _touch(dataset, now, **touched)
    return inserted, updated


def delete_dataset_records(*, dataset: EvaluationDataset, record_ids: list[str]) -> int:
    """How many of the records named were deleted; the profile counts what is left."""
    with transaction.atomic():
        dataset = EvaluationDataset.objects.select_for_update().get(pk=dataset.pk)
        deleted, _ = EvaluationDatasetRecord.objects.filter(
            dataset=dataset, record_id__in=set(record_ids)
        ).delete()
        if deleted:
            count = EvaluationDatasetRecord.objects.filter(dataset=dataset).count()
            _touch(dataset, now_to_the_ms(), profile=json.dumps({"num_records": count}) if count else None)
    return deleted
