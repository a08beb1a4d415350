"""Choosing the interpreter an environment asks for, among those on the machine."""

from __future__ import annotations

import sys

import pytest

from tracking.jobs.pythons import Interpreter, available_pythons, reachable_by_others, select_python
from tracking.jobs.specs import SpecError

HERE = [
    Interpreter("3.12.1", "/opt/py312/bin/python3.12", "/opt/py312"),
    Interpreter("3.11.7", "/opt/py311/bin/python3.11", "/opt/py311"),
    Interpreter("3.11.2", "/usr/bin/python3.11", "/usr"),
    Interpreter("3.10.13", "/opt/py310/bin/python3.10", "/opt/py310"),
]


@pytest.mark.parametrize(
    ("asked", "chosen"),
    [
        ("3.10", "3.10.13"),
        ("3.11", "3.11.7"),  # the newest of that minor version
        ("3.11.2", "3.11.2"),  # the exact release when present
        ("3.11.5", "3.11.7"),  # else the same minor version
        (">=3.10,<3.12", "3.11.7"),
        ("", "3.11.7"),  # the worker's own minor version by default
    ],
)
def test_it_chooses_the_version_asked_for(asked, chosen):
    assert select_python(asked, HERE, default="3.11").version == chosen


def test_a_version_not_present_is_refused_naming_the_versions_there_are():
    with pytest.raises(SpecError) as refused:
        select_python("3.8.15", HERE)

    assert str(refused.value) == (
        "The environment asks for Python 3.8.15, which this worker does not have "
        "(available: 3.10.13, 3.11.2, 3.11.7, 3.12.1); it does not download interpreters."
    )


def test_interpreters_the_sandbox_cannot_run_are_left_out():
    chosen = select_python("3.11", HERE, usable=lambda interpreter: interpreter.prefix == "/usr")

    assert chosen.executable == "/usr/bin/python3.11"
    with pytest.raises(SpecError, match=r"available: 3\.11\.2\)"):
        select_python("3.12", HERE, usable=lambda interpreter: interpreter.prefix == "/usr")


def test_a_bad_version_is_refused():
    with pytest.raises(SpecError, match="'three' is not a Python version"):
        select_python("three", HERE)


def test_the_machine_s_interpreters_are_found_with_their_real_executables():
    found = available_pythons()
    own = f"{sys.version_info[0]}.{sys.version_info[1]}.{sys.version_info[2]}"

    assert own in {interpreter.version for interpreter in found}
    assert all("/shims/" not in interpreter.executable for interpreter in found)
    assert reachable_by_others(Interpreter("3", "/usr/bin/env", "/usr"))
