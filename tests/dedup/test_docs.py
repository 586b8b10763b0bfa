"""The docstring examples of sftdata.dedup run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "sftdata.dedup._text",
    "sftdata.dedup._hashing",
    "sftdata.dedup._minhash",
    "sftdata.dedup._lsh",
    "sftdata.dedup._index",
    "sftdata.dedup._near",
    "sftdata.dedup._exact",
    "sftdata.dedup._decontam",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    """Every example in the module's docstrings produces the documented output."""
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
