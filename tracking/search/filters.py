"""The filter parser: comparisons joined by AND, and where the grammar allows, OR, NOT and
parentheses.

    metrics.acc > 0.9 AND params.model = 'cnn'                       (MLflow's own language)
    params.model = 'lr' OR (metrics.acc > 0.9 AND NOT tags.draft = 'yes')
    params.optimizer IN ('adam', 'sgd') AND metrics.epoch IN (10, 20)

NOT binds tightest, then AND, then OR, as in SQL. The parser returns plain Python values and never
builds SQL, so a value cannot become code; it bounds the comparisons and the nesting of one
filter, since each comparison becomes a join and each level a recursion.
"""

from __future__ import annotations

from tracking.errors import InvalidParameterValue
from tracking.search.conditions import (
    LIST_OPS,
    NULL_OPS,
    OP_ORDER,
    AllOf,
    AnyOf,
    Comparison,
    Condition,
    Not,
)
from tracking.search.grammars import Grammar, is_identifier, resolve
from tracking.search.tokens import Token, is_integer, number_value, tokenize, unquote

# Bounds of one search, far above what people and MLflow's UI ask for: every comparison of a
# metric, param or tag is a join, and databases fail (SQLite allows 64 tables in a join) long
# before a person would notice a limit.
MAX_FILTER_LENGTH = 20_000
MAX_COMPARISONS = 40
MAX_NESTING = 16


def parse_filter(filter_string: str | None, grammar: Grammar) -> list[Condition]:
    """The conditions a filter requires, all of them (an empty list for no filter)."""
    if filter_string is None:
        return []
    if not isinstance(filter_string, str):
        raise InvalidParameterValue(f"Invalid filter {filter_string!r}: expected a string.")
    if len(filter_string) > MAX_FILTER_LENGTH:
        raise InvalidParameterValue(
            f"The filter has {len(filter_string)} characters; at most {MAX_FILTER_LENGTH} are accepted."
        )
    parser = _FilterParser(tokenize(filter_string, "filter"), grammar)
    conditions = parser.disjunction()
    if (token := parser.peek()) is not None:  # only a ')' stops the outermost level early
        raise InvalidParameterValue(
            f"Invalid filter: unexpected '{token.text}' at position {token.pos}: no '(' opens it."
        )
    return conditions


class _FilterParser:
    """Recursive descent over the tokens of one filter, left to right."""

    __slots__ = ("comparisons", "depth", "grammar", "pos", "tokens")

    def __init__(self, tokens: list[Token], grammar: Grammar):
        self.tokens = tokens
        self.grammar = grammar
        self.pos = 0
        self.comparisons = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token | None:
        token = self.peek()
        self.pos += 1
        return token

    def take_word(self) -> str | None:
        token = self.take()
        return token.word if token is not None else None

    # -- boolean structure ------------------------------------------------------------------

    def disjunction(self) -> list[Condition]:
        """`a AND b OR c ...`: the conditions that must all hold (one AnyOf when there is an OR)."""
        first = self.conjunction()
        if not self.grammar.boolean or (token := self.peek()) is None or token.word != "OR":
            return first
        if not first:
            raise InvalidParameterValue(
                f"Invalid filter: expected a condition before OR at position {token.pos}."
            )
        alternatives: list[Condition] = []
        self._add(alternatives, _all_of(first), AnyOf)
        while (token := self.peek()) is not None and token.word == "OR":
            self.take()
            following = self.conjunction()
            if not following:
                raise InvalidParameterValue(
                    f"Invalid filter: expected a condition after OR at position {token.pos}."
                )
            self._add(alternatives, _all_of(following), AnyOf)
        return [AnyOf(tuple(alternatives))]

    def conjunction(self) -> list[Condition]:
        conditions: list[Condition] = []
        needs_and = False
        while (token := self.peek()) is not None:
            if token.word == "AND":
                # MLflow ignores stray ANDs ("x = 'a' AND", "AND AND ..."), and its own registry
                # client produces "<blank> AND tag...." for a blank filter, so tolerate them.
                self.take()
                needs_and = False
                continue
            if self.grammar.boolean and (token.word == "OR" or token.text == ")"):
                break
            if needs_and:
                if self.grammar.boolean:
                    raise InvalidParameterValue(
                        f"Invalid clause(s) in filter string: '{token.text}' at position {token.pos}. "
                        "Join conditions with AND or OR."
                    )
                raise InvalidParameterValue(
                    f"Invalid clause(s) in filter string: '{token.text}'. "
                    "Only comparisons joined by AND are supported."
                )
            self._add(conditions, self.unary(), AllOf)
            needs_and = True
        return conditions

    def unary(self) -> Condition:
        token = self.peek()
        assert token is not None  # the caller peeked it
        if self.grammar.boolean and token.word == "NOT":
            self.take()
            self._enter(token)
            following = self.peek()
            if following is None or following.word in ("AND", "OR") or following.text == ")":
                raise InvalidParameterValue(
                    f"Invalid filter: expected a condition after NOT at position {token.pos}."
                )
            operand = self.unary()
            self.depth -= 1
            return operand.condition if isinstance(operand, Not) else Not(operand)
        if self.grammar.boolean and token.text == "(":
            self.take()
            self._enter(token)
            inner = self.disjunction()
            closing = self.take()
            if closing is None:
                raise InvalidParameterValue(
                    f"Invalid filter: the '(' at position {token.pos} is never closed."
                )
            if not inner:
                raise InvalidParameterValue(
                    f"Invalid filter: the parentheses at position {token.pos} hold no condition."
                )
            self.depth -= 1
            return _all_of(inner)
        if self.comparisons == MAX_COMPARISONS:
            raise InvalidParameterValue(
                f"The filter has more than {MAX_COMPARISONS} comparisons; at most {MAX_COMPARISONS} are "
                "accepted in one search."
            )
        self.comparisons += 1
        return self.comparison()

    def _enter(self, token: Token) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise InvalidParameterValue(
                f"Invalid filter: parentheses and NOT nest more than {MAX_NESTING} deep "
                f"(at position {token.pos})."
            )

    @staticmethod
    def _add(conditions: list[Condition], condition: Condition, kind: type[AllOf] | type[AnyOf]) -> None:
        """Appends, flattening `(a AND b) AND c` and `(a OR b) OR c`."""
        if isinstance(condition, kind):
            conditions.extend(condition.conditions)
        else:
            conditions.append(condition)

    # -- comparisons ------------------------------------------------------------------------

    def comparison(self) -> Comparison:
        grammar = self.grammar
        subject = self.take()
        assert subject is not None  # the caller peeked it
        if not is_identifier(subject):
            hint = ""
            if subject.text == "(":
                hint = " Parentheses are only supported around IN lists."
            elif grammar.boolean:
                hint = f" (at position {subject.pos})"
            raise InvalidParameterValue(
                f"Invalid clause(s) in filter string: '{subject.text}'. "
                f'Expected a comparison such as "metrics.acc > 0.9".{hint}'
            )
        entity, key = resolve(subject, grammar, grammar.attributes)
        op = self.operator(subject)
        allowed = grammar.attribute_ops[key] if entity == "attribute" else grammar.entity_ops[entity]
        if op not in allowed:
            raise InvalidParameterValue(_bad_operator_message(op, entity, key, allowed, grammar))
        numeric = entity == "metric" or (entity == "attribute" and key in grammar.numeric_attributes)
        if op in NULL_OPS:
            return Comparison(entity, key, op, None)
        if op in LIST_OPS:
            return Comparison(entity, key, op, self.value_list(numeric=entity == "metric"))
        value = self.take()
        if value is None or value.word == "AND":
            raise InvalidParameterValue(
                f"Invalid comparison clause '{subject.text} {op}': expected a value after '{op}'."
            )
        if numeric:
            return Comparison(entity, key, op, self.numeric_value(value, entity, key))
        return Comparison(entity, key, op, self.string_value(value, entity))

    def operator(self, subject: Token) -> str:
        token = self.take()
        if token is None or token.word == "AND":
            raise InvalidParameterValue(
                f"Invalid clause(s) in filter string: '{subject.text}'. Expected a comparator and a value "
                "after it."
            )
        if token.kind == "op":
            if token.text in ("==", "<>"):
                raise InvalidParameterValue(f"Invalid comparator '{token.text}'. Use '=' or '!=' instead.")
            return token.text
        word = token.word
        if word in ("LIKE", "ILIKE", "IN"):
            return word
        if word == "NOT" and self.take_word() == "IN":
            return "NOT IN"
        if word == "IS":
            following = self.take_word()
            if following == "NULL":
                return "IS NULL"
            if following == "NOT" and self.take_word() == "NULL":
                return "IS NOT NULL"
            raise InvalidParameterValue(
                f"Invalid comparison clause for '{subject.text}': expected IS NULL or IS NOT NULL."
            )
        raise InvalidParameterValue(
            f"Invalid comparison clause for '{subject.text}': expected a comparator, found '{token.text}'."
        )

    def value_list(self, *, numeric: bool) -> tuple:
        """`( 'a', "b" [,] )`, or `(1, 2.5)` for a metric: a non-empty list (a trailing comma is allowed)."""
        kind = "numbers" if numeric else "quoted string values"
        example = "(1, 2)" if numeric else "('a', 'b')"
        if (token := self.take()) is None or token.text != "(":
            raise InvalidParameterValue(
                f"Expected a parenthesised list of {kind} after IN / NOT IN, "
                f"e.g. {example}; found {token.text if token else 'nothing'}."
            )
        items: list = []
        while True:
            token = self.take()
            if token is None:
                raise InvalidParameterValue(
                    "While parsing a list in the query, expected a closing ')' but reached the end of the filter."
                )
            if token.text == ")":
                break
            if numeric and token.kind == "number":
                items.append(float(token.text))
            elif not numeric and token.kind == "string":
                items.append(unquote(token.text))
            elif not numeric and token.kind == "number" and self.grammar.numbers_as_strings:
                items.append(token.text)
            else:
                raise InvalidParameterValue(
                    f"While parsing a list in the query, expected a non-empty list of {kind}, "
                    f"but found {token.text}."
                )
            token = self.take()
            if token is not None and token.text == ")":
                break
            if token is None or token.text != ",":
                raise InvalidParameterValue(
                    "While parsing a list in the query, expected ',' or ')' after a value"
                    + (f" but found {token.text}." if token else " but reached the end of the filter.")
                )
        if not items:
            raise InvalidParameterValue(
                "While parsing a list in the query, expected a non-empty list of "
                f"{'numbers' if numeric else 'string values'}, but got empty list"
            )
        return tuple(items)

    def numeric_value(self, token: Token, entity: str, key: str) -> int | float:
        grammar = self.grammar
        if entity == "metric":
            if token.kind != "number":
                raise InvalidParameterValue(f"Expected numeric value type for metric. Found {token.text}")
            return float(token.text)
        text = token.text
        if token.kind == "string" and grammar.quoted_integers:
            text = unquote(text).strip()
            if not is_integer(text):
                raise InvalidParameterValue(f"Invalid value for numeric attribute '{key}': {token.text}")
        elif token.kind != "number":
            raise InvalidParameterValue(
                f"Expected numeric value type for numeric attribute: {key}. Found {token.text}"
            )
        if grammar.integer_attributes and not is_integer(text):
            raise InvalidParameterValue(f"Invalid value for numeric attribute '{key}': {token.text}")
        return number_value(text)

    def string_value(self, token: Token, entity: str) -> str:
        if token.kind == "string":
            return unquote(token.text)
        if token.kind == "number" and self.grammar.numbers_as_strings:
            return token.text
        if token.kind == "path":
            raise InvalidParameterValue(
                "Parameter value is either not quoted or unidentified quote types used for string value "
                f"{token.text}. Use either single or double quotes."
            )
        raise InvalidParameterValue(
            f"Expected a quoted string value for {entity} (e.g. 'my-value'). Got value {token.text}"
        )


def _all_of(conditions: list[Condition]) -> Condition:
    return conditions[0] if len(conditions) == 1 else AllOf(tuple(conditions))


def _bad_operator_message(op: str, entity: str, key: str, allowed: frozenset[str], grammar: Grammar) -> str:
    if op in LIST_OPS and entity == "attribute":
        supported = sorted(name for name, ops in grammar.attribute_ops.items() if op in ops)
        return f"Only {supported} attributes support comparison with a list of quoted string values."
    if op in NULL_OPS:
        supported = [name for name, ops in grammar.entity_ops.items() if op in ops]
        if not supported:
            return "IS NULL / IS NOT NULL is not supported in this search."
        return f"IS NULL / IS NOT NULL is only supported for {supported}, not for {entity} '{key}'"
    expected = [candidate for candidate in OP_ORDER if candidate in allowed]
    return f"Invalid comparator '{op}' for {entity} '{key}', not one of {expected}"
