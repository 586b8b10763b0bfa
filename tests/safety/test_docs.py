"""The examples in the safety docstrings run and print what they show."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sftdata._texts",
    "sftdata.safety",
    "sftdata.safety._apply",
    "sftdata.safety._blocklist",
    "sftdata.safety._classifier",
    "sftdata.safety._eval",
    "sftdata.safety._filter",
    "sftdata.safety._numbers",
    "sftdata.safety._pii",
    "sftdata.safety._secrets",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    """Every docstring example in the module passes (so the docs stay true)."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
