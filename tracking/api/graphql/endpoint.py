"""POST /graphql (and /ws/<workspace>/graphql): checked by the router like any RPC, then parsed,
bounded and executed here.

A query is refused before it runs when it is larger than MAX_QUERY_CHARS, has more than
MAX_TOKENS tokens, nests deeper than MAX_DEPTH, selects more than MAX_SELECTIONS fields, or has
more than MAX_ROOT_FIELDS root fields or MAX_ALIASES aliases in one selection (fragments counted
where they are spread, and a fragment that spreads itself stopping the count). Whatever goes
wrong with a query is answered in GraphQL's `errors` (strings, as MLflow's server sends them),
never as a 5xx; authentication and the workspace's roles are the router's, before any of it.

A well-formed query over a limit is answered 200 with `data` null and the reason in `errors`, in
MLflow's words (its server answers its own depth, selection, root-field and alias limits so, and
its UI and tests read them there); a request that is not a query at all (no JSON object, no
`query`, a syntax error, more tokens than the parser reads) is a 400.
"""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpResponse
from graphql import GraphQLError, parse
from graphql.language.ast import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)

from tracking.errors import MlflowError

from ..protocol import read_json_body
from ..responses import json_response
from ..router import ApiCall, extra_route, rpc

logger = logging.getLogger(__name__)

extra_route("POST", "/graphql", None, "mlflow.ui.GraphQL")

MAX_QUERY_CHARS = 20_000
MAX_TOKENS = 5_000
MAX_DEPTH = 10
MAX_SELECTIONS = 1_000
MAX_ROOT_FIELDS = 10
MAX_ALIASES = 10


class QueryOverLimit(GraphQLError):
    """A well-formed query this server will not run for its size: answered 200, as MLflow does."""


@rpc("mlflow.ui.GraphQL")
def graphql(call: ApiCall) -> HttpResponse:
    try:
        query, variables, operation_name = _read(call)
        document = parse(query, max_tokens=MAX_TOKENS)
        _check_size(document)
    except QueryOverLimit as error:
        return _answer(None, [error.message])
    except (MlflowError, GraphQLError) as error:
        return _answer(None, [error.message], status=400)
    # graphene's schema takes 70 ms to import: paid by the first query, not by every server start.
    from .schema import SCHEMA, Context

    result = SCHEMA.execute(
        query,
        variables=variables,
        operation_name=operation_name,
        context_value=Context(call),
        middleware=[_hide_internal_errors],
    )
    errors = [error.message for error in result.errors] if result.errors else None
    return _answer(result.data, errors)


def _answer(data: Any, errors: list[str] | None, status: int = 200) -> HttpResponse:
    return json_response({"data": data, "errors": errors}, status)


def _read(call: ApiCall) -> tuple[str, dict | None, str | None]:
    body = read_json_body(call.request)
    query, variables, operation_name = body.get("query"), body.get("variables"), body.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise GraphQLError("The request must carry a GraphQL query in 'query'.")
    if len(query) > MAX_QUERY_CHARS:
        raise QueryOverLimit(
            f"The query has {len(query)} characters; this server runs at most {MAX_QUERY_CHARS}."
        )
    if variables is not None and not isinstance(variables, dict):
        raise GraphQLError("'variables' must be an object.")
    if operation_name is not None and not isinstance(operation_name, str):
        raise GraphQLError("'operationName' must be a string.")
    return query, variables, operation_name


def _check_size(document: DocumentNode) -> None:
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    selections = 0
    for operation in document.definitions:
        if not isinstance(operation, OperationDefinitionNode):
            continue
        roots = _fields(operation.selection_set, fragments)
        if len(roots) > MAX_ROOT_FIELDS:
            raise QueryOverLimit(
                f"GraphQL queries should have at most {MAX_ROOT_FIELDS} root fields, "
                f"got {len(roots)} root fields."
            )
        pending = [(roots, 1)]
        while pending:
            fields, depth = pending.pop()
            if depth > MAX_DEPTH:
                raise QueryOverLimit(f"Query exceeds maximum depth of {MAX_DEPTH}")
            aliases = sum(1 for node in fields if node.alias is not None)
            if aliases > MAX_ALIASES:
                raise QueryOverLimit(
                    f"GraphQL queries should have at most {MAX_ALIASES} aliases, got {aliases} aliases."
                )
            selections += len(fields)
            if selections > MAX_SELECTIONS:
                raise QueryOverLimit(f"Query exceeds maximum total selections of {MAX_SELECTIONS}")
            pending.extend(
                (_fields(node.selection_set, fragments), depth + 1) for node in fields if node.selection_set
            )


def _fields(
    selection_set: SelectionSetNode | None, fragments: dict[str, FragmentDefinitionNode]
) -> list[FieldNode]:
    """The fields a selection set selects at its own level, through fragments (each spread once)."""
    fields: list[FieldNode] = []
    spread: set[str] = set()
    pending = list(selection_set.selections) if selection_set else []
    while pending:
        node = pending.pop()
        if isinstance(node, FieldNode):
            fields.append(node)
        elif isinstance(node, InlineFragmentNode):
            pending.extend(node.selection_set.selections)
        elif isinstance(node, FragmentSpreadNode) and node.name.value not in spread:
            spread.add(node.name.value)
            fragment = fragments.get(node.name.value)
            if fragment is not None:
                pending.extend(fragment.selection_set.selections)
    return fields


def _hide_internal_errors(next_resolver, root, info, **args):
    """MLflow's errors reach the client as they are; anything else is logged, not shown."""
    try:
        return next_resolver(root, info, **args)
    except MlflowError as error:
        raise GraphQLError(error.message) from None
    except GraphQLError:
        raise
    except Exception:
        logger.exception("GraphQL field %s failed", info.field_name)
        raise GraphQLError("Internal error while resolving this field.") from None
