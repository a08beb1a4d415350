"""Registered models and versions as the API returns them, read with plain SQL in a fixed number of queries.

These reads sit on the client's hot path (it fetches the registered model before nearly every
registry call), and building ORM queries cost more than running them, so the SQL is written
here once, with every value a parameter:

* a version: its row beside its tags and aliases (one query);
* a page of versions: the rows (one query), then their tags and aliases (one);
* a registered model by name: its row beside its tags, aliases, latest version per stage and those
  versions' tags (one query);
* a page of registered models from a search: the rows (one), their latest versions (one), then
  everyone's tags and aliases (one).

Records hold timezone-aware datetimes; epoch milliseconds exist only in `registry.api.shapes`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from registry.models import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from registry.search import Query
from tracking.raw_sql import aware, fetch_rows, quote, table

# Parents per IN list: well under SQLite's smallest default limit of bound variables (32766).
CHUNK = 10_000


@dataclass(slots=True)
class VersionRecord:
    pk: int
    name: str
    version: int
    created_at: datetime
    updated_at: datetime
    user_id: str
    current_stage: str
    description: str
    source: str
    run_id: str
    status: str
    status_message: str
    run_link: str
    tags: list[tuple[str, str]] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ModelRecord:
    pk: int
    name: str
    created_at: datetime
    updated_at: datetime
    user_id: str
    description: str
    tags: list[tuple[str, str]] = field(default_factory=list)
    aliases: list[tuple[str, int]] = field(default_factory=list)
    latest_versions: list[VersionRecord] = field(default_factory=list)


# --- Versions ----------------------------------------------------------------------------------


def search_versions(query: Query, *, limit: int, offset: int) -> list[VersionRecord]:
    """A page of versions a search selects, without their tags and aliases (`with_version_children`)."""
    select_from = (
        f"SELECT {_version_columns()} FROM {table(ModelVersion)} v "
        f"JOIN {table(RegisteredModel)} m ON m.id = v.registered_model_id"
    )
    return [_version(row) for row in fetch_rows(*query.sql(select_from, limit=limit, offset=offset))]


def version_by_pk(pk: int) -> VersionRecord | None:
    return _one_version("v.id = %s", [pk])


def version_by_number(workspace_pk: int, name: str, number: int) -> VersionRecord | None:
    return _one_version(
        f"m.workspace_id = %s AND m.name = %s AND v.{quote('version')} = %s", [workspace_pk, name, number]
    )


def version_by_alias(workspace_pk: int, name: str, alias: str) -> VersionRecord | None:
    # Through the (model, alias) unique index, however many versions the model has.
    where = (
        f"v.id = (SELECT a.version_id FROM {table(RegisteredModelAlias)} a "
        f"JOIN {table(RegisteredModel)} am ON am.id = a.model_id "
        "WHERE am.workspace_id = %s AND am.name = %s AND a.alias = %s)"
    )
    return _one_version(where, [workspace_pk, name, alias])


def highest_version(workspace_pk: int, name: str) -> VersionRecord | None:
    return _one_version(
        f"m.workspace_id = %s AND m.name = %s ORDER BY v.{quote('version')} DESC LIMIT 1",
        [workspace_pk, name],
    )


def latest_versions_by_name(
    workspace_pk: int, name: str, stages: Iterable[str] | None
) -> list[VersionRecord] | None:
    """Per stage (of `stages`, or every stage), the highest version; None when there is no such model."""
    stage_list = list(stages) if stages is not None else None
    stage_sql = ""
    if stage_list is not None:
        stage_sql = (
            f" AND v.current_stage IN ({', '.join(['%s'] * len(stage_list))})" if stage_list else " AND 1 = 0"
        )
    # The model's row even when no version is its latest in these stages (then NULLs): an unknown
    # model is told apart from one with no such versions. Each version is beside its tags and aliases.
    sql = _beside_children(
        f"SELECT {_version_columns()} FROM {table(RegisteredModel)} m "
        f"LEFT JOIN {table(ModelVersion)} v ON v.registered_model_id = m.id AND {_is_latest()}{stage_sql} "
        "WHERE m.workspace_id = %s AND m.name = %s",
        several=True,
    )
    rows = fetch_rows(sql, [*(stage_list or []), workspace_pk, name])
    if not rows:
        return None
    records: dict[int, VersionRecord] = {}
    for row in rows:
        if row[0] is None:
            continue
        record = records.get(row[0])
        if record is None:
            record = records[row[0]] = _version(row)
        _add_child(record, *row[13:])
    return list(records.values())


def created_version_record(version: ModelVersion) -> VersionRecord:
    """A version `create_model_version` has just stored, from the objects in hand (no query): it
    has the tags it was created with (`tag_list`) and no aliases yet."""
    return VersionRecord(
        version.pk,
        version.registered_model.name,
        version.version,
        version.created_at,
        version.updated_at,
        version.user_id,
        version.current_stage,
        version.description,
        version.source,
        version.run_id,
        version.status,
        version.status_message,
        version.run_link,
        tags=sorted((tag.key, tag.value) for tag in version.tag_list),
    )


def _one_version(where: str, params: list) -> VersionRecord | None:
    """The version `where` selects (one at most), with its tags and aliases, in one query: its row
    beside each of them, sorted as `with_version_children` sorts them (one row of NULLs beside it
    when it has none)."""
    sql = _beside_children(
        f"SELECT {_version_columns()} FROM {table(ModelVersion)} v "
        f"JOIN {table(RegisteredModel)} m ON m.id = v.registered_model_id WHERE {where}",
        several=False,
    )
    rows = fetch_rows(sql, params)
    if not rows:
        return None
    record = _version(rows[0])
    for row in rows:
        _add_child(record, *row[13:])
    return record


def with_version_children(records: list[VersionRecord]) -> list[VersionRecord]:
    """`records` with their tags and aliases, in one query (per CHUNK records)."""
    by_pk = {record.pk: record for record in records}
    for chunk in _chunks(list(by_pk)):
        marks = ", ".join(["%s"] * len(chunk))
        for version_pk, kind, name, text in fetch_rows(
            f"{_version_children(f'IN ({marks})')} ORDER BY 1, 2, 3", [*chunk, *chunk]
        ):
            _add_child(by_pk[version_pk], kind, name, text)
    return records


def _beside_children(versions: str, *, several: bool) -> str:
    """The rows `versions` selects (`_version_columns`), each beside its tags and aliases (a
    version with none beside one row of NULLs): the version's 13 columns, then kind, name, text.
    Sorted by version, then as `with_version_children` sorts children."""
    if several:
        children, joined, order = (
            "IN (SELECT id FROM found)",
            "child.version_id = found.id",
            f"found.{quote('version')}, ",
        )
    else:  # one version at most: no join condition to evaluate
        children, joined, order = "= (SELECT id FROM found)", "TRUE", ""
    return (
        f"WITH found AS ({versions}) SELECT found.*, child.kind, child.name, child.text FROM found "
        f"LEFT JOIN ({_version_children(children)}) child ON {joined} ORDER BY {order}child.kind, child.name"
    )


def _version_children(condition: str) -> str:
    """The tags (kind 0: key and value) and aliases (kind 1: the alias) of the versions whose id
    meets `condition` ("IN (...)", "= ..."), as (version_id, kind, name, text) rows."""
    return (
        f"SELECT version_id, 0 AS kind, {quote('key')} AS name, {quote('value')} AS text "
        f"FROM {table(ModelVersionTag)} WHERE version_id {condition} UNION ALL "
        f"SELECT version_id, 1, alias, '' FROM {table(RegisteredModelAlias)} WHERE version_id {condition}"
    )


def _add_child(record: VersionRecord, kind: int | None, name: str, text: str) -> None:
    """A row of `_version_children` added to its version (kind None: a version with none)."""
    if kind == 0:
        record.tags.append((name, text))
    elif kind == 1:
        record.aliases.append(name)


# --- Registered models -------------------------------------------------------------------------


def model_by_name(workspace_pk: int, name: str) -> ModelRecord | None:
    """The model with its latest version per stage, tags and aliases, in one query: the model's row
    beside each of its parts (a tag, an alias, a latest version, a latest version's tag), or beside
    one row of NULLs when it has none. A part is (kind, name, text, version number), and a latest
    version's 13 columns follow it for kinds 2 and 3."""
    q = quote
    sql = (
        "WITH m AS (SELECT m.id, m.name, m.created_at, m.updated_at, m.user_id, m.description "
        f"FROM {table(RegisteredModel)} m WHERE m.workspace_id = %s AND m.name = %s), "
        f"lv AS (SELECT {_version_columns()} FROM {table(ModelVersion)} v "
        f"JOIN m ON m.id = v.registered_model_id WHERE {_is_latest()}), "
        f"part AS (SELECT CAST(NULL AS BIGINT) AS version_id, 0 AS kind, {q('key')} AS name, "
        f"{q('value')} AS text, CAST(NULL AS INTEGER) AS number "
        f"FROM {table(RegisteredModelTag)} WHERE model_id = (SELECT id FROM m) UNION ALL "
        f"SELECT NULL, 1, a.alias, '', v.{q('version')} FROM {table(RegisteredModelAlias)} a "
        f"JOIN {table(ModelVersion)} v ON v.id = a.version_id WHERE a.model_id = (SELECT id FROM m) UNION ALL "
        "SELECT id, 2, NULL, NULL, NULL FROM lv UNION ALL "
        f"SELECT version_id, 3, {q('key')}, {q('value')}, NULL FROM {table(ModelVersionTag)} "
        "WHERE version_id IN (SELECT id FROM lv)) "
        "SELECT m.*, part.kind, part.name, part.text, part.number, lv.* FROM m "
        f"LEFT JOIN part ON TRUE LEFT JOIN lv ON lv.id = part.version_id "
        f"ORDER BY part.kind, lv.{q('version')}, part.name"
    )
    rows = fetch_rows(sql, [workspace_pk, name])
    if not rows:
        return None
    first = rows[0]
    record = ModelRecord(*first[:2], aware(first[2]), aware(first[3]), *first[4:6])
    versions: dict[int, VersionRecord] = {}
    for row in rows:
        kind, part_name, text, number = row[6:10]
        if kind == 0:
            record.tags.append((part_name, text))
        elif kind == 1:
            record.aliases.append((part_name, number))
        elif kind == 2:
            versions[row[10]] = _version(row[10:])
        elif kind == 3:
            versions[row[10]].tags.append((part_name, text))
    record.latest_versions = list(versions.values())
    _give_latest_versions_their_aliases([record])
    return record


def created_model_record(model: RegisteredModel) -> ModelRecord:
    """A model `create_registered_model` has just stored, from the objects in hand (no query): it
    has the tags it was created with (`tag_list`), and no versions or aliases yet."""
    return ModelRecord(
        model.pk,
        model.name,
        model.created_at,
        model.updated_at,
        model.user_id,
        model.description,
        tags=sorted((tag.key, tag.value) for tag in model.tag_list),
    )


def search_models(query: Query, *, limit: int, offset: int) -> list[ModelRecord]:
    """A page of registered models a search selects, without their details (`with_model_details`)."""
    select_from = (
        "SELECT m.id, m.name, m.created_at, m.updated_at, m.user_id, m.description "
        f"FROM {table(RegisteredModel)} m"
    )
    rows = fetch_rows(*query.sql(select_from, limit=limit, offset=offset))
    return [
        ModelRecord(pk, name, aware(created), aware(updated), *rest)
        for pk, name, created, updated, *rest in rows
    ]


def with_model_details(records: list[ModelRecord]) -> list[ModelRecord]:
    """`records` with their latest version per stage, tags and aliases, in two queries (per CHUNK)."""
    by_pk = {record.pk: record for record in records}
    for chunk in _chunks(list(by_pk)):
        sql = (
            f"SELECT v.registered_model_id, {_version_columns()} FROM {table(ModelVersion)} v "
            f"JOIN {table(RegisteredModel)} m ON m.id = v.registered_model_id "
            f"WHERE v.registered_model_id IN ({', '.join(['%s'] * len(chunk))}) AND {_is_latest()} "
            f"ORDER BY v.registered_model_id, v.{quote('version')}"
        )
        for model_pk, *row in fetch_rows(sql, chunk):
            by_pk[model_pk].latest_versions.append(_version(row))
    return _with_model_children(records)


def _with_model_children(records: list[ModelRecord]) -> list[ModelRecord]:
    """Tags and aliases of the models, and tags of their latest versions, in one query per chunk."""
    by_pk = {record.pk: record for record in records}
    versions = {version.pk: version for record in records for version in record.latest_versions}
    model_pks, version_pks = list(by_pk), list(versions)
    for start in range(0, max(len(model_pks), len(version_pks)), CHUNK):
        models, latest = model_pks[start : start + CHUNK], version_pks[start : start + CHUNK]
        model_marks, version_marks = (
            ", ".join(["%s"] * len(models)) or "NULL",
            ", ".join(["%s"] * len(latest)) or "NULL",
        )
        sql = (
            f"SELECT model_id, 0, {quote('key')}, {quote('value')}, CAST(NULL AS INTEGER) "
            f"FROM {table(RegisteredModelTag)} WHERE model_id IN ({model_marks}) UNION ALL "
            f"SELECT a.model_id, 1, a.alias, '', v.{quote('version')} FROM {table(RegisteredModelAlias)} a "
            f"JOIN {table(ModelVersion)} v ON v.id = a.version_id WHERE a.model_id IN ({model_marks}) UNION ALL "
            f"SELECT version_id, 2, {quote('key')}, {quote('value')}, CAST(NULL AS INTEGER) "
            f"FROM {table(ModelVersionTag)} WHERE version_id IN ({version_marks}) "
            "ORDER BY 2, 1, 3"
        )
        for parent, kind, key, value, version in fetch_rows(sql, [*models, *models, *latest]):
            if kind == 0:
                by_pk[parent].tags.append((key, value))
            elif kind == 1:
                by_pk[parent].aliases.append((key, version))
            else:
                versions[parent].tags.append((key, value))
    _give_latest_versions_their_aliases(records)
    return records


def _give_latest_versions_their_aliases(records: list[ModelRecord]) -> None:
    for record in records:
        for version in record.latest_versions:
            version.aliases = [alias for alias, number in record.aliases if number == version.version]


# --- SQL pieces ----------------------------------------------------------------------------------


def _version_columns() -> str:
    q = quote
    return (
        f"v.id, m.name, v.{q('version')}, v.created_at, v.updated_at, v.user_id, v.current_stage, "
        f"v.description, v.{q('source')}, v.run_id, v.{q('status')}, v.status_message, v.run_link"
    )


def _is_latest() -> str:
    """`v` is the highest version of its model in its stage (an index seek on model_version_stage)."""
    return (
        f"v.{quote('version')} = (SELECT MAX(l.{quote('version')}) FROM {table(ModelVersion)} l "
        "WHERE l.registered_model_id = v.registered_model_id AND l.current_stage = v.current_stage)"
    )


def _version(row: tuple | list) -> VersionRecord:
    return VersionRecord(row[0], row[1], row[2], aware(row[3]), aware(row[4]), *row[5:13])


def _chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]
