"""Tokenizer for MLflow search filters and order_by clauses.

Turns a filter such as ``metrics.`my metric` > 0.5 AND tags.team = 'ml'`` into a flat list of
`Token`s. It knows nothing about which identifiers or comparators are valid; `grammar` decides
that. It is a single pre-compiled regular expression applied left to right, because a filter is
tokenized on every search request.

Token kinds:

- ``path``: an identifier, possibly dotted (``metrics.acc``, ``tags.`a.b` ``, ``Created``). Keywords
  such as ``AND`` are paths too; `Token.word` tells them apart.
- ``string``: a single- or double-quoted literal.
- ``number``: an integer or decimal literal, optionally signed and with an exponent.
- ``op``: one of ``= != <> == < <= > >=`` (``<>`` and ``==`` are lexed only to be rejected clearly).
- ``punct``: ``(``, ``)`` or ``,``.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from tracking.errors import InvalidParameterValue

# Inside a quoted literal the delimiter is escaped either by doubling it (SQL) or by a backslash
# (what MLflow users type, since sqlparse lexes it that way); `\\` escapes a backslash.
_SINGLE = r"'(?:[^'\\]|\\[\s\S]|'')*'"
_DOUBLE = r'"(?:[^"\\]|\\[\s\S]|"")*"'
_BACKTICK = r"`(?:[^`\\]|\\[\s\S]|``)*`"

# The first part of a path must look like a name, so that `1e3` stays a number; later parts may
# be any word (`metrics.2023`) or quoted in any style (`metrics."a b"`, as MLflow accepts).
_FIRST_PART = rf"[^\W\d]\w*|{_BACKTICK}"
_NEXT_PART = rf"\w+|{_BACKTICK}|{_DOUBLE}|{_SINGLE}"
_PATH = rf"(?:{_FIRST_PART})(?:\.(?:{_NEXT_PART}))*"
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w.])"

_TOKEN_RE = re.compile(
    rf"\s*(?:(?P<path>{_PATH})|(?P<number>{_NUMBER})|(?P<string>{_SINGLE}|{_DOUBLE})"
    r"|(?P<op><=|>=|!=|<>|==|=|<|>)|(?P<punct>[(),]))"
)
_PART_RE = re.compile(rf"{_BACKTICK}|{_DOUBLE}|{_SINGLE}|\w+")
_INTEGER_RE = re.compile(r"[-+]?\d+")
_UNESCAPE_RE = {quote: re.compile(rf"\\([{quote}\\])|{quote}{quote}") for quote in "'\"`"}


class Token(NamedTuple):
    kind: str  # "path" | "string" | "number" | "op" | "punct"
    text: str  # the source text, quotes included
    pos: int  # offset in the source, for error messages
    word: str | None  # upper-cased text of a plain one-part path, to match keywords like AND


def tokenize(source: str, context: str) -> list[Token]:
    """Split `source` into tokens; `context` names the input in error messages."""
    tokens: list[Token] = []
    pos, end = 0, len(source)
    match = _TOKEN_RE.match
    while pos < end:
        found = match(source, pos)
        if found is None:
            if source[pos:].isspace():
                break
            raise _lex_error(source, pos, context)
        kind = found.lastgroup
        assert kind is not None  # every alternative of _TOKEN_RE is a named group
        text = found.group(kind)
        word = text.upper() if kind == "path" and text.isidentifier() else None
        tokens.append(Token(kind, text, found.start(kind), word))
        pos = found.end()
    return tokens


def _lex_error(source: str, pos: int, context: str) -> InvalidParameterValue:
    rest = source[pos:].lstrip()
    start = len(source) - len(rest)
    if rest[0] == "." and rest[1:2] in ("'", '"', "`"):
        # A path stops before a quoted key it cannot close: report the quote, not the dot.
        rest, start = rest[1:], start + 1
    if rest[0] in "'\"`":
        problem = f"unterminated quoted text starting at position {start}"
    elif rest[0].isdigit() or (rest[0] in "+-." and rest[1:2].isdigit()):
        problem = f"malformed number at position {start}"
    else:
        problem = f"unexpected character {rest[0]!r} at position {start}"
    return InvalidParameterValue(
        f"Error on parsing {context} '{source}': {problem}. "
        "Quote string values with ' or \" and keys containing special characters with `."
    )


def is_quoted(text: str) -> bool:
    return text[:1] in ("'", '"', "`")


def unquote(text: str) -> str:
    """The value of a quoted literal or identifier part, with escapes resolved."""
    quote = text[0]
    return _UNESCAPE_RE[quote].sub(lambda m: m.group(1) or quote, text[1:-1])


def path_parts(text: str) -> list[str]:
    """The raw parts of a `path` token, quotes kept (so callers can tell what was quoted)."""
    return _PART_RE.findall(text)


def number_value(text: str) -> int | float:
    """An int for integer literals (timestamps stay exact), a float otherwise."""
    return int(text) if _INTEGER_RE.fullmatch(text) else float(text)


def is_integer(text: str) -> bool:
    return _INTEGER_RE.fullmatch(text) is not None
