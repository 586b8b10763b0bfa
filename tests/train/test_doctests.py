"""The docstring examples of sfttrain run and show what they say."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["sfttrain", "sfttrain.config"])
def test_docstring_examples(name: str) -> None:
    """Property: every example in the module's docstrings gives the output it shows."""
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.slow
def test_tiny_llama_docstring_example() -> None:
    """Property: the tiny_llama example builds and saves a model folder."""
    module = importlib.import_module("sfttrain._model")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
