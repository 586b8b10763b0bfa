"""The examples in the parsers' docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "_common",
    "_oasst1",
    "_simple",
    "_sharegpt",
    "_xtuner",
    "_preference",
    "_preference_sources",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    module = importlib.import_module(f"sftdata.parse.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
