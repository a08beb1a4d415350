"""clean_path: the one gate every artifact path goes through."""

from __future__ import annotations

import unicodedata

import pytest

from tracking.artifacts.paths import MAX_PATH_LENGTH, clean_path
from tracking.errors import InvalidParameterValue

GOOD_PATHS = [
    ("model.pkl", "model.pkl"),
    ("a/b/c.txt", "a/b/c.txt"),
    ("a/b.c/d e.txt", "a/b.c/d e.txt"),
    ("résumé.pdf", "résumé.pdf"),
    ("données/日本語.txt", "données/日本語.txt"),
    (".hidden", ".hidden"),
    ("a/.hidden/..dots", "a/.hidden/..dots"),
    ("a/...", "a/..."),
    ("file..txt", "file..txt"),
    ("./a/./b", "a/b"),
    ("a/.", "a"),
    ("folder/", "folder"),
    ("100%.txt", "100%.txt"),
    ("a%20b.txt", "a%20b.txt"),
    ("a%2fb", "a%2fb"),
    ("time 12:30.txt", "time 12:30.txt"),
    ("a/" * 511 + "b", "a/" * 511 + "b"),
]

ESCAPING_PATHS = [
    "../x",
    "../../etc/passwd",
    "a/../../etc/passwd",
    "a/..",
    "..",
    "%2e%2e/x",
    "%2E%2e/x",
    "%2E%2E%2Fetc%2Fpasswd",
    "..%2fetc",
    "a/%2e%2e",
    "/etc/passwd",
    "//server/share",
    "/",
    "%2fetc/passwd",
    "C:\\Windows",
    "C:/Windows",
    "c:evil",
    "a\\b",
    "..\\..\\x",
    "a%5cb",
    "a%5C..%5Cb",
    "a\x00b",
    "a%00b",
    "a\nb",
    "a\rb",
    "tab\there",
    "del\x7f",
    "c1\x85",
    "surrogate\udcff",
]

BAD_PATHS = [
    ("a//b", "empty segments ('//') are not allowed."),
    ("a/b//", "empty segments ('//') are not allowed."),
    ("x" * 256, "a name is longer than 255 bytes."),
    ("é" * 128, "a name is longer than 255 bytes."),
    ("a/" * 512 + "b", f"longer than {MAX_PATH_LENGTH} characters (1025)."),
]


@pytest.mark.parametrize(("path", "expected"), GOOD_PATHS)
def test_it_accepts_and_normalises_ordinary_names(path, expected):
    assert clean_path(path) == expected


@pytest.mark.parametrize(("path", "reason"), BAD_PATHS)
def test_it_refuses_each_path_trick_with_a_specific_message(path, reason):
    with pytest.raises(InvalidParameterValue) as caught:
        clean_path(path)
    assert caught.value.message.endswith(reason)
    assert caught.value.message.startswith("Invalid path ")


@pytest.mark.parametrize("path", ESCAPING_PATHS)
def test_a_path_that_could_leave_the_root_is_refused_in_mlflow_s_exact_words(path):
    """Traversal, absolute paths, drive letters, backslashes and control characters, as given or
    once percent-decoded: MLflow's server says "Invalid path" and nothing more; so do we."""
    for options in ({}, {"file": True}, {"allow_empty": True}):
        with pytest.raises(InvalidParameterValue) as caught:
            clean_path(path, **options)
        assert caught.value.message == "Invalid path"


def test_exactly_unicode_s_control_characters_and_surrogates_are_refused_inside_a_name():
    """Every code point of categories Cc and Cs, and no other, makes a name "Invalid path"."""
    refused = set()
    for code in range(0x110000):
        if chr(code) in "/\\":
            continue
        try:
            clean_path(f"1{chr(code)}b")  # not "a": "a:b" would be a drive letter
        except InvalidParameterValue:
            refused.add(code)
    assert refused == {code for code in range(0x110000) if unicodedata.category(chr(code)) in ("Cc", "Cs")}


@pytest.mark.parametrize(("path", "reason"), BAD_PATHS)
def test_the_same_tricks_are_refused_for_uploads_and_listings(path, reason):
    for options in ({"file": True}, {"allow_empty": True}):
        with pytest.raises(InvalidParameterValue):
            clean_path(path, **options)


def test_the_message_quotes_the_path_as_given():
    with pytest.raises(InvalidParameterValue) as caught:
        clean_path("a//b")
    assert caught.value.message == "Invalid path 'a//b': empty segments ('//') are not allowed."


@pytest.mark.parametrize("path", ["", ".", "./"])
def test_the_root_is_refused_unless_the_caller_allows_it(path):
    with pytest.raises(InvalidParameterValue, match="must not be empty"):
        clean_path(path)
    assert clean_path(path, allow_empty=True) == ""


@pytest.mark.parametrize(("path", "reason"), [("a/b/", "must not end with '/'"), ("", "must name a file")])
def test_a_file_path_must_name_a_file(path, reason):
    with pytest.raises(InvalidParameterValue, match=reason):
        clean_path(path, file=True)
    with pytest.raises(InvalidParameterValue, match=reason):
        clean_path(path, file=True, allow_empty=True)


def test_a_file_path_is_otherwise_cleaned_like_any_other():
    assert clean_path("./a/./b.txt", file=True) == "a/b.txt"


def test_a_path_of_exactly_the_limit_is_accepted():
    path = "a/" * 511 + "bc"
    assert len(path) == MAX_PATH_LENGTH
    assert clean_path(path) == path


def test_it_refuses_what_is_not_a_string():
    with pytest.raises(InvalidParameterValue, match="expected a string"):
        clean_path(b"a.txt")  # type: ignore[arg-type]


def test_a_very_long_bad_path_is_shortened_in_the_message():
    with pytest.raises(InvalidParameterValue) as caught:
        clean_path("../" + "x" * 5000)
    assert len(caught.value.message) < 300
