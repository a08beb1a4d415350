"""The order_by parser: an identifier with an optional direction, ``metrics.`val loss` DESC``."""

from __future__ import annotations

from tracking.errors import InvalidParameterValue
from tracking.search.conditions import OrderKey
from tracking.search.grammars import Grammar, is_identifier, resolve
from tracking.search.tokens import tokenize

# Each ordered key of a metric, param or tag is a join; too many ordering terms have crashed SQLite.
MAX_ORDER_BY_KEYS = 10


def parse_order_by(order_by: list[str] | None, grammar: Grammar) -> list[OrderKey]:
    if order_by is None:
        return []
    if isinstance(order_by, str):
        # A bare string would otherwise be read one character at a time.
        raise InvalidParameterValue(f"Invalid order_by {order_by!r}: expected a list of strings.")
    if len(order_by) > MAX_ORDER_BY_KEYS:
        raise InvalidParameterValue(
            f"`order_by` has {len(order_by)} keys; at most {MAX_ORDER_BY_KEYS} are accepted in one search."
        )
    keys: list[OrderKey] = []
    seen: set[tuple[str, str]] = set()
    for clause in order_by:
        key = _parse_clause(clause, grammar)
        if (key.entity, key.key) in seen:
            raise InvalidParameterValue(f"`order_by` contains duplicate fields: {list(order_by)}")
        seen.add((key.entity, key.key))
        keys.append(key)
    return keys


def _parse_clause(clause: str, grammar: Grammar) -> OrderKey:
    if not isinstance(clause, str):
        raise InvalidParameterValue(f"Invalid order_by clause {clause!r}: expected a string.")
    tokens = tokenize(clause, "order_by clause")
    unparsable = f"Invalid order_by clause '{clause}'. Could not be parsed."
    if not tokens or len(tokens) > 2:
        raise InvalidParameterValue(unparsable)
    subject = tokens[0]
    if not is_identifier(subject):
        raise InvalidParameterValue(unparsable)
    ascending = True
    if len(tokens) == 2:
        direction = tokens[1].word
        if direction not in ("ASC", "DESC"):
            raise InvalidParameterValue(f"Invalid ordering key in order_by clause '{clause}'.")
        ascending = direction == "ASC"
    entity, key = resolve(subject, grammar, grammar.order_attributes)
    if entity not in grammar.order_entities:
        raise InvalidParameterValue(f"Invalid order_by entity '{entity}' in order_by clause '{clause}'.")
    return OrderKey(entity, key, ascending)
